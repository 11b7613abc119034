"""The platform's own mails about campaigns (proofs, change requests, reminders) and who gets them.
Unscoped on purpose: a store must reach the people above it, and reminders reach a store's managers
whatever the acting scope (emails only)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives

from glocal.core.roles import HQ_ROLES, Role
from glocal.network.models import Entity, Membership

from ..models import ApprovalStep, Campaign

log = logging.getLogger(__name__)


def approvers(campaign: Campaign, level: str) -> list[Any]:
    """Users who may decide a ``level`` step for the campaign's store: regional managers above it, or
    HQ. Unscoped on purpose: a store submitting must reach people above its own scope (emails only)."""
    ancestors = [int(p) for p in campaign.entity.path.split("/") if p]
    roles = [Role.REGIONAL_MANAGER] if level == ApprovalStep.Level.REGIONAL else list(HQ_ROLES)
    memberships = Membership.unscoped.filter(
        organisation_id=campaign.organisation_id, entity_id__in=ancestors, role__in=roles, is_active=True
    ).select_related("user")
    return [m.user for m in memberships if m.user.is_active]


def _store_managers(entity: Entity) -> list[Any]:
    # Unscoped: reminders and change requests reach the store's managers whatever the acting scope.
    return [
        m.user
        for m in Membership.unscoped.filter(
            organisation_id=entity.organisation_id, entity=entity, role=Role.LOCAL_MANAGER, is_active=True
        ).select_related("user")
        if m.user.is_active
    ]


def _send_mail(subject: str, body: str, to: list[str], html: str = "") -> list[str]:
    to = sorted({a for a in to if a})
    if not to:
        return []
    message = EmailMultiAlternatives(subject, body, django_settings.DEFAULT_FROM_EMAIL, to)
    if html:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:  # the proof stays on the page; a mail outage must not block the approval
        log.exception("campaign mail to %s failed", to)
        return []
    return to
