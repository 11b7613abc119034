"""Launch: the final audience of every due campaign, marketing-pressure arbitration across them, and the
outbox written in one transaction.

For one organisation at a time (``launch_due`` walks them), every campaign whose send date has come is
launched together, so that the arbitration sees them all:

1. the campaign's matching contacts (owned by the store × criteria) are read once, each classified:
   no consent on the channel, no usable address, on the opposition list, removed by the store, or a
   candidate;
2. :func:`glocal.delivery.pressure.arbitrate` decides, over the candidates of every due campaign and the
   organisation's recent (and, when HQ says so, scheduled) messages, who receives what; each exclusion
   keeps its reason as data (a code and its parameters, :mod:`glocal.delivery.reasons`), which the store
   reads in its own language ("Excluded: 3 emails already in the last 7 days (limit 3), including HQ's
   Wine fair."): the launch runs in a worker, whose language is nobody's;
3. of each campaign's final audience, a random ``holdout_percent`` (rounded down, seeded by the campaign's
   id) is held out as its control group (:func:`hold_out`): an exclusion "control group", no message;
4. the messages (with ``not_before`` = the next lawful instant in the recipient's time zone), the
   exclusions and the campaign's move to "sending" are written in ONE transaction: a launch that dies
   half-way leaves nothing, and the next tick launches again.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers
import polars as pl
from django.db import connection, transaction
from django.db.models import BooleanField, Case, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from glocal.audience.models import Contact
from glocal.audience.selectors import address_q, consent_q, with_suppression
from glocal.campaigns import audience as campaign_audience
from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import Event, State
from glocal.core import audit
from glocal.core.language import entity_language, speaking
from glocal.core.scope import activate, system_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.findings import ERROR
from glocal.creatives.models import ancestor_ids_of_path, values_digest
from glocal.network.models import Entity

from . import pressure, reasons, windows
from .models import DeliverySettings, Exclusion, Message, SendingWindow

log = logging.getLogger(__name__)

BATCH = 2000
SENDABLE_CHANNELS = ("email", "sms", "print")
LIVE_STATUSES = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.SENT, Message.Status.DELIVERED)
# US area codes of Florida, whose own telemarketing law stops SMS at 20:00 (subdivision "FL").
FLORIDA_AREA_CODES = frozenset({
    "239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689", "727", "728", "754",
    "772", "786", "813", "850", "863", "904", "941", "954",
})  # fmt: skip
# How many leading digits (calling code included) decide the place of a number whose calling code several
# regions share: numbering plans allocate by blocks — NANPA by area code + exchange (+1 NPA NXX, which is
# also as deep as phonenumbers' time-zone map goes under +1), the French overseas territories by
# 6-digit blocks (+262 692 xx, +590 690 xx) — and 9 digits cover every shared code; the tests check it on
# every region's example numbers.
SHARED_CODE_DIGITS = {1: 7}
SHARED_CODE_DEFAULT_DIGITS = 9
UNKNOWN_ZONE = "Etc/Unknown"


def stable_id(campaign_id: int, contact_id: int) -> str:
    """The message's id for life: Message-ID local part and provider idempotency key."""
    return f"g{campaign_id}-{contact_id}"


def campaign_ref(campaign_id: int) -> str:
    return f"g{campaign_id}"


# -- the organisation's rules -------------------------------------------------------------------------


def settings_for(organisation_id: int) -> DeliverySettings:
    obj = DeliverySettings.unscoped.filter(organisation_id=organisation_id).first()
    return obj or DeliverySettings(organisation_id=organisation_id)


def rules_for(settings: DeliverySettings) -> pressure.PressureRules:
    caps = (
        tuple(
            pressure.Cap(int(c["limit"]), dt.timedelta(days=int(c["days"])), c.get("channel") or None)
            for c in settings.caps or []
        )
        or pressure.DEFAULT_RULES.caps
    )
    return pressure.PressureRules(
        caps=caps, priority=pressure.Priority(settings.priority), count_scheduled=settings.count_scheduled
    )


def _window_of(days: list[int], start: dt.time | None, end: dt.time | None) -> windows.Window | None:
    if not (days or start or end):
        return None
    return windows.Window.hours(
        start.strftime("%H:%M") if start else "00:00",
        end.strftime("%H:%M") if end else "24:00",
        days=frozenset(int(d) for d in days) if days else windows.EVERY_DAY,
    )


