"""Erasure reaches the outbox: when a person is erased (``audience.services.contact_erase``), their
outbox copies lose every personal datum in the same transaction.

- ``Message``: the address and the text sent are blanked, the last error (a provider's diagnostic may
  quote the address) too; a message still waiting is skipped (it will never go). The row stays, without
  its contact, so that a campaign's counts do not change.
- ``MessageEvent``: only the detail keys that cannot hold personal data are kept (codes, flags,
  timestamps, idempotency keys); error texts, inbound texts and anything else go.
- ``Exclusion``: the contact link and the free-text detail go; the reason stays (counts).
- The demo's captured copy (``GLOCAL_MAILBOX_DIR/<stable id>.eml``) is deleted once the erasure commits.

Registered in ``audience.services.ERASURE_HOOKS`` by ``DeliveryConfig.ready`` (audience does not import
delivery).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from glocal.audience.services import ErasedPerson

from .models import Exclusion, Message, MessageEvent

# Event detail keys that never hold personal data: codes and flags the reports count, timestamps,
# worker names and the providers' event ids (kept for idempotency).
SAFE_DETAIL_KEYS = frozenset(
    {"code", "enhanced", "action", "suppressed", "operator_alert", "retry_at", "worker", "event_id", "source"}
)
ERASED = "erased"


def _safe(detail: Any) -> dict[str, Any]:
    if not isinstance(detail, dict):
        return {}
    return {
        key: value
        for key, value in detail.items()
        if key in SAFE_DETAIL_KEYS
        and (value is None or isinstance(value, bool | int | float | str))
        and not (isinstance(value, str) and "@" in value)
    }


def erase_outbox(person: ErasedPerson) -> None:
    """``audience.services.ERASURE_HOOKS`` hook. Token-free, organisation-wide by nature (the person's
    messages, whichever store sent them): unscoped, limited to the person's organisation and contact."""
    messages = Message.unscoped.filter(organisation_id=person.organisation_id, contact_id=person.contact_id)
    rows = list(messages.values_list("pk", "stable_id", "channel"))
    if rows:
        ids = [pk for pk, _stable, _channel in rows]
        Message.unscoped.filter(pk__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.SKIPPED, last_error=ERASED
        )
        Message.unscoped.filter(pk__in=ids).exclude(last_error=ERASED).update(last_error="")
        Message.unscoped.filter(pk__in=ids).update(to_address="", body="", contact=None)
        events = list(MessageEvent.unscoped.filter(message_id__in=ids).only("pk", "detail"))
        for event in events:
            event.detail = _safe(event.detail)
        MessageEvent.unscoped.bulk_update(events, ["detail"], batch_size=500)
        captured = [stable for _pk, stable, channel in rows if channel == "email"]
        transaction.on_commit(lambda: _delete_captured(captured))
    Exclusion.unscoped.filter(organisation_id=person.organisation_id, contact_id=person.contact_id).update(
        contact=None, detail=""
    )


def _delete_captured(stable_ids: list[str]) -> None:
    """The demo mail catcher's copies (never present in production)."""
    directory = Path(settings.GLOCAL_MAILBOX_DIR)
    for stable_id in stable_ids:
        (directory / f"{stable_id}.eml").unlink(missing_ok=True)


def register() -> None:
    """Called by ``DeliveryConfig.ready``."""
    from glocal.audience import services as audience_services

    if erase_outbox not in audience_services.ERASURE_HOOKS:
        audience_services.ERASURE_HOOKS.append(erase_outbox)
