"""Lawful sending windows per channel and country, in the RECIPIENT's local time (pure, no database).

Rules (../shared/COMPLIANCE.md, "SMS"):
- France, SMS: Monday to Saturday, 08:00–20:00, never on Sundays nor French public holidays (from the
  ``holidays`` package, with the subdivision when one is given: Alsace-Moselle "57", overseas
  departments "971" Guadeloupe, "972" Martinique, "973" Guyane, "974" Réunion, "976" Mayotte, and the
  collectivities' own calendars "PM", "BL", "MF", "NC", "PF", "WF"). Every French territory outside
  the mainland is read as France with its subdivision (:data:`FRENCH_OVERSEAS`).
- United States, SMS: every day 08:00–21:00; Florida ("FL") 08:00–20:00.
- Any other country, SMS: the French rule's hours without its holidays (Monday–Saturday 08:00–20:00), a
  conservative default until the country gets its own line in :data:`LEGAL_WINDOWS`.
- Email: any time by default; :data:`EMAIL_DEFAULT` may be replaced by configuration, and HQ or a store
  narrows it like any other window.

HQ and stores may only NARROW a window: :func:`narrow` intersects the requested window with the legal one,
so anything wider is clamped to the legal window, never widened. A message outside its window is not
dropped: :func:`next_allowed` gives the instant it may go (the outbox's ``not_before``).

A recipient who may be in several places (a number shared by several territories, an area code spanning
several zones) gets the most restrictive reading: :func:`next_allowed_everywhere` gives the first instant
allowed in every one of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
from django.utils.translation import gettext_lazy as _

MINUTES_PER_DAY = 24 * 60
EVERY_DAY = frozenset(range(7))
MONDAY_TO_SATURDAY = frozenset(range(6))

# French territories outside the mainland: ISO code → (the ``holidays`` subdivision of FR, the time zones it
# spans). Their SMS follow the French rule with their own public holidays.
FRENCH_OVERSEAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "GP": ("971", ("America/Guadeloupe",)),
    "MQ": ("972", ("America/Martinique",)),
    "GF": ("973", ("America/Cayenne",)),
    "RE": ("974", ("Indian/Reunion",)),
    "YT": ("976", ("Indian/Mayotte",)),
    "PM": ("PM", ("America/Miquelon",)),
    "BL": ("BL", ("America/St_Barthelemy",)),
    "MF": ("MF", ("America/Marigot",)),
    "NC": ("NC", ("Pacific/Noumea",)),
    "PF": ("PF", ("Pacific/Tahiti", "Pacific/Marquesas", "Pacific/Gambier")),
    "WF": ("WF", ("Pacific/Wallis",)),
}
# A French store's zone → its territory (the demo seed stores overseas shops with country "FR").
TERRITORY_OF_ZONE = {zone: code for code, (_sub, zones) in FRENCH_OVERSEAS.items() for zone in zones}


class Place(NamedTuple):
    """Where a recipient may be: a country (or a French territory's code), a time zone, a subdivision."""

    country: str
    zone: str
    subdivision: str | None = None


def territory_places(code: str) -> tuple[Place, ...]:
    """The places of a French territory (one per zone it spans)."""
    subdivision, zones = FRENCH_OVERSEAS[code]
    return tuple(Place(code, zone, subdivision) for zone in zones)


NO_ALLOWED_TIME = _("This sending window allows no time at all once limited to the legal window.")


class WindowError(ValueError):
    """A window that can never be satisfied (for example a narrowing that leaves no day or no hour)."""


@dataclass(frozen=True)
class Window:
    """Allowed days (0 = Monday) and a daily span [start, end) in minutes after local midnight.

    ``end`` may be 1440 (midnight at the end of the day). ``holiday_country`` names the public holidays
    that are excluded (``None``: none are).
    """

    start: int = 0
    end: int = MINUTES_PER_DAY
    days: frozenset[int] = field(default=EVERY_DAY)
    holiday_country: str | None = None

    @classmethod
    def hours(
        cls,
        start: str,
        end: str,
        *,
        days: frozenset[int] = EVERY_DAY,
        holiday_country: str | None = None,
    ) -> Window:
        """``Window.hours("08:00", "20:00", days=MONDAY_TO_SATURDAY)``; "24:00" is the end of the day."""
        return cls(_minutes(start), _minutes(end), frozenset(days), holiday_country)

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= MINUTES_PER_DAY):
            raise WindowError(NO_ALLOWED_TIME)
        if not self.days or not self.days <= EVERY_DAY:
            raise WindowError(NO_ALLOWED_TIME)

    def contains_window(self, other: Window) -> bool:
        """True when ``other`` is at most as wide as this window (a lawful narrowing)."""
        return (
            other.start >= self.start
            and other.end <= self.end
            and other.days <= self.days
            and (self.holiday_country is None or other.holiday_country == self.holiday_country)
        )


def _minutes(text: str) -> int:
    hours, _sep, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


