"""Every SMS ``not_before`` the launch computes is lawful where the recipient may be — checked against a
table written here, independently of ``windows.py`` and of the ``holidays`` package: each place's zones,
days, hours and public holidays (Easter computed by hand), over random instants of 2026–2028 including
the DST changes, for every French territory and several US zones; plus a real launch of a mainland
store's campaign with recipients in all of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glocal.audience.models import Contact, hash_value
from glocal.delivery import launch
from glocal.delivery.models import DeliverySettings, Message
from glocal.delivery.tests.test_engine import scheduled_campaign

UTC = dt.UTC
MON_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))


# -- the oracle: its own table of places, hours, days and holidays -------------------------------------


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def french_holidays(year: int, territory: str) -> set[dt.date]:
    """France's public holidays in ``territory`` ("" = mainland and Corsica)."""
    e = easter(year)
    days = {
        dt.date(year, 1, 1), e + dt.timedelta(days=1), dt.date(year, 5, 1), dt.date(year, 5, 8),
        e + dt.timedelta(days=39), e + dt.timedelta(days=50), dt.date(year, 7, 14), dt.date(year, 8, 15),
        dt.date(year, 11, 1), dt.date(year, 11, 11), dt.date(year, 12, 25),
    }  # fmt: skip
    good_friday, mi_careme = e - dt.timedelta(days=2), e - dt.timedelta(days=24)
    own = {
        "GP": {good_friday, mi_careme, dt.date(year, 5, 27), dt.date(year, 7, 21)},
        "MQ": {dt.date(year, 5, 22), dt.date(year, 7, 21)},
        "GF": {dt.date(year, 6, 10)},
        "RE": {dt.date(year, 12, 20)},
        "YT": {dt.date(year, 4, 27)},
        "BL": {dt.date(year, 10, 9)},
        "MF": {dt.date(year, 5, 28), dt.date(year, 7, 21)},
        "PM": set(),
        "NC": {dt.date(year, 9, 24)},
        "PF": {good_friday, dt.date(year, 3, 5), dt.date(year, 11, 20)},
        "WF": {dt.date(year, 4, 28), dt.date(year, 6, 29), dt.date(year, 7, 29)},
        "": set(),
    }
    return days | own[territory]


@dataclass(frozen=True)
class Rule:
    zone: str
    start: int  # hour
    end: int  # hour (exclusive)
    days: frozenset[int]
    holidays: tuple[str, ...] | None  # French territories whose holidays hold; None: no holidays

    def allows(self, instant: dt.datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.zone))
        if local.weekday() not in self.days or not (self.start <= local.hour < self.end):
            return False
        if self.holidays is None:
            return True
        return not any(local.date() in french_holidays(local.year, t) for t in self.holidays)


def fr(zone: str, *territories: str) -> Rule:
    return Rule(zone, 8, 20, MON_SAT, territories or ("",))


def us(zone: str, end: int = 21) -> Rule:
    return Rule(zone, 8, end, EVERY_DAY, None)


@dataclass(frozen=True)
class Recipient:
    name: str
    mobile: str
    country: str  # the contact's country as stored
    rules: tuple[Rule, ...]  # the message must be lawful under every one (each zone the number may be in)

    def allows(self, instant: dt.datetime) -> bool:
        return all(rule.allows(instant) for rule in self.rules)


