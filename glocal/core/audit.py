from __future__ import annotations

from typing import Any

from glocal.core.models import AuditEvent
from glocal.core.scope import get_scope


def record(
    *,
    action: str,
    summary: str,
    entity_id: int | None = None,
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the active scope (on ``entity_id``, default: the scope's node)."""
    scope = get_scope()
    return AuditEvent.unscoped.create(
        organisation_id=scope.organisation_id,
        entity_id=entity_id or scope.entity_id,
        actor_id=actor_id if actor_id is not None else scope.user_id,
        action=action,
        summary=summary[:300],
        data=data or {},
    )
