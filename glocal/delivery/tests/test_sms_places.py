"""Where an SMS recipient is, and so when their message may go: the launch's ``not_before`` for numbers of
every French territory and several US zones (regressions of real mis-timed sends), each checked in the
recipient's local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from glocal.audience.models import Contact, hash_value
from glocal.delivery import launch
from glocal.delivery.models import Message
from glocal.delivery.tests.test_engine import scheduled_campaign

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def sms_contact(network, mobile: str, country: str = "FR", store=None) -> Contact:
    store = store or network.store_a
    return Contact.unscoped.create(
        organisation=network.org, owner=store, owner_path=store.path, last_name=mobile,
        mobile=mobile, mobile_hash=hash_value(mobile), consent_sms="opt_in", country=country,
    )  # fmt: skip


def launch_sms(network, templates, now: dt.datetime, store=None) -> dict[str, dt.datetime]:
    """Launch a due SMS campaign of ``store`` (default store A, Lille) at ``now``: {number: not_before}."""
    campaign = scheduled_campaign(network, templates.sms, store=store, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    return dict(Message.unscoped.filter(campaign=campaign).values_list("to_address", "not_before"))


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


# -- 1. numbers whose calling code several territories share ----------------------------------------


def test_reunion_and_mayotte_numbers_wait_for_their_own_morning(network, templates):
    # Monday 7 December 2026, 18:30 in Paris: 21:30 in Réunion (UTC+4), 20:30 in Mayotte (UTC+3)
    sms_contact(network, "+262692123456")  # Réunion mobile, contact's country "FR" as the seed stores it
    sms_contact(network, "+262639012345")  # Mayotte mobile
    sms_contact(network, "+33612345678")
    now = at("Europe/Paris", 2026, 12, 7, 18, 30)
    waits = launch_sms(network, templates, now)
    assert waits["+262692123456"] == at("Indian/Reunion", 2026, 12, 8, 8, 0)
    assert waits["+262639012345"] == at("Indian/Mayotte", 2026, 12, 8, 8, 0)
    assert waits["+33612345678"] == now  # 18:30 in Paris: allowed


def test_guadeloupe_and_new_york_numbers_wait_for_their_own_morning(network, templates):
    # Monday 7 December 2026, 08:30 in Paris: 03:30 in Guadeloupe, 02:30 in New York
    sms_contact(network, "+590690123456")
    sms_contact(network, "+12125550123", country="US")
    now = at("Europe/Paris", 2026, 12, 7, 8, 30)
    waits = launch_sms(network, templates, now)
    assert waits["+590690123456"] == at("America/Guadeloupe", 2026, 12, 7, 8, 0)
    assert waits["+12125550123"] == at("America/New_York", 2026, 12, 7, 8, 0)


# -- 2. a number that may be in several zones must be lawful in all of them --------------------------


def test_an_alaska_number_is_lawful_in_both_of_its_zones(network, templates):
    # +1 907 covers Anchorage (UTC-9) and Adak (UTC-10): 08:00 in Anchorage is 07:00 in Adak, so the
    # message waits for 08:00 in Adak (09:00 in Anchorage)
    sms_contact(network, "+19076000123", country="US")
    now = at("America/Anchorage", 2026, 12, 7, 7, 0)
    waits = launch_sms(network, templates, now)
    assert waits["+19076000123"] == at("America/Adak", 2026, 12, 7, 8, 0)
    assert waits["+19076000123"] == at("America/Anchorage", 2026, 12, 7, 9, 0)


def test_a_us_contact_with_a_us_number_is_timed_in_the_numbers_zone(network, templates):
    # Los Angeles number of a US contact: 22:00 in Paris is 13:00 in Los Angeles: goes now; 05:00 in
    # Paris (20:00 in LA the day before) waits for 08:00 in LA
    sms_contact(network, "+12135550123", country="US")
    now = at("Europe/Paris", 2026, 12, 7, 22, 0)
    assert launch_sms(network, templates, now)["+12135550123"] == now


def test_a_us_number_at_night_in_its_zone_waits(network, templates):
    sms_contact(network, "+12135550123", country="US")
    now = at("America/Los_Angeles", 2026, 12, 7, 23, 30)  # 08:30 in Paris on Tuesday
    assert launch_sms(network, templates, now)["+12135550123"] == at("America/Los_Angeles", 2026, 12, 8, 8, 0)


# -- 3. Florida's 20:00 limit, Saint-Pierre-et-Miquelon's French rule --------------------------------


def test_florida_numbers_stop_at_20_00_other_states_at_21_00(network, templates):
    sms_contact(network, "+13055550123", country="US")  # Miami
    sms_contact(network, "+18504320123", country="US")  # Pensacola: Florida on Central time
    sms_contact(network, "+12125550123", country="US")  # New York
    now = at("America/New_York", 2026, 12, 7, 20, 30)  # 19:30 in Pensacola
    waits = launch_sms(network, templates, now)
    assert waits["+13055550123"] == at("America/New_York", 2026, 12, 8, 8, 0)
    assert waits["+18504320123"] == now
    assert waits["+12125550123"] == now


def test_florida_central_time_number_stops_at_its_own_20_00(network, templates):
    sms_contact(network, "+18504320123", country="US")
    now = at("America/Chicago", 2026, 12, 7, 20, 15)
    assert launch_sms(network, templates, now)["+18504320123"] == at("America/Chicago", 2026, 12, 8, 8, 0)


def test_saint_pierre_et_miquelon_keeps_french_public_holidays(network, templates):
    # Wednesday 11 November 2026 (Armistice day), noon in Saint-Pierre → Thursday 08:00 there
    sms_contact(network, "+508551234")
    now = at("America/Miquelon", 2026, 11, 11, 12, 0)
    assert launch_sms(network, templates, now)["+508551234"] == at("America/Miquelon", 2026, 11, 12, 8, 0)


# -- 4. the territories' own public holidays, for a store of the territory ---------------------------


@pytest.fixture
def reunion_store(network):
    store = network.store_a
    store.timezone, store.country = "Indian/Reunion", "FR"  # as the demo seed stores its Réunion shops
    store.save(update_fields=["timezone", "country"])
    return store


def test_reunion_store_keeps_20_december(network, templates, reunion_store):
    sms_contact(network, "+262692123456")
    now = at("Indian/Reunion", 2027, 12, 20, 10, 0)  # Monday 20 December 2027: Abolition of Slavery
    assert launch_sms(network, templates, now)["+262692123456"] == at("Indian/Reunion", 2027, 12, 21, 8, 0)


@pytest.mark.parametrize(
    ("mobile", "zone", "holiday", "next_day"),
    [
        ("+262639012345", "Indian/Mayotte", dt.date(2026, 4, 27), 28),  # Mayotte, Monday 27 April
        ("+590690123456", "America/Guadeloupe", dt.date(2026, 4, 3), 4),  # Good Friday → Saturday
        ("+590690123456", "America/Guadeloupe", dt.date(2026, 3, 12), 13),  # Mi-Carême (Thursday)
        ("+590690123456", "America/Guadeloupe", dt.date(2026, 7, 21), 22),  # Victor Schœlcher day
        # Guadeloupe's 27 May; a +590 690 mobile may also be in Saint-Martin (28 May): the 29th
        ("+590690123456", "America/Guadeloupe", dt.date(2026, 5, 27), 29),
        ("+596696123456", "America/Martinique", dt.date(2026, 5, 22), 23),  # Martinique, Friday 22 May
        ("+594694201234", "America/Cayenne", dt.date(2026, 6, 10), 11),  # Guyane, Wednesday 10 June
    ],
)
def test_overseas_holidays_hold_for_a_store_in_the_same_zone(
    network, templates, mobile, zone, holiday, next_day
):
    store = network.store_a
    store.timezone, store.country = zone, "FR"
    store.save(update_fields=["timezone", "country"])
    sms_contact(network, mobile)
    now = dt.datetime.combine(holiday, dt.time(10, 0), tzinfo=ZoneInfo(zone))
    assert launch_sms(network, templates, now)[mobile] == dt.datetime.combine(
        holiday.replace(day=next_day), dt.time(8, 0), tzinfo=ZoneInfo(zone)
    )


def test_a_guadeloupe_contact_is_not_held_by_saint_martins_holiday(network, templates):
    # the contact's own territory settles a number several territories share
    sms_contact(network, "+590690123456", country="GP")
    now = at("America/Guadeloupe", 2026, 5, 28, 10, 0)  # Saint-Martin's Abolition day, not Guadeloupe's
    assert launch_sms(network, templates, now)["+590690123456"] == now


# -- the place cache: keyed by the digits that decide a number's place --------------------------------


def _mutations(number: str, keep: int, rng) -> list[str]:
    digits = number[1:]
    return ["+" + digits[:keep] + "".join(rng.choice("0123456789") for _ in digits[keep:]) for _ in range(8)]


def test_the_digits_after_the_decisive_ones_never_change_a_numbers_place():
    # every region's example mobile and fixed-line numbers, their tails replaced by random digits: the
    # place computed from the full number is the same, so the cache keyed by the leading digits is exact
    import random

    import phonenumbers

    rng = random.Random(2026)
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            found = launch._calling_code(number[1:4])
            assert found is not None
            expected = launch._number_place(number)
            for other in _mutations(number, found[1], rng):
                assert launch._number_place(other) == expected, (region, number, other)
                checked += 1
    assert checked > 2000


def test_shared_calling_codes_are_decided_as_deep_as_the_time_zone_map_goes():
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.tzdata import TIMEZONE_DATA

    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        found = launch._calling_code(str(code) + "000")
        assert found is not None and found[0] == code
        deepest = max((len(k) for k in TIMEZONE_DATA if k.startswith(str(code))), default=0)
        assert found[1] >= deepest, code
        if len(regions) > 1:
            assert found[1] >= 7, code


def test_cached_places_are_those_of_the_full_number():
    numbers = ["+262692123456", "+262639012345", "+590690123456", "+19076000123", "+18504320123"]
    for mobile in numbers:
        for country in ("FR", "US", "GP", "MF"):
            first = launch.recipient_place(country, mobile, "FR", "Europe/Paris")
            assert first == launch.recipient_place(country, mobile, "FR", "Europe/Paris")
            assert first == launch._place_of(country, mobile)


def test_florida_area_codes_are_phonenumbers_florida_ones():
    import phonenumbers
    from phonenumbers import geocoder

    florida = set()
    for area in range(200, 1000):
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(f"{area}2345678"))
        where = geocoder.description_for_number(number, "en")
        if where == "Florida" or where.endswith(", FL"):
            florida.add(str(area))
    assert florida == launch.FLORIDA_AREA_CODES


def test_places_of_numbers():
    from glocal.delivery.windows import Place

    assert launch.recipient_place("FR", "+262692123456", "FR", "Europe/Paris") == (
        Place("RE", "Indian/Reunion", "974"),
    )
    assert launch.recipient_place("FR", "+590690123456", "FR", "Europe/Paris") == (
        Place("BL", "America/St_Barthelemy", "BL"),
        Place("GP", "America/Guadeloupe", "971"),
        Place("MF", "America/Marigot", "MF"),
    )
    assert launch.recipient_place("US", "+13055550123", "FR", "Europe/Paris") == (
        Place("US", "America/New_York", "FL"),
    )
    assert launch.recipient_place("US", "+19076000123", "FR", "Europe/Paris") == (
        Place("US", "America/Adak"),
        Place("US", "America/Anchorage"),
    )
    # no telling number: the contact's territory, else the store's (its zone names it), else its zone
    assert launch.recipient_place("RE", "", "FR", "Europe/Paris") == (Place("RE", "Indian/Reunion", "974"),)
    assert launch.recipient_place("FR", "", "FR", "America/Martinique") == (
        Place("MQ", "America/Martinique", "972"),
    )
    assert launch.recipient_place("FR", "0612", "FR", "Europe/Paris") == (Place("FR", "Europe/Paris"),)