RECIPIENTS = [
    Recipient("mainland", "+33612345678", "FR", (fr("Europe/Paris"),)),
    Recipient("Corsica", "+33495123456", "FR", (fr("Europe/Paris"),)),
    # +590 69x mobiles belong to Guadeloupe, Saint-Barthélemy and Saint-Martin alike: with the contact's
    # country "FR" (as the demo seed stores it) the holidays of all three hold; the contact's own
    # territory settles it
    Recipient("Guadeloupe (FR)", "+590690001234", "FR", (fr("America/Guadeloupe", "GP", "BL", "MF"),)),
    Recipient("Guadeloupe", "+590690002345", "GP", (fr("America/Guadeloupe", "GP"),)),
    Recipient("Saint-Barthélemy", "+590690003456", "BL", (fr("America/St_Barthelemy", "BL"),)),
    Recipient("Saint-Martin", "+590690004567", "MF", (fr("America/Marigot", "MF"),)),
    Recipient("Martinique", "+596696201234", "FR", (fr("America/Martinique", "MQ"),)),
    Recipient("Guyane", "+594694201234", "FR", (fr("America/Cayenne", "GF"),)),
    Recipient("Réunion", "+262692123456", "FR", (fr("Indian/Reunion", "RE"),)),
    Recipient("Mayotte", "+262639012345", "FR", (fr("Indian/Mayotte", "YT"),)),
    Recipient("Saint-Pierre-et-Miquelon", "+508551234", "FR", (fr("America/Miquelon", "PM"),)),
    Recipient("New Caledonia", "+687751234", "FR", (fr("Pacific/Noumea", "NC"),)),
    Recipient(
        "French Polynesia",  # a mobile may be on Tahiti's, the Marquesas' or the Gambier's time
        "+68987123456",
        "FR",
        tuple(fr(z, "PF") for z in ("Pacific/Tahiti", "Pacific/Marquesas", "Pacific/Gambier")),
    ),
    Recipient("Wallis-et-Futuna", "+681821234", "FR", (fr("Pacific/Wallis", "WF"),)),
    Recipient("New York", "+12125550123", "US", (us("America/New_York"),)),
    Recipient("Chicago", "+13125550123", "US", (us("America/Chicago"),)),
    Recipient("Denver", "+13035550123", "US", (us("America/Denver"),)),
    Recipient("Los Angeles", "+12135550123", "US", (us("America/Los_Angeles"),)),
    Recipient("Alaska", "+19075550123", "US", (us("America/Adak"), us("America/Anchorage"))),
    Recipient("Hawaii", "+18085550123", "US", (us("Pacific/Honolulu"),)),
    Recipient("Miami, Florida", "+13055550123", "US", (us("America/New_York", 20),)),
    Recipient("Pensacola, Florida", "+18504320123", "US", (us("America/Chicago", 20),)),
    # a US number of a contact the store recorded as French: the number decides
    Recipient("New York (FR)", "+12125550124", "FR", (us("America/New_York"),)),
]
BY_NAME = {r.name: r for r in RECIPIENTS}


def earliest_lawful(recipient: Recipient, now: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The oracle's earliest lawful instant in [now, until): ``now`` itself or a UTC quarter hour (every
    window edge here is a whole local hour, and every zone's offset a multiple of 15 minutes)."""
    if recipient.allows(now):
        return now
    step = dt.timedelta(minutes=15)
    quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) + step
    while quarter < until:
        if recipient.allows(quarter):
            return quarter
        quarter += step
    return None


def assert_lawful_and_earliest(recipient: Recipient, now: dt.datetime, not_before: dt.datetime) -> None:
    assert not_before >= now, (recipient.name, now, not_before)
    local = [not_before.astimezone(ZoneInfo(rule.zone)).isoformat() for rule in recipient.rules]
    assert recipient.allows(not_before), f"{recipient.name}: {now.isoformat()} → unlawful {local}"
    assert earliest_lawful(recipient, now, not_before) in (None, not_before), (
        f"{recipient.name}: {now.isoformat()} → {local}, but it was lawful earlier"
    )


# -- the launch's computation, per recipient ------------------------------------------------------------


def launch_not_before(recipient: Recipient, now: dt.datetime, store_tz: str = "Europe/Paris") -> dt.datetime:
    """What ``launch._write`` puts in ``not_before`` for this recipient of a mainland French store's SMS
    campaign (no HQ or store narrowing), through the launch's own function."""
    store = SimpleNamespace(country="FR", timezone=store_tz)
    audience = SimpleNamespace(
        channel="sms",
        campaign=SimpleNamespace(channel="sms", entity=store),
        candidates={1: (recipient.mobile, recipient.country, recipient.mobile)},
    )
    return launch._not_before(audience, 1, now, settings=None, cache={"window": None})  # type: ignore[arg-type]


def _transitions() -> list[dt.datetime]:
    """The DST changes of 2026–2028 in the zones above (offsets compared day by day, then hour by hour)."""
    zones = {ZoneInfo(rule.zone) for r in RECIPIENTS for rule in r.rules}
    found = set()
    day, hour = dt.timedelta(days=1), dt.timedelta(hours=1)
    for zone in zones:
        t = dt.datetime(2026, 1, 1, tzinfo=UTC)
        while t < dt.datetime(2029, 1, 1, tzinfo=UTC):
            if t.astimezone(zone).utcoffset() != (t + day).astimezone(zone).utcoffset():
                h = t
                while h.astimezone(zone).utcoffset() == (h + hour).astimezone(zone).utcoffset():
                    h += hour
                found.add(h + hour)
            t += day
    return sorted(found)


TRANSITIONS = _transitions()

