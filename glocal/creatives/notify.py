"""The platform's mail to stores about their templates: a new version could not keep some of their
content. Sent after the publication commits, to each store's managers in their own language.

Unscoped on purpose: it runs after the transaction (no scope is guaranteed to be active then) and reads
only the rows the publication named (its version, the stores it listed), within that version's
organisation. (Creatives sits below campaigns: it cannot use campaigns' mail helper, so it sends the
same way: Django's mail, a failure logged and never raised.)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from glocal.core.roles import Role
from glocal.network.models import Membership

from . import carry
from .models import Personalisation, TemplateVersion

log = logging.getLogger(__name__)


def _send(subject: str, body: str, to: list[str]) -> list[str]:
    to = sorted({a for a in to if a})
    if not to:
        return []
    try:
        EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, to).send()
    except Exception:  # the notice stays on the page; a mail outage must not fail the publication
        log.exception("template notice to %s failed", to)
        return []
    return to


def _store_managers(organisation_id: int, entity_id: int) -> dict[str, list[str]]:
    """The store's active managers' addresses, by the language each reads."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for membership in Membership.unscoped.filter(
        organisation_id=organisation_id, entity_id=entity_id, role=Role.LOCAL_MANAGER, is_active=True
    ).select_related("user"):
        user: Any = membership.user
        if user.is_active and user.email:
            by_language[user.language or settings.LANGUAGE_CODE].append(user.email)
    return by_language


def _message(version: TemplateVersion, personalisation: Personalisation) -> tuple[str, str]:
    """The subject and body, in the active language."""
    template = version.template
    subject = _("“%(name)s” version %(n)s: some of your content could not be kept") % {
        "name": template.name,
        "n": version.number,
    }
    lines = [
        _(
            "Head office published version %(n)s of “%(name)s” for %(store)s. Your content was carried "
            "over, except:"
        )
        % {"n": version.number, "name": template.name, "store": personalisation.entity.name},
        "",
    ]
    for row in carry.describe(personalisation.dropped):
        lines.append(
            _("- %(zone)s: “%(value)s” (%(reason)s)")
            % {"zone": row.label, "value": row.value[:300], "reason": row.reason}
        )
    url = settings.GLOCAL_PUBLIC_URL.rstrip("/") + reverse(
        "creatives:personalisation", kwargs={"pk": personalisation.pk}
    )
    lines += ["", _("Check your content: %(url)s") % {"url": url}]
    return subject, "\n".join(lines)


def values_dropped(version_id: int, store_ids: list[int]) -> list[str]:
    """Mail each listed store's managers what the new version could not keep (addresses mailed)."""
    version = TemplateVersion.unscoped.select_related("template").filter(pk=version_id).first()
    if version is None:
        return []
    sent: list[str] = []
    rows = Personalisation.unscoped.filter(
        organisation_id=version.organisation_id, version=version, entity_id__in=store_ids
    ).select_related("entity")
    for personalisation in rows:
        if not personalisation.dropped:
            continue
        for language, addresses in _store_managers(
            version.organisation_id, personalisation.entity_id
        ).items():
            with translation.override(language):
                subject, body = _message(version, personalisation)
            sent += _send(subject, body, addresses)
    return sent
