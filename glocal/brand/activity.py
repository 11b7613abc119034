"""The brand library's actions in the activity feed (glocal.core.activity)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.core.activity import details, labels
from glocal.core.models import AuditEvent

labels(
    {
        "asset.folder": gettext_lazy("created a folder"),
        "asset.upload": gettext_lazy("added an image"),
        "asset.version": gettext_lazy("replaced an image"),
        "asset.edit": gettext_lazy("edited an image"),
        "asset.settings": gettext_lazy("changed the library's settings"),
        "brand.kit": gettext_lazy("saved a brand kit"),
    }
)


@details("asset.folder", "brand.kit")
def _name(event: AuditEvent) -> str | None:
    return event.data.get("name")


@details("asset.settings")
def _settings(event: AuditEvent) -> str | None:
    if "local_uploads" not in event.data:
        return None
    return _("stores may add their photos") if event.data["local_uploads"] else _("head office's images only")
