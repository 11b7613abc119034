"""Reporting's only page write: HQ's attribution settings (the rollups are the job's)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from glocal.core import audit
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope

from .models import ReportingSettings


def settings_save(*, form: Any) -> ReportingSettings:
    """Save HQ's attribution window and touch model. Applies to purchases read from now on
    (``glocal rollup --rebuild`` applies it to the past)."""
    scope = get_scope()
    if not role_allows(scope.role, Action.MARKETING_RULES):
        raise PermissionDenied
    with transaction.atomic():
        obj: ReportingSettings = form.save(commit=False)
        obj.organisation_id = scope.organisation_id
        obj.save()
        audit.record(
            action="reporting.settings",
            summary=f"attribution: {obj.window_days} days, {obj.touch} touch",
            data={"window_days": obj.window_days, "touch": obj.touch},
        )
    return obj