ANY_TIME = Window()
EMAIL_DEFAULT = ANY_TIME
SMS_DEFAULT = Window.hours("08:00", "20:00", days=MONDAY_TO_SATURDAY)

# (channel, country, subdivision or None) → legal window. The most specific key wins.
LEGAL_WINDOWS: dict[tuple[str, str, str | None], Window] = {
    ("sms", "FR", None): Window.hours("08:00", "20:00", days=MONDAY_TO_SATURDAY, holiday_country="FR"),
    ("sms", "US", None): Window.hours("08:00", "21:00"),
    ("sms", "US", "FL"): Window.hours("08:00", "20:00"),
}


def _normalise_country(country: str, subdivision: str | None) -> tuple[str, str | None]:
    country = (country or "").upper()
    if country in FRENCH_OVERSEAS:
        return "FR", subdivision or FRENCH_OVERSEAS[country][0]
    if subdivision and len(subdivision) == 2 and subdivision.isalpha():
        subdivision = subdivision.upper()  # "fl" → "FL"
    return country, subdivision


def legal_window(channel: str, country: str, subdivision: str | None = None) -> Window:
    """The widest window the law (or the platform's default) allows for this channel and place."""
    country, subdivision = _normalise_country(country, subdivision)
    for key in ((channel, country, subdivision), (channel, country, None)):
        if key in LEGAL_WINDOWS:
            return LEGAL_WINDOWS[key]
    return SMS_DEFAULT if channel == "sms" else EMAIL_DEFAULT


def narrow(legal: Window, requested: Window | None) -> Window:
    """The intersection of ``requested`` with ``legal``: narrower is kept, wider is clamped, never widened.

    Raises :class:`WindowError` when nothing is left (no common day or hour).
    """
    if requested is None:
        return legal
    return Window(
        start=max(legal.start, requested.start),
        end=min(legal.end, requested.end),
        days=legal.days & requested.days,
        holiday_country=legal.holiday_country or requested.holiday_country,
    )


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    subdivisions = holidays.list_supported_countries().get(country, [])
    return holidays.country_holidays(country, subdiv=subdivision if subdivision in subdivisions else None)


def is_holiday(day: dt.date, country: str, subdivision: str | None = None) -> bool:
    return day in _holiday_calendar(country, subdivision)


def _day_allowed(window: Window, day: dt.date, subdivision: str | None) -> bool:
    if day.weekday() not in window.days:
        return False
    return not (window.holiday_country and is_holiday(day, window.holiday_country, subdivision))


def _at_minute(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
    # A local time inside a spring-forward gap does not exist: the round trip through UTC moves it
    # forward by the gap, which stays inside the window (later, never earlier).
    return naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)


def next_allowed(
    at: dt.datetime,
    *,
    channel: str,
    country: str,
    timezone: str | ZoneInfo,
    subdivision: str | None = None,
    narrowed: Window | None = None,
) -> dt.datetime:
    """``at`` itself when a message may be sent then, otherwise the next allowed instant.

    Evaluated in the recipient's ``timezone``; the result is aware (in that zone when it differs from
    ``at``). ``narrowed`` is HQ's or the store's window, intersected with the legal one.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("next_allowed needs an aware datetime")
    tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    country_code, subdivision = _normalise_country(country, subdivision)
    window = narrow(legal_window(channel, country_code, subdivision), narrowed)
    local = at.astimezone(tz)
    day = local.date()
    minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
    if _day_allowed(window, day, subdivision):
        if window.start <= minute < window.end:
            return at
        if minute < window.start:
            return _at_minute(day, window.start, tz)
    for offset in range(1, 400):  # a year and more: there is always a working day in a week
        candidate = day + dt.timedelta(days=offset)
        if _day_allowed(window, candidate, subdivision):
            return _at_minute(candidate, window.start, tz)
    raise WindowError(NO_ALLOWED_TIME)


def next_allowed_everywhere(
    at: dt.datetime, *, channel: str, places: tuple[Place, ...], narrowed: Window | None = None
) -> dt.datetime:
    """The first instant from ``at`` allowed in EVERY one of ``places`` (the most restrictive reading of a
    recipient who may be in any of them): the intersection of their lawful intervals, on the next day
    when it is empty on one.

    ``at`` itself when it is allowed everywhere. Raises :class:`WindowError` when no instant in the next
    400 days is allowed in all of them (zones too far apart for their windows to overlap).
    """
    if not places:
        raise ValueError("next_allowed_everywhere needs at least one place")
    candidate, horizon = at, at + dt.timedelta(days=400)
    while candidate < horizon:
        latest = candidate
        for place in places:
            allowed = next_allowed(
                candidate,
                channel=channel,
                country=place.country,
                timezone=place.zone,
                subdivision=place.subdivision,
                narrowed=narrowed,
            )
            latest = max(latest, allowed)
        if latest == candidate:  # allowed in every place
            return candidate
        candidate = latest  # each step reaches a window's start somewhere: finitely many in 400 days
    raise WindowError(NO_ALLOWED_TIME)
