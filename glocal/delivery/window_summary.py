"""What an SMS window set on a page really allows: the intersection with the law's window (and, for a
store or a region, with head office's and its ancestors'), said in words on the settings pages.

"Effective window: 08:00–20:00, Monday to Saturday, not on public holidays — your 07:00–21:30 is
narrowed by the law". The launch applies the same intersection (``launch.narrowed_window`` then
``windows.next_allowed``); this module only reads and describes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from glocal.network.models import Entity

from . import launch, windows
from .models import DeliverySettings

LAW = "law"
HEAD_OFFICE = "hq"


def _weekday(day: int) -> str:
    names = [
        pgettext("weekday in a sentence", "Monday"),
        pgettext("weekday in a sentence", "Tuesday"),
        pgettext("weekday in a sentence", "Wednesday"),
        pgettext("weekday in a sentence", "Thursday"),
        pgettext("weekday in a sentence", "Friday"),
        pgettext("weekday in a sentence", "Saturday"),
        pgettext("weekday in a sentence", "Sunday"),
    ]
    return names[day]


def days_text(days: frozenset[int]) -> str:
    """ "every day", "Monday to Saturday" (consecutive days), else "Monday, Wednesday, Friday"."""
    ordered = sorted(days)
    if len(ordered) == 7:
        return _("every day")
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return _("%(first)s to %(last)s") % {"first": _weekday(ordered[0]), "last": _weekday(ordered[-1])}
    return ", ".join(_weekday(d) for d in ordered)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def hours_text(window: windows.Window) -> str:
    return f"{_clock(window.start)}–{_clock(window.end)}"


@dataclass(frozen=True)
class WindowSummary:
    """``effective``: what the launch will allow (None: no time at all). ``requested``: the window set on
    the page (None: nothing set); ``days_set``: whether it names days. ``narrowed_by``: what clamps it
    (``LAW``, ``HEAD_OFFICE``)."""

    effective: windows.Window | None
    requested: windows.Window | None = None
    days_set: bool = False
    narrowed_by: tuple[str, ...] = ()

    def requested_text(self) -> str:
        assert self.requested is not None
        text = hours_text(self.requested)
        return f"{text}, {days_text(self.requested.days)}" if self.days_set else text

    def effective_text(self) -> str:
        if self.effective is None:
            return _("Effective window: none — no time is left at which SMS may be sent.")
        parts = [hours_text(self.effective), days_text(self.effective.days)]
        if self.effective.holiday_country:
            parts.append(_("not on public holidays"))
        return _("Effective window: %(window)s") % {"window": ", ".join(parts)}

    def narrowed_text(self) -> str:
        if self.requested is None or not self.narrowed_by:
            return ""
        values = {"requested": self.requested_text()}
        if self.narrowed_by == (LAW,):
            return _("your %(requested)s is narrowed by the law") % values
        if self.narrowed_by == (HEAD_OFFICE,):
            return _("your %(requested)s is narrowed by head office's hours") % values
        return _("your %(requested)s is narrowed by head office's hours and the law") % values

    def __str__(self) -> str:
        narrowed = self.narrowed_text()
        return f"{self.effective_text()} — {narrowed}" if narrowed else self.effective_text()


def _wider(requested: windows.Window, limit: windows.Window, days_set: bool) -> bool:
    """True when ``requested`` allows some time ``limit`` does not (days only count when they were set)."""
    if requested.start < limit.start or requested.end > limit.end:
        return True
    return days_set and not requested.days <= limit.days


def _intersection(*layers: windows.Window | None) -> windows.Window | None:
    result: windows.Window | None = None
    try:
        for layer in layers:
            if layer is not None:
                result = layer if result is None else windows.narrow(result, layer)
    except windows.WindowError:
        return None
    return result


def summarise(
    legal: windows.Window,
    requested: windows.Window | None,
    *,
    days_set: bool,
    above: windows.Window | None = None,
) -> WindowSummary:
    """The window ``requested`` on a page, intersected with ``above`` (head office's, for a store or a
    region) and with ``legal``."""
    effective = _intersection(legal, above, requested)
    if requested is None:
        return WindowSummary(effective)
    narrowed: list[str] = []
    if above is not None and _wider(requested, above, days_set):
        narrowed.append(HEAD_OFFICE)
    if _wider(requested, legal, days_set):
        narrowed.append(LAW)
    return WindowSummary(effective, requested, days_set, tuple(narrowed))


def _window(days: list[int], start: dt.time | None, end: dt.time | None) -> windows.Window | None:
    try:
        return launch._window_of(days, start, end)
    except windows.WindowError:  # start after end: no time at all
        return None


def head_office(settings: DeliverySettings, country: str = "FR") -> WindowSummary:
    """Head office's SMS window against the law's (``country``: head office's node's)."""
    legal = windows.legal_window("sms", country or "FR")
    requested = _window(settings.sms_days, settings.sms_start, settings.sms_end)
    return summarise(legal, requested, days_set=bool(settings.sms_days))


def for_entity(
    settings: DeliverySettings,
    entity: Entity,
    days: list[int],
    start: dt.time | None,
    end: dt.time | None,
) -> WindowSummary:
    """A store's (or region's) own SMS window against head office's and its ancestors', and the law's."""
    legal = windows.legal_window("sms", entity.country or "FR")
    try:
        above = launch.narrowed_window(settings, "sms", entity.parent)
    except windows.WindowError:
        return WindowSummary(None)
    return summarise(legal, _window(days, start, end), days_set=bool(days), above=above)