def narrowed_window(
    settings: DeliverySettings, channel: str, entity: Entity | None = None
) -> windows.Window | None:
    """HQ's SMS window intersected with those the entity and its ancestors set, or None. The result is
    then intersected with the legal window (``windows.next_allowed``): each level can only narrow."""
    if channel != "sms":
        return None
    window = _window_of(settings.sms_days, settings.sms_start, settings.sms_end)
    if entity is not None:
        own = SendingWindow.unscoped.filter(
            organisation_id=entity.organisation_id, entity_id__in=ancestor_ids_of_path(entity.path)
        ).order_by("entity_path")
        for row in own:
            narrower = _window_of(row.sms_days, row.sms_start, row.sms_end)
            if narrower is not None:
                window = narrower if window is None else windows.narrow(window, narrower)
    return window


@lru_cache(maxsize=4096)
def _calling_code(lead: str) -> tuple[int, int] | None:
    """(calling code, decisive digits) of a number from its first three digits; None: no such code.

    The decisive digits are as many leading digits (calling code included) as decide the number's place:
    for a code one region owns, the longest prefix of phonenumbers' time-zone map under it (often the
    code itself: all of +33 is Europe/Paris); for a shared code, :data:`SHARED_CODE_DIGITS`."""
    for size in range(1, min(3, len(lead)) + 1):  # calling codes are prefix-free
        code = int(lead[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            if len(COUNTRY_CODE_TO_REGION_CODE[code]) > 1:
                return code, SHARED_CODE_DIGITS.get(code, SHARED_CODE_DEFAULT_DIGITS)
            prefix = str(code)
            return code, max((len(k) for k in TIMEZONE_DATA if k.startswith(prefix)), default=len(prefix))
    return None


def _zones_of(digits: str) -> tuple[str, ...]:
    """phonenumbers' time zones of a number (longest matching prefix of its map), unknown left out."""
    for size in range(min(len(digits), TIMEZONE_LONGEST_PREFIX), 0, -1):
        zones = TIMEZONE_DATA.get(digits[:size])
        if zones is not None:
            return tuple(z for z in zones if z != UNKNOWN_ZONE)
    return ()


def _number_place(mobile: str) -> tuple[windows.Place, ...]:
    """Every place an E.164 number may be in (its regions × their zones, with Florida's subdivision), ()
    when the number tells nothing. From the FULL number: phonenumbers' regions (for a shared calling
    code, those whose numbering plan holds the number) and its time-zone map; French territories get
    their own zones and holidays (phonenumbers gives every +262 mobile both Mayotte's and Réunion's zone)."""
    digits = mobile[1:]
    found = _calling_code(digits[:3]) if mobile[:1] == "+" and digits.isdigit() and len(digits) > 3 else None
    if found is None:
        return ()
    regions: tuple[str, ...] = COUNTRY_CODE_TO_REGION_CODE[found[0]]
    if len(regions) > 1:
        try:
            number = phonenumbers.parse(mobile)
        except phonenumbers.NumberParseException:
            return ()
        if found[0] == 1:  # NANPA: every area code belongs to one region (25 regions: ask once)
            region = phonenumbers.region_code_for_number(number)
            regions = (region,) if region else ()
        else:  # +590 690…: Guadeloupe, Saint-Barthélemy and Saint-Martin alike
            regions = tuple(r for r in regions if phonenumbers.is_valid_number_for_region(number, r))
    zones = _zones_of(digits)
    places: list[windows.Place] = []
    for region in regions:
        if region in windows.FRENCH_OVERSEAS:
            places.extend(windows.territory_places(region))
        elif region == "US":
            florida = "FL" if digits[1:4] in FLORIDA_AREA_CODES else None
            places.extend(windows.Place("US", zone, florida) for zone in zones)
        else:
            places.extend(windows.Place(region, zone) for zone in zones)
    return tuple(sorted(set(places)))


def _place_of(contact_country: str, mobile: str) -> tuple[windows.Place, ...]:
    """The number's places, narrowed to the contact's country when it is one of them."""
    places = _number_place(mobile)
    own = tuple(p for p in places if p.country == contact_country)
    return own or places


@lru_cache(maxsize=1024)
def _place_without_number(country: str, store_country: str, store_tz: str) -> tuple[windows.Place, ...]:
    if country in windows.FRENCH_OVERSEAS:
        return windows.territory_places(country)
    if country == store_country == "FR" and store_tz in windows.TERRITORY_OF_ZONE:
        return windows.territory_places(windows.TERRITORY_OF_ZONE[store_tz])
    return (windows.Place(country, store_tz),)


# (leading digits that decide the place, length, contact's country) → places: a launch of 100,000
# mainland numbers computes one entry.
_PLACES: dict[tuple[str, int, str], tuple[windows.Place, ...]] = {}


def recipient_place(
    contact_country: str, mobile: str, store_country: str, store_tz: str
) -> tuple[windows.Place, ...]:
    """Every place the recipient may be in; a message must be lawful in all of them.

    Their number's places (:func:`_number_place`), narrowed by the contact's country when it is one of
    them (a +590 mobile may be in Guadeloupe, Saint-Barthélemy or Saint-Martin; "FR" tells none apart,
    so all three then hold). Without a telling number: the contact's French territory, else the store's
    zone (a French store in an overseas zone: that territory, with its holidays).

    Cached by the leading digits that decide a number's place (:func:`_calling_code`) and its length."""
    store_country = (store_country or "FR").upper()
    country = (contact_country or store_country).upper()
    if mobile:
        found = _calling_code(mobile[1:4]) if mobile[:1] == "+" and mobile[1:].isdigit() else None
        if found is not None:
            key = (mobile[: 1 + found[1]], len(mobile), country)
            places = _PLACES.get(key)
            if places is None:
                if len(_PLACES) > 100_000:
                    _PLACES.clear()
                places = _PLACES[key] = _place_of(country, mobile)
            if places:
                return places
    return _place_without_number(country, store_country, store_tz)


# -- audiences ---------------------------------------------------------------------------------------


@dataclass
class Audience:
    campaign: Campaign
    channel: str  # the audience channel: email, sms, postal
    candidates: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # id → address, country, mobile
    excluded: list[tuple[int, str]] = field(default_factory=list)  # (contact id, reason)
    # A rented list's rows (not contacts; no marketing-pressure history): written beside the contacts.
    external: campaign_audience.ExternalAudience | None = None


def read_audience(campaign: Campaign) -> Audience:
    """One pass over the store's matching contacts, each a candidate or excluded with its reason (and,
    for a campaign addressing a rented list, the list's rows: :func:`campaign_audience.external_audience`)."""
    channel = campaign_audience.AUDIENCE_CHANNEL[campaign.channel]
    result = Audience(campaign, channel, external=campaign_audience.external_audience(campaign))
    qs, suppressed = with_suppression(
        campaign_audience.matching(campaign.entity.path, campaign.audience_criteria), channel
    )

    def flag(condition: Any) -> Case:
        return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())

    qs = qs.annotate(
        _consent=flag(consent_q(channel)), _address=flag(address_q(channel)), _opposed=flag(suppressed)
    )
    removed = {int(i) for i in campaign.excluded_contacts}
    columns = ("pk", "email", "mobile", "country", "postcode", "_consent", "_address", "_opposed")
    for pk, email, mobile, country, postcode, ok_consent, ok_address, opposed in qs.values_list(
        *columns
    ).iterator(chunk_size=5000):
        if not ok_consent:
            result.excluded.append((pk, Exclusion.Reason.NO_CONSENT))
        elif not ok_address:
            result.excluded.append((pk, Exclusion.Reason.NO_ADDRESS))
        elif opposed:
            result.excluded.append((pk, Exclusion.Reason.OPPOSITION))
        elif pk in removed:
            result.excluded.append((pk, Exclusion.Reason.REMOVED))
        else:
            address = email if channel == "email" else mobile if channel == "sms" else postcode
            result.candidates[pk] = (address, country, mobile)
    return result


# -- arbitration -------------------------------------------------------------------------------------


def _kind(campaign: Campaign) -> str:
    return "central" if campaign.kind == Campaign.Kind.OPERATION else "local"


def _weight(campaign: Campaign) -> int:
    if campaign.pressure_weight:
        return campaign.pressure_weight
    return campaign.operation.pressure_weight if campaign.operation is not None else 0


def history_frame(
    organisation_id: int,
    contact_ids: set[int],
    rules: pressure.PressureRules,
    now: dt.datetime,
    *,
    scheduled_since: dt.datetime | None = None,
    exclude_campaign: int | None = None,
) -> tuple[pl.DataFrame, dict[int, dict[str, str]]]:
    """The organisation's messages around ``now`` (sent, waiting, and — with ``count_scheduled`` — the
    audiences of campaigns scheduled from ``scheduled_since`` (default ``now``) to the end of the
    longest cap), for the contacts in play. The launch and the simulation before submission both use it.
    """
    horizon = max((cap.period for cap in rules.caps), default=dt.timedelta(days=7))
    rows: dict[str, list[Any]] = {"contact_id": [], "channel": [], "sent_at": [], "campaign_id": []}
    if contact_ids:
        messages = (
            Message.unscoped.filter(organisation_id=organisation_id, status__in=LIVE_STATUSES)
            .annotate(_at=Coalesce("sent_at", "not_before"))
            .filter(_at__gt=now - horizon, _at__lt=now + horizon)
            .values_list("contact_id", "channel", "_at", "campaign_id")
        )
        for contact_id, channel, at, campaign_id in messages.iterator(chunk_size=10000):
            if contact_id in contact_ids:
                rows["contact_id"].append(contact_id)
                rows["channel"].append(channel)
                rows["sent_at"].append(at)
                rows["campaign_id"].append(campaign_id)
    campaign_ids = set(rows["campaign_id"])
    if rules.count_scheduled and contact_ids:
        upcoming = (
            Campaign.unscoped.filter(
                organisation_id=organisation_id,
                state__in=(State.SUBMITTED, State.SCHEDULED, State.APPROVED),
                scheduled_at__gt=scheduled_since or now,
                scheduled_at__lt=now + horizon,
            )
            .exclude(pk=exclude_campaign)
            .select_related("entity", "version__template")
        )
        for other in upcoming:
            if other.channel not in campaign_audience.AUDIENCE_CHANNEL:
                continue
            ids = campaign_audience.recipients(
                other.entity.path,
                other.audience_criteria,
                other.channel,
                [int(i) for i in other.excluded_contacts],
            ).values_list("pk", flat=True)
            for contact_id in ids.iterator(chunk_size=10000):
                if contact_id in contact_ids:
                    rows["contact_id"].append(contact_id)
                    rows["channel"].append(other.channel)
                    rows["sent_at"].append(other.scheduled_at)
                    rows["campaign_id"].append(other.pk)
            campaign_ids.add(other.pk)
    names = {
        c.pk: {"name": c.name, "owner": c.entity.name}
        for c in Campaign.unscoped.filter(pk__in=campaign_ids).select_related("entity")
    }
    frame = pl.DataFrame(
        rows,
        schema={
            "contact_id": pl.Int64,
            "channel": pl.Utf8,
            "sent_at": pl.Datetime("us", "UTC"),
            "campaign_id": pl.Int64,
        },
    )
    return frame, names


def arbitrate(
    audiences: list[Audience], rules: pressure.PressureRules, now: dt.datetime
) -> tuple[dict[int, set[int]], dict[int, list[tuple[int, dict[str, Any]]]]]:
    """Selected contact ids per campaign, and the pressure exclusions (contact id, the reason's parameters:
    ``pressure.explanation``) per campaign."""
    contact_ids: set[int] = set()
    cand: dict[str, list[Any]] = {"contact_id": [], "campaign_id": [], "channel": []}
    for aud in audiences:
        contact_ids.update(aud.candidates)
        cand["contact_id"].extend(aud.candidates)
        cand["campaign_id"].extend([aud.campaign.pk] * len(aud.candidates))
        cand["channel"].extend([aud.campaign.channel] * len(aud.candidates))
    if not contact_ids:
        return {a.campaign.pk: set() for a in audiences}, {}
    organisation_id = audiences[0].campaign.organisation_id
    history, names = history_frame(organisation_id, contact_ids, rules, now)
    for aud in audiences:
        names[aud.campaign.pk] = {"name": aud.campaign.name, "owner": aud.campaign.entity.name}
    campaigns = pl.DataFrame(
        {
            "campaign_id": [a.campaign.pk for a in audiences],
            "kind": [_kind(a.campaign) for a in audiences],
            "weight": [_weight(a.campaign) for a in audiences],
            "scheduled_at": [a.campaign.scheduled_at or now for a in audiences],
        },
        schema={
            "campaign_id": pl.Int64,
            "kind": pl.Utf8,
            "weight": pl.Int64,
            "scheduled_at": pl.Datetime("us", "UTC"),
        },
    )
    candidates = pl.DataFrame(
        cand, schema={"contact_id": pl.Int64, "campaign_id": pl.Int64, "channel": pl.Utf8}
    )
    result = pressure.arbitrate(candidates, campaigns, history, rules, now)
    selected: dict[int, set[int]] = defaultdict(set)
    for contact_id, campaign_id in result.selected.select("contact_id", "campaign_id").iter_rows():
        selected[campaign_id].add(contact_id)
    excluded: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    explained: dict[tuple, dict[str, Any]] = {}
    for row in result.excluded.iter_rows(named=True):
        key = (row["rule"], row["already"], row["in_this_run"], tuple(row["used_by"]))
        if key not in explained:
            explained[key] = pressure.explanation(row, rules, names)
        excluded[row["campaign_id"]].append((row["contact_id"], explained[key]))
    return {a.campaign.pk: selected.get(a.campaign.pk, set()) for a in audiences}, excluded


# -- launch ------------------------------------------------------------------------------------------


@dataclass
class LaunchReport:
    campaign_id: int
    queued: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    rented: tuple[str, int, int] | None = None  # a rented list: (its label, queued, excluded)
    refused: str = ""  # its segment or rented list cannot be used now: not launched, back to draft
    blocked: list[str] = field(default_factory=list)  # its content's errors: not launched, back to draft


# -- the content gate --------------------------------------------------------------------------------


def _content_key(campaign: Campaign) -> str:
    return values_digest({"v": campaign.version_id, "values": campaign.values})


def content_errors(campaign: Campaign) -> list[str]:
    """The errors of the campaign's rendered content (the same checks as at publication and
    submission), in its store's language: a campaign with one is not launched."""
    preview = creative_selectors.preview(campaign.version, campaign.entity, campaign.values)
    with speaking(entity_language(campaign.entity)):
        return [f.text for f in preview.findings if f.severity == ERROR]


def _hold_back(campaign: Campaign, errors: list[str]) -> LaunchReport:
    """Not launched: back to draft (its spend released), saying why in its history, in the store's
    language; the store fixes the content and submits it again."""
    with speaking(entity_language(campaign.entity)):
        comment = _("Not launched: its content has errors to fix: %(errors)s") % {"errors": " ".join(errors)}
    campaign_services.campaign_transition(campaign=campaign, event=Event.EDIT, comment=comment)
    log.warning("campaign %s not launched: its content has errors", campaign.pk)
    return LaunchReport(campaign.pk, blocked=errors)


def _not_before(
    aud: Audience, contact_id: int, now: dt.datetime, settings: DeliverySettings, cache: dict
) -> dt.datetime:
    _address, country, mobile = aud.candidates[contact_id]
    store = aud.campaign.entity
    places = recipient_place(country, mobile if aud.channel == "sms" else "", store.country, store.timezone)
    key = (aud.campaign.channel, places)
    if key not in cache:
        if "window" not in cache:
            cache["window"] = narrowed_window(settings, aud.campaign.channel, store)
        cache[key] = lawful_instant(now, aud.campaign.channel, places, cache["window"])
    return cache[key]


def lawful_instant(
    now: dt.datetime, channel: str, places: tuple[windows.Place, ...], narrowed: windows.Window | None
) -> dt.datetime:
    """The first instant from ``now`` allowed in every one of ``places`` (UTC), within HQ's and the
    store's hours when they leave one. When they do not — hours narrower than the gap between the zones a
    number may be in (08:00–09:00 for an Alaska number: Anchorage and Adak are an hour apart) — the
    law's own window in every zone; and if even those never meet, the first place's alone, logged. A
    message is never dropped and the launch never fails over one recipient."""
    try:
        found = windows.next_allowed_everywhere(now, channel=channel, places=places, narrowed=narrowed)
    except windows.WindowError:
        try:
            found = windows.next_allowed_everywhere(now, channel=channel, places=places)
        except windows.WindowError:
            log.warning("no instant is lawful in all of %s: timed for the first one only", places)
            found = windows.next_allowed_everywhere(now, channel=channel, places=places[:1])
    return found.astimezone(dt.UTC)


MESSAGE_COLUMNS = (
    "organisation_id", "entity_id", "entity_path", "campaign_id", "contact_id", "channel", "to_address",
    "stable_id", "status", "not_before", "attempts", "claimed_by", "sent_at", "last_error", "enhanced_code",
    "provider_id", "possible_duplicate", "body", "created_at",
)  # fmt: skip
EXCLUSION_COLUMNS = (
    "organisation_id", "entity_path", "campaign_id", "contact_id", "reason", "detail_code", "params",
    "detail", "at",
)  # fmt: skip


def insert_rows(model: Any, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """The launch's large writes without the ORM (whose bulk_create spends most of its time preparing
    each field of each row): ``COPY … FROM STDIN`` on PostgreSQL, plain multi-row INSERTs
    (``executemany``) elsewhere. Values must be ready for the database (datetimes through
    ``adapt_datetimefield_value``, JSON through the field's ``get_db_prep_save``)."""
    table, names = model._meta.db_table, ", ".join(columns)
    if connection.vendor == "postgresql":
        # Each batch is built before its COPY: building a row may query (a store's sending window), and
        # the connection runs nothing else while a COPY is open.
        copied = 0
        block: list[tuple] = []
        for row in rows:
            block.append(row)
            if len(block) >= COPY_BATCH:
                copied += _copy(table, names, block)
                block = []
        return copied + (_copy(table, names, block) if block else 0)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    count = 0
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


COPY_BATCH = 20_000


def _copy(table: str, names: str, rows: list[tuple]) -> int:
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _json_param(value: dict[str, Any]) -> Any:
    """A JSON value ready for a plain INSERT into ``Exclusion.params`` on this database."""
    return Exclusion._meta.get_field("params").get_db_prep_save(value, connection)


@dataclass(frozen=True)
class ControlGroup:
    percent: int
    contacts: frozenset[int] = frozenset()


def holdout_percent(campaign: Campaign) -> int:
    """The campaign's control group share: its own, else (a campaign older than control groups) its
    operation's, else the organisation's default."""
    if campaign.holdout_percent is not None:
        return campaign.holdout_percent
    settings = campaign_selectors.settings_for(campaign.organisation_id)
    return campaign_services.default_holdout(settings, campaign.operation)


def draw_control(campaign_id: int, selected: Iterable[int], percent: int) -> frozenset[int]:
    """floor(n × percent / 100) of the ``selected`` contact ids, drawn at random with a generator seeded
    by the campaign's id: a launch run again over the same audience holds out the same contacts."""
    pool = sorted(selected)
    size = len(pool) * max(percent, 0) // 100
    if size <= 0:
        return frozenset()
    # Not a secret: a reproducible draw (S311 is about cryptography).
    rng = random.Random(f"glocal-holdout-{campaign_id}")  # noqa: S311
    return frozenset(rng.sample(pool, size))


def hold_out(campaign: Campaign, selected: set[int]) -> ControlGroup:
    """The campaign's control group, drawn from its final audience (after consent, address, opposition,
    the store's removals and marketing pressure): contacts only, a rented list's rows are never held
    out. They get no message, so no later pressure count sees them."""
    percent = holdout_percent(campaign)
    return ControlGroup(percent, draw_control(campaign.pk, selected, percent))


def _write(
    aud: Audience,
    selected: set[int],
    pressure_excluded: list[tuple[int, dict[str, Any]]],
    now: dt.datetime,
    settings: DeliverySettings,
    control: ControlGroup | None = None,
) -> LaunchReport:
    campaign = aud.campaign
    report = LaunchReport(campaign.pk)
    windows_cache: dict = {}
    entity = campaign.entity
    printed = campaign.channel == "print"
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    # Print: the letters go out as one batch for the printer (delivery.direct_mail job): written as sent.
    status = Message.Status.SENT if printed else Message.Status.QUEUED
    messages = (
        (
            campaign.organisation_id, entity.pk, entity.path, campaign.pk, contact_id, campaign.channel,
            aud.candidates[contact_id][0], stable_id(campaign.pk, contact_id), status,
            at if printed else adapt(_not_before(aud, contact_id, now, settings, windows_cache)),
            0, "", at if printed else None, "", "", "", False, "", at,
        )
        for contact_id in sorted(selected)
    )  # fmt: skip
    report.queued = insert_rows(Message, MESSAGE_COLUMNS, messages)
    no_params = _json_param({})
    as_json: dict[int, Any] = {}  # one adapted value per distinct reason (id of its params dict)
    for _contact_id, params in pressure_excluded:
        if id(params) not in as_json:
            as_json[id(params)] = _json_param(params)
    exclusions = [
        (campaign.organisation_id, entity.path, campaign.pk, contact_id, reason, "", no_params, "", at)
        for contact_id, reason in aud.excluded
    ] + [
        (
            campaign.organisation_id, entity.path, campaign.pk, contact_id, Exclusion.Reason.PRESSURE,
            reasons.PRESSURE_CAP, as_json[id(params)], "", at,
        )
        for contact_id, params in pressure_excluded
    ]  # fmt: skip
    if control is not None and control.contacts:
        held = _json_param({"percent": control.percent})
        exclusions += [
            (
                campaign.organisation_id, entity.path, campaign.pk, contact_id, Exclusion.Reason.CONTROL,
                reasons.CONTROL_GROUP, held, "", at,
            )
            for contact_id in sorted(control.contacts)
        ]  # fmt: skip
    insert_rows(Exclusion, EXCLUSION_COLUMNS, exclusions)
    for row in exclusions:
        report.excluded[row[4]] = report.excluded.get(row[4], 0) + 1
    if aud.external is not None:
        report.rented = _write_rented(aud, aud.external, now, settings)
    return report


RENTED_LIST = "rented_list"  # Exclusion.detail_code of a rented list's row (no contact)


def rented_stable_id(campaign_id: int, ref: str) -> str:
    """A rented list's message: ``g<campaign>-p<row>`` (a contact's is ``g<campaign>-<contact id>``)."""
    return f"g{campaign_id}-{ref}"


def is_rented(stable_id: str) -> bool:
    return stable_id.rpartition("-")[2].startswith("p")


def _write_rented(
    aud: Audience, external: campaign_audience.ExternalAudience, now: dt.datetime, settings: DeliverySettings
) -> tuple[str, int, int]:
    """A rented list's messages (no contact: the address is the row's) and exclusions. Lawful hours in
    the store's country and zone (or the mobile's places); no pressure history: they are not contacts."""
    campaign, entity = aud.campaign, aud.campaign.entity
    printed = campaign.channel == "print"
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    status = Message.Status.SENT if printed else Message.Status.QUEUED
    window = narrowed_window(settings, campaign.channel, entity)

    def not_before(row: campaign_audience.ExternalRecipient) -> Any:
        if printed:
            return at
        mobile = row.mobile if campaign.channel == "sms" else ""
        places = recipient_place(entity.country, mobile, entity.country, entity.timezone)
        return adapt(lawful_instant(now, campaign.channel, places, window))

    messages = (
        (
            campaign.organisation_id, entity.pk, entity.path, campaign.pk, None, campaign.channel, address,
            rented_stable_id(campaign.pk, ref), status, not_before(row), 0, "", at if printed else None,
            "", "", "", False, "", at,
        )
        for ref, (address, row) in sorted(external.candidates.items())
    )  # fmt: skip
    queued = insert_rows(Message, MESSAGE_COLUMNS, messages)
    params = _json_param({"list": external.prospect_list})
    insert_rows(
        Exclusion,
        EXCLUSION_COLUMNS,
        (
            (campaign.organisation_id, entity.path, campaign.pk, None, reason, RENTED_LIST, params, "", at)
            for _ref, reason in external.excluded
        ),
    )
    return external.label, queued, len(external.excluded)


def _refuse_sources(campaigns: list[Campaign]) -> tuple[list[Campaign], list[LaunchReport]]:
    """Campaigns whose segment or rented list cannot be used now (HQ tightened its guardrails since,
    the list was purged…) are not launched: back to draft, saying why in their history in the store's
    language. The others go on."""
    from django.utils.translation import gettext

    from glocal.campaigns.states import Event
    from glocal.core.language import entity_language, speaking

    kept, refused = [], []
    for campaign in campaigns:
        with speaking(entity_language(campaign.entity)):
            problem = campaign_audience.source_problem(campaign.audience_criteria, campaign.entity.path)
            comment = gettext("Not launched: %(why)s") % {"why": problem} if problem else ""
        if not problem:
            kept.append(campaign)
            continue
        campaign_services.campaign_transition(campaign=campaign, event=Event.EDIT, comment=comment)
        log.warning("campaign %s not launched: its audience source is refused", campaign.pk)
        refused.append(LaunchReport(campaign.pk, refused=problem))
    return kept, refused


def launch(campaigns: list[Campaign], *, now: dt.datetime | None = None) -> list[LaunchReport]:
    """Launch campaigns of ONE organisation together, in the organisation's system scope (the caller's).

    All or nothing: the outbox rows, the exclusions and every campaign's move to "sending" commit
    together. A campaign another worker launched meanwhile (no longer "scheduled") is left out."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    if not campaigns:
        return []
    settings = settings_for(campaigns[0].organisation_id)
    rules = rules_for(settings)
    reports: list[LaunchReport] = []
    # Rendered before the write lock is taken; checked again below if the content changed meanwhile.
    checked = {c.pk: (_content_key(c), content_errors(c)) for c in campaigns}
    with transaction.atomic():
        locked = list(
            Campaign.objects.select_for_update(of=("self",))
            .filter(pk__in=[c.pk for c in campaigns], state=State.SCHEDULED)
            .select_related("entity", "version__template", "operation")
            .order_by("pk")
        )
        if not locked:
            return []
        errors = {
            c.pk: checked[c.pk][1] if checked.get(c.pk, ("",))[0] == _content_key(c) else content_errors(c)
            for c in locked
        }
        reports += [_hold_back(c, errors[c.pk]) for c in locked if errors[c.pk]]
        locked = [c for c in locked if not errors[c.pk]]
        locked, refused = _refuse_sources(locked)
        reports += refused
        # A print kit (posters, flyers) addresses nobody: it goes to "sending" and is closed as sent with
        # no message (the kit is the store's download); only letters become a direct-mail batch.
        sendable = [
            c for c in locked if c.channel in SENDABLE_CHANNELS and campaign_selectors.addresses_contacts(c)
        ]
        audiences = [read_audience(c) for c in sendable]
        selected, excluded = arbitrate(audiences, rules, now)
        for aud in audiences:
            pk = aud.campaign.pk
            control = hold_out(aud.campaign, selected[pk])
            selected[pk] = selected[pk] - control.contacts
            reports.append(_write(aud, selected[pk], excluded.get(pk, []), now, settings, control))
        for campaign in locked:
            campaign_services.campaign_start_sending(campaign=campaign)
            audit.record(
                action="campaign.launch",
                summary=f"{campaign.name}: launched",
                entity_id=campaign.entity_id,
                data={"campaign": campaign.pk, "name": campaign.name},
            )
        if any(c.channel == "print" for c in sendable):
            transaction.on_commit(lambda: _start_print_batches([c for c in sendable if c.channel == "print"]))
    return reports


def _start_print_batches(campaigns: list[Campaign]) -> None:
    from glocal.core import jobs

    for campaign in campaigns:
        if "delivery.direct_mail" in jobs.HANDLERS:
            scope = system_scope(campaign.organisation_id)
            jobs.enqueue(
                "delivery.direct_mail", scope=scope, params={"campaign": campaign.pk}, by_user_id=None
            )


def due_campaigns(now: dt.datetime) -> dict[int, list[Campaign]]:
    """Scheduled campaigns whose send date has come, per organisation (every organisation: no scope)."""
    due: dict[int, list[Campaign]] = defaultdict(list)
    for campaign in Campaign.unscoped.filter(state=State.SCHEDULED, scheduled_at__lte=now).order_by("pk"):
        due[campaign.organisation_id].append(campaign)
    return due


def launch_due(*, now: dt.datetime | None = None) -> list[LaunchReport]:
    """Launch every due campaign, one organisation at a time (each in its own scope and transaction)."""
    now = now or timezone.now()
    reports: list[LaunchReport] = []
    for organisation_id, campaigns in due_campaigns(now).items():
        with activate(system_scope(organisation_id)):
            try:
                reports.extend(launch(campaigns, now=now))
            except Exception:  # one organisation's failure never blocks the others; retried next tick
                log.exception("launch failed for organisation %s", organisation_id)
    return reports


def unopposed_rented(organisation_id: int, messages: list[Message]) -> set[int]:
    """Of a rented list's messages, those whose address is not on the opposition list now (any
    channel, by hash, as at upload): the dispatch re-check for recipients who are not contacts."""
    from glocal.audience.models import Suppression, hash_value

    hashes = {m.pk: hash_value(m.to_address) for m in messages if m.to_address}
    opposed = set(
        Suppression.unscoped.filter(
            organisation_id=organisation_id, value_hash__in=set(hashes.values())
        ).values_list("value_hash", flat=True)
    )
    return {pk for pk, value in hashes.items() if value not in opposed}


def reachable_ids(channel: str, contact_ids: list[int]) -> set[int]:
    """Of ``contact_ids``, those marketing may still address on ``channel`` now (dispatch re-check)."""
    audience_channel = campaign_audience.AUDIENCE_CHANNEL.get(channel, channel)
    qs, suppressed = with_suppression(Contact.unscoped.filter(pk__in=contact_ids), audience_channel)
    return set(
        qs.filter(consent_q(audience_channel) & address_q(audience_channel) & ~suppressed).values_list(
            "pk", flat=True
        )
    )
