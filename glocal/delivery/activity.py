"""Delivery's actions in the activity feed (glocal.core.activity). The direct-mail batches' labels
are declared by ``glocal.delivery.printbatch``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy, ngettext

from glocal.core.activity import details, labels, no_details
from glocal.core.models import AuditEvent

from .printbatch import AUDIT_DOWNLOAD, AUDIT_START

labels(
    {
        "delivery.settings": gettext_lazy("changed the delivery rules"),
        "delivery.window": gettext_lazy("changed a store's SMS sending hours"),
        "campaign.launch": gettext_lazy("launched a campaign"),
        "template.test_send": gettext_lazy("sent a test of a template"),
    }
)
no_details("delivery.settings")


@details("delivery.window", "campaign.launch")
def _name(event: AuditEvent) -> str | None:
    return event.data.get("name")


@details(AUDIT_START)
def _batch(event: AuditEvent) -> str | None:
    """The campaign's name is in the summary only: the number of letters, until the batch records it."""
    if "name" in event.data:
        return ngettext("%(name)s: %(n)s letter", "%(name)s: %(n)s letters", event.data["letters"]) % {
            "name": event.data["name"],
            "n": event.data["letters"],
        }
    if "letters" in event.data:
        return ngettext("%(n)s letter", "%(n)s letters", event.data["letters"]) % {"n": event.data["letters"]}
    return None


@details(AUDIT_DOWNLOAD)
def _download(event: AuditEvent) -> str | None:
    return event.data.get("name", "")


@details("template.test_send")
def _test_send(event: AuditEvent) -> str | None:
    if "addresses" not in event.data:
        return None
    count = len(event.data["addresses"])
    return ngettext("to %(n)s address", "to %(n)s addresses", count) % {"n": count}