instants = st.one_of(
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=dt.datetime(2028, 12, 31, 23, 59),  # noqa: DTZ001
    ).map(lambda d: d.replace(tzinfo=UTC)),
    st.builds(
        lambda t, minutes: t + dt.timedelta(minutes=minutes),
        st.sampled_from(TRANSITIONS),
        st.integers(min_value=-36 * 60, max_value=36 * 60),
    ),
)


def test_the_oracle_knows_the_dst_changes_and_easter():
    assert dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC) in TRANSITIONS  # Europe, spring 2027
    assert dt.datetime(2026, 11, 1, 6, 0, tzinfo=UTC) in TRANSITIONS  # New York, autumn 2026
    assert [easter(y) for y in (2026, 2027, 2028)] == [
        dt.date(2026, 4, 5), dt.date(2027, 3, 28), dt.date(2028, 4, 16)
    ]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(now=instants, recipient=st.sampled_from(RECIPIENTS))
def test_every_not_before_is_lawful_and_earliest_where_the_recipient_may_be(now, recipient):
    assert_lawful_and_earliest(recipient, now, launch_not_before(recipient, now))


@settings(max_examples=150, deadline=None)
@given(
    now=instants,
    recipient=st.sampled_from(RECIPIENTS),
    store_tz=st.sampled_from(["Europe/Paris", "Indian/Reunion", "America/Guadeloupe", "America/New_York"]),
)
def test_the_stores_own_zone_never_changes_the_recipients_law(now, recipient, store_tz):
    assert_lawful_and_earliest(recipient, now, launch_not_before(recipient, now, store_tz))


@pytest.mark.parametrize(
    ("name", "now", "local"),
    [
        # the holiday of one territory only, each seen from its own morning
        ("Réunion", dt.datetime(2027, 12, 20, 6, 0, tzinfo=UTC), "2027-12-21T08:00:00+04:00"),
        ("Mayotte", dt.datetime(2026, 4, 27, 7, 0, tzinfo=UTC), "2026-04-28T08:00:00+03:00"),
        ("Guadeloupe", dt.datetime(2028, 5, 27, 14, 0, tzinfo=UTC), "2028-05-29T08:00:00-04:00"),
        ("Guadeloupe (FR)", dt.datetime(2026, 5, 27, 14, 0, tzinfo=UTC), "2026-05-29T08:00:00-04:00"),
        ("Saint-Barthélemy", dt.datetime(2026, 10, 9, 14, 0, tzinfo=UTC), "2026-10-10T08:00:00-04:00"),
        ("Guyane", dt.datetime(2026, 6, 10, 14, 0, tzinfo=UTC), "2026-06-11T08:00:00-03:00"),
        ("New Caledonia", dt.datetime(2026, 9, 23, 22, 0, tzinfo=UTC), "2026-09-25T08:00:00+11:00"),
        ("Wallis-et-Futuna", dt.datetime(2027, 7, 28, 22, 0, tzinfo=UTC), "2027-07-30T08:00:00+12:00"),
        (
            "Saint-Pierre-et-Miquelon",
            dt.datetime(2026, 11, 11, 15, 0, tzinfo=UTC),
            "2026-11-12T08:00:00-03:00",
        ),
    ],
)
def test_territory_holidays_by_hand(name, now, local):
    recipient = BY_NAME[name]
    not_before = launch_not_before(recipient, now)
    assert not_before.astimezone(ZoneInfo(recipient.rules[0].zone)).isoformat() == local
    assert_lawful_and_earliest(recipient, now, not_before)


# -- a real launch ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 12, 7, 17, 30, tzinfo=UTC),  # Monday 18:30 in Paris
        dt.datetime(2026, 12, 8, 1, 30, tzinfo=UTC),  # Monday 20:30 in New York and Miami
        dt.datetime(2027, 3, 28, 0, 30, tzinfo=UTC),  # Europe's spring change; Easter Sunday
        dt.datetime(2027, 12, 19, 22, 0, tzinfo=UTC),  # Sunday; Réunion's 20 December follows
    ],
)
def test_a_mainland_stores_campaign_times_each_recipient_in_their_own_place(network, templates, now):
    store = network.store_a  # Lille: country "FR", zone Europe/Paris
    assert (store.country, store.timezone) == ("FR", "Europe/Paris")
    for recipient in RECIPIENTS:
        Contact.unscoped.create(
            organisation=network.org, owner=store, owner_path=store.path, last_name=recipient.name,
            mobile=recipient.mobile, mobile_hash=hash_value(recipient.mobile), consent_sms="opt_in",
            country=recipient.country,
        )  # fmt: skip
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    rows = dict(Message.unscoped.filter(campaign=campaign).values_list("contact__last_name", "not_before"))
    assert set(rows) == set(BY_NAME)
    for name, not_before in rows.items():
        assert_lawful_and_earliest(BY_NAME[name], now, not_before)


