"""A new template version and the stores' work, pure: which personalisation values still fit the new
zones (carried over) and which do not (dropped, with the reason as a code and its parameters, shown
in the reader's language), and the difference between two versions (zones added, removed, changed;
changed lines of the source and the other parts).

No ORM here: the image check (a library image the store may still use in that zone) needs the
database and is applied by ``selectors.carry_over`` through ``hooks.PERSONALISATION_CHECKS``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from glocal.core.roles import Role

from .zones import ZONE_TYPE_LABELS, Zone, clean_value, rich_text_to_plain

# Why a value could not be carried over, by code (the parameters are stored with the code).
REASONS = {
    "removed": _("the zone no longer exists"),
    "locked": _("head office now sets this zone"),
    "type_changed": _("the zone is now of type “%(type)s”"),
    "too_long": _("now %(limit)s characters max"),
    "bad_choice": _("no longer one of the choices: %(choices)s"),
    "price_out_of_range": _("now between %(min)s and %(max)s"),
    "image_not_allowed": _("this image may no longer be used in this zone"),
    "invalid": _("no longer valid for this zone"),
}
MAX_DIFF_LINES = 400


def reason_text(code: str, params: dict[str, Any] | None = None) -> str:
    """A dropped value's reason in the active language."""
    params = dict(params or {})
    if code == "type_changed" and "type" in params:
        params["type"] = str(ZONE_TYPE_LABELS.get(params["type"], params["type"]))
    message = str(REASONS.get(code, REASONS["invalid"]))
    try:
        return message % params if params else message
    except (KeyError, TypeError, ValueError):
        return str(REASONS["invalid"])


def dropped(zone_key: str, label: str, value: Any, code: str, **params: Any) -> dict[str, Any]:
    """One value that could not be carried over, as stored (JSON): the value as the store wrote it."""
    return {"key": zone_key, "label": label, "value": value, "code": code, "params": params}


def _shown_value(value: Any) -> str:
    """A dropped value as text (formatted text without its markup)."""
    text = str(value)
    return rich_text_to_plain(text) if "<" in text and ">" in text else text


def _problem_reason(zone: Zone, code: str) -> tuple[str, dict[str, Any]]:
    if code == "too_long":
        return "too_long", {"limit": zone.limit}
    if code == "bad_choice":
        return "bad_choice", {"choices": ", ".join(zone.choices)}
    if code == "price_out_of_range":
        low = zone.min if zone.min is not None else 0
        high = zone.max if zone.max is not None else 1000000
        return "price_out_of_range", {"min": str(low), "max": str(high)}
    return "invalid", {}


def _carry_one(old: Zone | None, new: Zone | None, key: str, value: Any) -> tuple[Any, dict | None]:
    """(the value to keep, None) or (None, why it is dropped)."""
    known = new or old
    label = known.title if known is not None else key
    if new is None:
        return None, dropped(key, label, value, "removed")
    if new.locked:
        return None, dropped(key, label, value, "locked")
    if old is not None and old.type != new.type:
        return None, dropped(key, label, value, "type_changed", type=new.type)
    cleaned, problem = clean_value(new, value)
    if problem is not None:
        code, params = _problem_reason(new, problem.code)
        return None, dropped(key, label, value, code, **params)
    return cleaned, None


def carry_values(
    old_zones: list[Zone], new_zones: list[Zone], values: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A store's values on the old zones → (the values kept on the new zones, the values dropped).

    A value is kept when its zone still exists with the same key and type, is not locked, and the value
    passes the new zone's rules (length within max_length, still among the choices, a price within
    min/max…). Empty values are neither kept nor dropped: the zone's default applies either way."""
    old_by_key = {z.key: z for z in old_zones}
    new_by_key = {z.key: z for z in new_zones}
    kept: dict[str, Any] = {}
    lost: list[dict[str, Any]] = []
    order = zone_order(old_zones, new_zones)
    for key, value in sorted((values or {}).items(), key=lambda item: order(item[0])):
        if value in ("", None):
            continue
        cleaned, drop = _carry_one(old_by_key.get(key), new_by_key.get(key), key, value)
        if drop is not None:
            lost.append(drop)
        elif cleaned not in ("", None):
            kept[key] = cleaned
    return kept, lost


