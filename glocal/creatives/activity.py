"""Templates' actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import choice_label, details, labels, no_details
from glocal.core.models import AuditEvent

from .models import Channel, Personalisation

labels(
    {
        "template.create": gettext_lazy("created a template"),
        "template.save": gettext_lazy("saved a template"),
        "template.publish": gettext_lazy("published a template"),
        "template.restore": gettext_lazy("restored a template version"),
        "template.archive": gettext_lazy("archived a template"),
        "template.personalise": gettext_lazy("personalised a template"),
        "template.settings": gettext_lazy("changed the templates' settings"),
        "template.block_save": gettext_lazy("saved a reusable block"),
        "template.block_delete": gettext_lazy("deleted a reusable block"),
    }
)
no_details("template.settings")


@details("template.create")
def _create(event: AuditEvent) -> str | None:
    if "channel" not in event.data:
        return None
    return _("%(name)s (%(channel)s)") % {
        "name": event.data["name"],
        "channel": choice_label(Channel, event.data["channel"]),
    }


@details("template.personalise")
def _personalise(event: AuditEvent) -> str | None:
    if "status" not in event.data:
        return None
    return _("%(name)s v%(version)s (%(status)s)") % {
        "name": event.data["name"],
        "version": event.data["version"],
        "status": str(choice_label(Personalisation.Status, event.data["status"])).lower(),
    }


@details("template.publish", "template.restore")
def _publish(event: AuditEvent) -> str | None:
    if "version" not in event.data:
        return None
    text = _("%(name)s v%(version)s") % {"name": event.data["name"], "version": event.data["version"]}
    if "restored" in event.data:
        text += " " + _("(the content of v%(n)s)") % {"n": event.data["restored"]}
    if event.data.get("despite_warnings"):
        text += " — " + _("published despite warnings")
    return text


@details("template.block_save", "template.block_delete")
def _block(event: AuditEvent) -> str | None:
    return event.data.get("name")
