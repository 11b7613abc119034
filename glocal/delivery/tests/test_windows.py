"""Sending windows: recipient's local time, Sundays and holidays, DST, US/Florida, narrowing only."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from glocal.delivery.windows import (
    MONDAY_TO_SATURDAY,
    Window,
    WindowError,
    is_holiday,
    legal_window,
    narrow,
    next_allowed,
)

PARIS = ZoneInfo("Europe/Paris")


def local(
    tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz))


def sms_fr(at: dt.datetime, tz: str = "Europe/Paris", **kwargs) -> dt.datetime:
    return next_allowed(at, channel="sms", country="FR", timezone=tz, **kwargs)


def test_allowed_instant_is_returned_unchanged():
    at = local("Europe/Paris", 2028, 12, 21, 10, 30)  # a Thursday
    assert sms_fr(at) is at


def test_sunday_24_december_waits_for_tuesday_26_december_morning():
    # Given an SMS scheduled on Sunday 24 December 2028 (Monday 25 is Christmas)
    at = local("Europe/Paris", 2028, 12, 24, 11, 0)
    assert at.weekday() == 6
    # 26 December is not a public holiday in mainland France (only in Alsace-Moselle)
    assert not is_holiday(dt.date(2028, 12, 26), "FR")
    assert is_holiday(dt.date(2028, 12, 26), "FR", "57")
    # Then it goes out on Tuesday 26 December at 08:00, Paris time
    assert sms_fr(at) == local("Europe/Paris", 2028, 12, 26, 8, 0)
    # and in Alsace-Moselle, St Stephen's day pushes it to Wednesday 27
    assert sms_fr(at, subdivision="57") == local("Europe/Paris", 2028, 12, 27, 8, 0)


def test_christmas_day_on_a_weekday_waits_for_the_next_day():
    at = local("Europe/Paris", 2026, 12, 25, 9, 0)  # a Friday
    assert sms_fr(at) == local("Europe/Paris", 2026, 12, 26, 8, 0)  # Saturday is allowed


def test_late_evening_goes_to_next_morning_and_end_is_exclusive():
    assert sms_fr(local("Europe/Paris", 2026, 11, 18, 21, 15)) == local("Europe/Paris", 2026, 11, 19, 8, 0)
    assert sms_fr(local("Europe/Paris", 2026, 11, 18, 20, 0)) == local("Europe/Paris", 2026, 11, 19, 8, 0)
    early = local("Europe/Paris", 2026, 11, 18, 19, 59, 59)
    assert sms_fr(early) is early


def test_early_morning_waits_until_eight_the_same_day():
    assert sms_fr(local("Europe/Paris", 2026, 11, 18, 6, 5)) == local("Europe/Paris", 2026, 11, 18, 8, 0)


def test_saturday_evening_waits_until_monday():
    assert sms_fr(local("Europe/Paris", 2026, 11, 21, 20, 30)) == local("Europe/Paris", 2026, 11, 23, 8, 0)


def test_recipient_time_zone_not_the_senders_reunion():
    # 18:00 in Paris on a Wednesday in winter is 21:00 in Réunion (UTC+4): too late there.
    at = local("Europe/Paris", 2026, 11, 18, 18, 0)
    got = sms_fr(at, tz="Indian/Reunion", subdivision="974")
    assert got == local("Indian/Reunion", 2026, 11, 19, 8, 0)
    assert got.astimezone(PARIS) == local("Europe/Paris", 2026, 11, 19, 5, 0)


def test_reunion_own_public_holiday_abolition_of_slavery():
    # 20 December (Abolition of Slavery) is a holiday in Réunion only; "RE" is understood as FR-974
    at = local("Indian/Reunion", 2027, 12, 20, 10, 0)  # a Monday
    assert next_allowed(at, channel="sms", country="RE", timezone="Indian/Reunion") == local(
        "Indian/Reunion", 2027, 12, 21, 8, 0
    )
    assert sms_fr(local("Europe/Paris", 2027, 12, 20, 10, 0)).day == 20  # mainland: a working day


@pytest.mark.parametrize("tz", ["America/Martinique", "America/Guadeloupe", "America/Cayenne"])
def test_caribbean_and_guyane_recipients_use_their_own_clock(tz):
    at = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)  # 08:00 there (UTC-4 / UTC-3 for Cayenne)
    got = sms_fr(at, tz=tz)
    if tz == "America/Cayenne":
        assert got is at  # 09:00 in Cayenne
    else:
        assert got is at  # exactly 08:00: allowed
        assert sms_fr(at - dt.timedelta(minutes=1), tz=tz) == at


def test_dst_spring_forward_and_fall_back_keep_local_eight_oclock():
    # Saturday 27 March 2027 21:00; clocks go forward on Sunday 28 (Easter), Monday 29 is Easter Monday
    # → Tuesday 30 March 08:00 CEST
    got = sms_fr(local("Europe/Paris", 2027, 3, 27, 21, 0))
    assert (got.hour, got.minute, got.utcoffset()) == (8, 0, dt.timedelta(hours=2))
    assert got.date() == dt.date(2027, 3, 30)
    # Saturday 26 March 2022 21:00 → Monday 28 March 08:00 CEST (clocks went forward on Sunday 27)
    assert sms_fr(local("Europe/Paris", 2022, 3, 26, 21, 0)) == local("Europe/Paris", 2022, 3, 28, 8, 0)
    assert sms_fr(local("Europe/Paris", 2022, 3, 26, 21, 0)).utcoffset() == dt.timedelta(hours=2)
    # Saturday 30 October 2027 20:30 → Monday 1 November is All Saints' day → Tuesday 2 November 08:00 CET
    got = sms_fr(local("Europe/Paris", 2027, 10, 30, 20, 30))
    assert got == local("Europe/Paris", 2027, 11, 2, 8, 0)
    assert got.utcoffset() == dt.timedelta(hours=1)


def test_window_start_inside_a_dst_gap_moves_later_never_earlier():
    window = Window.hours("02:30", "05:00")
    at = local("Europe/Paris", 2027, 3, 28, 1, 0)  # 02:30 does not exist that night
    got = next_allowed(at, channel="email", country="FR", timezone=PARIS, narrowed=window)
    assert got == dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)  # 03:30 CEST
    assert got > at


def test_united_states_and_florida():
    at = local("America/New_York", 2026, 11, 22, 20, 30)  # Sunday evening: allowed in the US
    assert next_allowed(at, channel="sms", country="US", timezone="America/New_York") is at
    assert next_allowed(
        at, channel="sms", country="US", subdivision="fl", timezone="America/New_York"
    ) == local("America/New_York", 2026, 11, 23, 8, 0)
    late = local("America/Los_Angeles", 2026, 11, 22, 21, 0)
    assert next_allowed(late, channel="sms", country="US", timezone="America/Los_Angeles") == local(
        "America/Los_Angeles", 2026, 11, 23, 8, 0
    )


def test_email_any_time_by_default_and_narrowable():
    at = local("Europe/Paris", 2026, 11, 22, 3, 0)  # a Sunday, 03:00
    assert next_allowed(at, channel="email", country="FR", timezone=PARIS) is at
    office = Window.hours("09:00", "18:00", days=frozenset(range(5)))
    assert next_allowed(at, channel="email", country="FR", timezone=PARIS, narrowed=office) == local(
        "Europe/Paris", 2026, 11, 23, 9, 0
    )


def test_narrowing_intersects_with_the_legal_window():
    store = Window.hours("10:00", "19:00", days=frozenset(range(5)))  # Monday–Friday 10–19
    at = local("Europe/Paris", 2026, 11, 21, 12, 0)  # Saturday noon: legal, but not in the store's window
    assert sms_fr(at, narrowed=store) == local("Europe/Paris", 2026, 11, 23, 10, 0)
    assert sms_fr(local("Europe/Paris", 2026, 11, 23, 19, 30), narrowed=store) == local(
        "Europe/Paris", 2026, 11, 24, 10, 0
    )


def test_wider_window_is_clamped_never_widened():
    wide = Window.hours("06:00", "23:00")  # every day including Sunday, early and late
    legal = legal_window("sms", "FR")
    assert narrow(legal, wide) == legal
    assert not legal.contains_window(wide)
    assert legal.contains_window(narrow(legal, wide))
    # Sunday and 22:00 stay forbidden although the requested window allows them
    sunday = local("Europe/Paris", 2026, 11, 22, 12, 0)
    assert sms_fr(sunday, narrowed=wide) == local("Europe/Paris", 2026, 11, 23, 8, 0)
    evening = local("Europe/Paris", 2026, 11, 23, 22, 0)
    assert sms_fr(evening, narrowed=wide) == local("Europe/Paris", 2026, 11, 24, 8, 0)
    # Holidays stay excluded even for a window that did not ask for it
    assert narrow(legal, wide).holiday_country == "FR"


def test_narrowing_that_leaves_nothing_is_refused():
    sunday_only = Window.hours("08:00", "20:00", days=frozenset({6}))
    with pytest.raises(WindowError):
        narrow(legal_window("sms", "FR"), sunday_only)
    with pytest.raises(WindowError):
        narrow(legal_window("sms", "FR"), Window.hours("21:00", "23:00"))
    with pytest.raises(WindowError):
        Window.hours("10:00", "09:00")


def test_unknown_country_sms_gets_the_conservative_default():
    window = legal_window("sms", "DE")
    assert window.days == MONDAY_TO_SATURDAY
    assert (window.start, window.end) == (8 * 60, 20 * 60)


def test_naive_datetime_is_rejected():
    with pytest.raises(ValueError):
        next_allowed(dt.datetime(2026, 11, 18, 12, 0), channel="sms", country="FR", timezone=PARIS)  # noqa: DTZ001