def zone_order(old_zones: list[Zone], new_zones: list[Zone]) -> Any:
    """A sort key for zone keys: the new version's order, then the old one's (removed zones), then the
    rest by name (a store's values come back from JSON in the database's key order)."""
    positions: dict[str, int] = {}
    for zone in [*new_zones, *old_zones]:
        positions.setdefault(zone.key, len(positions))
    return lambda key: (positions.get(key, len(positions)), key)


@dataclass(frozen=True)
class DroppedRow:
    """A dropped value as a page or a mail shows it (in the active language when built)."""

    key: str
    label: str
    value: str
    reason: str


def describe(lost: list[dict[str, Any]]) -> list[DroppedRow]:
    return [
        DroppedRow(
            key=str(item.get("key", "")),
            label=str(item.get("label") or item.get("key", "")),
            value=_shown_value(item.get("value", "")),
            reason=reason_text(str(item.get("code", "")), item.get("params") or {}),
        )
        for item in lost or []
    ]


# -- the difference between two versions ---------------------------------------------------------------

ZONE_ATTRIBUTES_SHOWN = (
    "type",
    "label",
    "required",
    "locked",
    "max_length",
    "choices",
    "min",
    "max",
    "default",
    "roles",
    "tag",
    "allow_upload",
    "formats",
    "min_width",
    "max_kb",
    "help",
)


@dataclass(frozen=True)
class ZoneChange:
    key: str
    label: str
    attribute: str
    before: str
    after: str


@dataclass
class VersionDiff:
    added: list[Zone] = field(default_factory=list)
    removed: list[Zone] = field(default_factory=list)
    changed: list[ZoneChange] = field(default_factory=list)
    parts: list[tuple[str, list[str]]] = field(default_factory=list)  # (part, unified diff lines)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.parts)


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " · ".join(str(v) for v in value) or "—"
    if value in (None, "", False):
        return "—" if value is not False else "✗"
    if value is True:
        return "✓"
    return str(value)


def _display(name: str, value: Any) -> str:
    """An attribute's value as HQ reads it: zone types and roles by their names."""
    if name == "type" and value:
        return str(ZONE_TYPE_LABELS.get(value, value))
    if name == "roles" and value:
        return _shown([str(Role(r).label) if r in Role.values else r for r in value])
    return _shown(value)


def zone_changes(old: Zone, new: Zone) -> list[ZoneChange]:
    before, after = old.as_dict(), new.as_dict()
    return [
        ZoneChange(
            new.key, new.title, name, _display(name, before.get(name)), _display(name, after.get(name))
        )
        for name in ZONE_ATTRIBUTES_SHOWN
        if before.get(name) != after.get(name)
    ]


def diff_parts(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Changed lines per part (source, subject, preheader, plain text), unified diff with one line of
    context, at most :data:`MAX_DIFF_LINES` lines per part."""
    parts: list[tuple[str, list[str]]] = []
    for name, after in new.items():
        before = old.get(name, "")
        if before == after:
            continue
        lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), "", "", n=1, lineterm=""))[
            2:
        ]  # no file header
        if len(lines) > MAX_DIFF_LINES:
            lines = lines[:MAX_DIFF_LINES] + ["…"]
        parts.append((name, lines))
    return parts


def diff_versions(
    old_zones: list[Zone], new_zones: list[Zone], old_parts: dict[str, str], new_parts: dict[str, str]
) -> VersionDiff:
    old_by_key = {z.key: z for z in old_zones}
    new_by_key = {z.key: z for z in new_zones}
    diff = VersionDiff(
        added=[z for z in new_zones if z.key not in old_by_key],
        removed=[z for z in old_zones if z.key not in new_by_key],
    )
    for zone in new_zones:
        if zone.key in old_by_key:
            diff.changed.extend(zone_changes(old_by_key[zone.key], zone))
    diff.parts = diff_parts(old_parts, new_parts)
    return diff
