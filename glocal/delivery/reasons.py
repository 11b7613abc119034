"""Why a contact was not addressed, as data: a code and its parameters, stored at launch, written as a
sentence in the reader's language when a page shows it (:meth:`glocal.delivery.models.Exclusion.explanation`).

A launch runs in a worker whose active language is nobody's: storing its sentences would show a French
store English text. So the launch stores ``detail_code`` and ``params`` (plain JSON values), and
:func:`sentence` writes them in the active language — the reader's request. Codes only ever get added:
a stored row must read the same in a year.

- ``control_group``: ``{"percent": 5}`` — held out of the campaign (never messaged) as its control group,
  the campaign's share of its final audience.
- ``pressure_cap``: ``{"channel": "email" | "sms" | "", "count", "days", "limit",
  "campaigns": [{"id", "name", "owner"}, …]}`` (at most three campaigns that used the quota; the rows
  migrated from stored sentences have ``"including"`` instead, the campaigns as the sentence named them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

PRESSURE_CAP = "pressure_cap"
CONTROL_GROUP = "control_group"


def _excluded_sentence(channel: str | None, count: int) -> str:
    # Whole sentences per channel: translators get no noun glued into a sentence.
    if channel == "email":
        return ngettext(
            "Excluded: %(count)s email already in the last %(days)s days (limit %(limit)s)",
            "Excluded: %(count)s emails already in the last %(days)s days (limit %(limit)s)",
            count,
        )
    if channel == "sms":
        return ngettext(
            "Excluded: %(count)s SMS already in the last %(days)s days (limit %(limit)s)",
            "Excluded: %(count)s SMS already in the last %(days)s days (limit %(limit)s)",
            count,
        )
    return ngettext(
        "Excluded: %(count)s message already in the last %(days)s days (limit %(limit)s)",
        "Excluded: %(count)s messages already in the last %(days)s days (limit %(limit)s)",
        count,
    )


def pressure_sentence(params: Mapping[str, Any]) -> str:
    """The sentence of a ``pressure_cap`` reason in the active language, e.g. "Excluded: 3 emails already
    in the last 7 days (limit 3), including HQ's Wine fair." """
    count = int(params.get("count", 0))
    names = []
    for used in params.get("campaigns", [])[:3]:
        name = used.get("name") or _("campaign %(id)s") % {"id": used.get("id", "?")}
        owner = used.get("owner")
        names.append(_("%(owner)s's %(name)s") % {"owner": owner, "name": name} if owner else name)
    text = _excluded_sentence(params.get("channel") or None, count) % {
        "count": count,
        "days": params.get("days", 0),
        "limit": params.get("limit", 0),
    }
    including = ", ".join(names) or str(params.get("including") or "")  # a migrated sentence's, as written
    if including:
        text += _(", including %(campaigns)s") % {"campaigns": including}
    return text + "."


def control_sentence(params: Mapping[str, Any]) -> str:
    """The sentence of a ``control_group`` reason, e.g. "Control group: 5 % of the audience is held out
    to measure what the campaign adds." """
    return _(
        "Control group: %(percent)s %% of the audience is held out to measure what the campaign adds."
    ) % {"percent": int(params["percent"])}


SENTENCES = {PRESSURE_CAP: pressure_sentence, CONTROL_GROUP: control_sentence}


def sentence(code: str, params: Mapping[str, Any]) -> str | None:
    """The reason's sentence in the active language; None for an unknown code (or malformed parameters)."""
    writer = SENTENCES.get(code)
    if writer is None or not isinstance(params, Mapping):
        return None
    try:
        return writer(params)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