@pytest.mark.django_db
def test_a_launch_at_18_30_in_paris_in_local_time(network, templates):
    """The table of the report: Monday 7 December 2026, 17:30 UTC."""
    store = network.store_a
    wanted = {
        "mainland": "2026-12-07 18:30 Mon",
        "Corsica": "2026-12-07 18:30 Mon",
        "Guadeloupe": "2026-12-07 13:30 Mon",
        "Martinique": "2026-12-07 13:30 Mon",
        "Guyane": "2026-12-07 14:30 Mon",
        "Réunion": "2026-12-08 08:00 Tue",  # 21:30 there
        "Mayotte": "2026-12-08 08:00 Tue",  # 20:30 there
        "Saint-Pierre-et-Miquelon": "2026-12-07 14:30 Mon",
        "Saint-Barthélemy": "2026-12-07 13:30 Mon",
        "Saint-Martin": "2026-12-07 13:30 Mon",
        "New Caledonia": "2026-12-08 08:00 Tue",  # 04:30 there
        "French Polynesia": "2026-12-07 08:00 Mon",  # 07:30 in Tahiti (08:00 Marquesas, 08:30 Gambier)
        "Wallis-et-Futuna": "2026-12-08 08:00 Tue",  # 05:30 there
        "New York": "2026-12-07 12:30 Mon",
        "Chicago": "2026-12-07 11:30 Mon",
        "Denver": "2026-12-07 10:30 Mon",
        "Los Angeles": "2026-12-07 09:30 Mon",
        "Alaska": "2026-12-07 08:00 Mon",  # in Adak (09:00 in Anchorage): 07:30 there
        "Hawaii": "2026-12-07 08:00 Mon",  # 07:30 there
        "Miami, Florida": "2026-12-07 12:30 Mon",
        "Pensacola, Florida": "2026-12-07 11:30 Mon",
    }
    for name in wanted:
        recipient = BY_NAME[name]
        Contact.unscoped.create(
            organisation=network.org, owner=store, owner_path=store.path, last_name=name,
            mobile=recipient.mobile, mobile_hash=hash_value(recipient.mobile), consent_sms="opt_in",
            country=recipient.country,
        )  # fmt: skip
    now = dt.datetime(2026, 12, 7, 17, 30, tzinfo=UTC)
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    got = {}
    for name, not_before in Message.unscoped.filter(campaign=campaign).values_list(
        "contact__last_name", "not_before"
    ):
        zone = ZoneInfo(BY_NAME[name].rules[0].zone)  # Alaska: Adak's clock, Polynesia: Tahiti's
        got[name] = not_before.astimezone(zone).strftime("%Y-%m-%d %H:%M %a")
    assert got == wanted


@pytest.mark.django_db
def test_hours_that_leave_no_common_time_across_a_numbers_zones_never_block_the_launch(network, templates):
    # HQ allows SMS only 08:00–09:00. Anchorage and Adak are an hour apart: no instant is in that hour in
    # both. The launch must still write every row (a failure would hold the organisation's whole launch,
    # retried each tick): the Alaska number gets the first instant the LAW allows in both zones.
    DeliverySettings.unscoped.create(organisation=network.org, sms_start=dt.time(8), sms_end=dt.time(9))
    store = network.store_a
    for name in ("Alaska", "mainland"):
        recipient = BY_NAME[name]
        Contact.unscoped.create(
            organisation=network.org, owner=store, owner_path=store.path, last_name=name,
            mobile=recipient.mobile, mobile_hash=hash_value(recipient.mobile), consent_sms="opt_in",
            country=recipient.country,
        )  # fmt: skip
    now = dt.datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # Monday 18:30 in Paris, 07:30 in Adak
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    assert launch.launch_due(now=now)
    rows = dict(Message.unscoped.filter(campaign=campaign).values_list("contact__last_name", "not_before"))
    assert rows["mainland"] == dt.datetime(2026, 12, 8, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))  # HQ's hour
    assert rows["Alaska"] == dt.datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo("America/Adak"))
    assert_lawful_and_earliest(BY_NAME["Alaska"], now, rows["Alaska"])
