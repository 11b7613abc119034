"""The watermark job: adds new message events, purchases (through attribution) and spend to the daily
rollups, incrementally and idempotently.

Each source (``events``, ``purchases``, ``ledger``) has a :class:`RollupWatermark` holding the last id
already counted. A run reads the rows above it in id order, in batches; each batch adds its contributions
to the rollups **and** moves the watermark in one transaction, under the watermark's row lock. A crash
inside a batch rolls all of it back, so a re-run counts the same rows once — never twice, never not.

Ids are handed out before commit, so a row with a lower id can become visible after a higher one (on
PostgreSQL). A row is only taken once it has *settled*: its timestamp (``at`` / ``created_at``, written
as "now" by every writer) is more than ``GLOCAL_ROLLUP_SETTLE_SECONDS`` old, and a batch stops at the first
row that has not. Every id below a settled row was handed out earlier still, so its transaction has
committed unless it ran longer than the settle delay.

Figures (docs/reporting.md): ``sent`` — first "sent" event of a message (accepted by the provider);
``bounced_hard`` / ``bounced_soft`` — first "bounced" event of a sent message, or a "failed" receipt after
it was sent (hard: the address was suppressed); ``delivered`` = sent − bounced (+1 at the send, −1 at the
bounce, on the same day); ``opened_unique`` / ``clicked_unique`` / ``unsubscribed`` / ``complained`` — a
message's first event of the kind; ``*_total`` — every event. All on the message's send day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from glocal.audience.models import Purchase
from glocal.campaigns.models import Campaign, LedgerEntry
from glocal.delivery.models import Message, MessageEvent

from . import attribution
from .models import AMOUNTS, ControlConversion, Conversion, DailyRollup, MessageFirstSeen, RollupWatermark

BATCH = 1000
SOURCES = ("events", "purchases", "ledger")
EVENT_KINDS = (
    MessageEvent.Kind.SENT,
    MessageEvent.Kind.BOUNCED,
    MessageEvent.Kind.FAILED,
    MessageEvent.Kind.OPENED,
    MessageEvent.Kind.CLICKED,
    MessageEvent.Kind.UNSUBSCRIBED,
    MessageEvent.Kind.COMPLAINT,
)
# (organisation, entity, campaign, operation, channel, day)
Key = tuple[int, int, int | None, int | None, str, dt.date]


def local_day(at: dt.datetime) -> dt.date:
    """The day a timestamp falls on in the platform's time zone (``TIME_ZONE``)."""
    return timezone.localtime(at).date()


@dataclass
class Contributions:
    """What one batch adds, per rollup key."""

    by_key: dict[Key, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, key: Key, **figures: Any) -> None:
        for name, value in figures.items():
            self.by_key[key][name] += value


def _checkpoint(source: str) -> None:
    """Called inside each batch's transaction after the rollups are written, before the watermark moves
    (a test makes it raise: the crash the job must survive)."""


def settle_cutoff(now: dt.datetime | None = None, settle: float | None = None) -> dt.datetime:
    if settle is None:
        settle = getattr(settings, "GLOCAL_ROLLUP_SETTLE_SECONDS", 60)
    return (now or timezone.now()) - dt.timedelta(seconds=settle)


def run(*, now: dt.datetime | None = None, settle: float | None = None, batch: int = BATCH) -> dict[str, int]:
    """Bring every rollup up to date (events first: conversions need the send days). Returns the number
    of rows read per source. Safe to run from several processes at once (the watermark lock serialises
    them) and to re-run after a crash. ``settle``: seconds a row must be old to be taken (default
    ``GLOCAL_ROLLUP_SETTLE_SECONDS``, 60; 0 for a script that has just written its rows)."""
    cutoff = settle_cutoff(now, settle)
    done = {}
    for source, step in (
        ("events", _events_batch),
        ("purchases", _purchases_batch),
        ("ledger", _ledger_batch),
    ):
        total = 0
        while True:
            n = _one_batch(source, step, cutoff, batch)
            total += n
            if n < batch:
                break
        done[source] = total
    return done


def rebuild(*, now: dt.datetime | None = None, settle: float | None = None) -> dict[str, int]:
    """Forget every rollup, first-seen mark and conversion and count everything again (attribution
    settings changed, a definition changed)."""
    with transaction.atomic():
        DailyRollup.unscoped.all().delete()
        Conversion.unscoped.all().delete()
        ControlConversion.unscoped.all().delete()
        MessageFirstSeen.objects.all().delete()
        RollupWatermark.objects.all().update(last_id=0, updated_at=timezone.now())
    return run(now=now, settle=settle)


def _one_batch(source: str, step: Any, cutoff: dt.datetime, batch: int) -> int:
    with transaction.atomic():
        RollupWatermark.objects.get_or_create(source=source)
        mark = RollupWatermark.objects.select_for_update().get(source=source)
        contributions = Contributions()
        read, last_id = step(mark.last_id, cutoff, batch, contributions)
        if not read:
            return 0
        _apply(contributions)
        _checkpoint(source)
        mark.last_id = last_id
        mark.updated_at = timezone.now()
        mark.save(update_fields=["last_id", "updated_at"])
    return read


def _settled(rows: Iterable[dict[str, Any]], stamp: str, cutoff: dt.datetime) -> list[dict[str, Any]]:
    """The rows up to (not including) the first one that has not settled."""
    kept = []
    for row in rows:
        if row[stamp] > cutoff:
            break
        kept.append(row)
    return kept


def _apply(contributions: Contributions) -> None:
    """Add each key's figures to its rollup row (created at zero when missing)."""
    for key, figures in contributions.by_key.items():
        organisation, entity, campaign, operation, channel, day = key
        match = {
            "organisation_id": organisation,
            "entity_id": entity,
            "campaign_id": campaign,
            "operation_id": operation,
            "channel": channel,
            "day": day,
        }
        changes = {name: F(name) + value for name, value in figures.items() if value}
        if not changes:
            continue
        if not DailyRollup.unscoped.filter(**match).update(**changes):
            DailyRollup.unscoped.create(
                **match,
                **{name: (Decimal(value) if name in AMOUNTS else value) for name, value in figures.items()},
            )


# -- events --------------------------------------------------------------------------------------------


def _message_facts(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    return {
        row["id"]: row
        for row in Message.unscoped.filter(id__in=set(ids)).values(
            "id",
            "organisation_id",
            "entity_id",
            "campaign_id",
            "channel",
            "campaign__operation_id",
            "sent_at",
        )  # fmt: skip
    }


def message_key(message: dict[str, Any], day: dt.date) -> Key:
    return (
        message["organisation_id"],
        message["entity_id"],
        message["campaign_id"],
        message["campaign__operation_id"],
        message["channel"],
        day,
    )


def _events_batch(after: int, cutoff: dt.datetime, batch: int, out: Contributions) -> tuple[int, int]:
    rows = list(
        MessageEvent.unscoped.filter(id__gt=after, kind__in=EVENT_KINDS)
        .order_by("id")
        .values("id", "message_id", "kind", "at", "detail")[:batch]
    )
    rows = _settled(rows, "at", cutoff)
    if not rows:
        return 0, after
    messages = _message_facts(r["message_id"] for r in rows)
    seen: dict[tuple[int, str], dt.date] = {
        (m, k): d
        for m, k, d in MessageFirstSeen.objects.filter(message_id__in=messages).values_list(
            "message_id", "kind", "day"
        )
    }
    new: list[MessageFirstSeen] = []
    for row in rows:
        message = messages.get(row["message_id"])
        if message is not None:
            count_event(row, message, seen, new, out)
    MessageFirstSeen.objects.bulk_create(new)
    return len(rows), rows[-1]["id"]


def count_event(
    row: dict[str, Any],
    message: dict[str, Any],
    seen: dict[tuple[int, str], dt.date],
    new: list[MessageFirstSeen],
    out: Contributions,
) -> None:
    """One event's contribution (shared by the job and by the recomputation the tests compare it to)."""
    mid, kind, at = message["id"], row["kind"], row["at"]
    if kind == MessageEvent.Kind.SENT:
        if _first(mid, kind, seen, new, at):
            out.add(message_key(message, local_day(at)), sent=1, delivered=1)
        return
    sent_day = seen.get((mid, MessageEvent.Kind.SENT))
    key = message_key(message, sent_day or local_day(at))
    if kind in (MessageEvent.Kind.BOUNCED, MessageEvent.Kind.FAILED):
        # A failure before any "sent" is a refusal at the send (never went out): not a bounce. After it,
        # a "failed" receipt (SMS undelivered) is one, counted once with the "bounced" events.
        if sent_day is not None and _first(mid, MessageEvent.Kind.BOUNCED, seen, new, at):
            detail = row["detail"] or {}
            hard = detail.get("action") == "hard_bounce" or bool(detail.get("suppressed"))
            out.add(key, delivered=-1, **{"bounced_hard" if hard else "bounced_soft": 1})
        return
    first = _first(mid, kind, seen, new, at)
    if kind == MessageEvent.Kind.OPENED:
        out.add(key, opened_total=1, opened_unique=int(first))
    elif kind == MessageEvent.Kind.CLICKED:
        out.add(key, clicked_total=1, clicked_unique=int(first))
    elif kind == MessageEvent.Kind.UNSUBSCRIBED:
        out.add(key, unsubscribed=int(first))
    elif kind == MessageEvent.Kind.COMPLAINT:
        out.add(key, complained=int(first))


def _first(
    mid: int, kind: str, seen: dict[tuple[int, str], dt.date], new: list[MessageFirstSeen], at: dt.datetime
) -> bool:
    """True (and remembered) the first time a message has an event of this kind."""
    if (mid, kind) in seen:
        return False
    seen[(mid, kind)] = local_day(at)
    new.append(MessageFirstSeen(message_id=mid, kind=kind, day=local_day(at)))
    return True


# -- purchases (attribution) ----------------------------------------------------------------------------


def _purchases_batch(after: int, cutoff: dt.datetime, batch: int, out: Contributions) -> tuple[int, int]:
    rows = list(
        Purchase.unscoped.filter(id__gt=after)
        .order_by("id")
        .values("id", "organisation_id", "contact_id", "date", "amount", "created_at")[:batch]
    )
    rows = _settled(rows, "created_at", cutoff)
    if not rows:
        return 0, after
    made = attribution.attribute(rows)
    if made:
        messages = _message_facts(c.message_id for c in made)
        sent_days = dict(
            MessageFirstSeen.objects.filter(
                message_id__in=[c.message_id for c in made], kind=MessageEvent.Kind.SENT
            ).values_list("message_id", "day")
        )
        for conversion in made:
            message = messages[conversion.message_id]
            conversion.day = sent_days.get(conversion.message_id) or local_day(message["sent_at"])
            out.add(message_key(message, conversion.day), converted=1, revenue=conversion.revenue)
        Conversion.unscoped.bulk_create(made)
    # Control groups: the same batch, so the watermark covers both (one transaction).
    ControlConversion.unscoped.bulk_create(attribution.control_conversions(rows))
    return len(rows), rows[-1]["id"]


# -- spend -----------------------------------------------------------------------------------------------


def _ledger_batch(after: int, cutoff: dt.datetime, batch: int, out: Contributions) -> tuple[int, int]:
    rows = list(
        LedgerEntry.unscoped.filter(id__gt=after, kind=LedgerEntry.Kind.ACTUAL)
        .order_by("id")
        .values("id", "organisation_id", "entity_id", "campaign_id", "amount", "at")[:batch]
    )
    rows = _settled(rows, "at", cutoff)
    if not rows:
        return 0, after
    campaigns = campaign_facts(r["campaign_id"] for r in rows)
    for row in rows:
        operation, channel = campaigns[row["campaign_id"]]
        key = (
            row["organisation_id"],
            row["entity_id"],
            row["campaign_id"],
            operation,
            channel,
            local_day(row["at"]),
        )
        out.add(key, cost=row["amount"])
    return len(rows), rows[-1]["id"]


def campaign_facts(ids: Iterable[int]) -> dict[int, tuple[int | None, str]]:
    """Each campaign's operation and channel (its template's)."""
    return {
        pk: (operation, channel)
        for pk, operation, channel in Campaign.unscoped.filter(id__in=set(ids)).values_list(
            "id", "operation_id", "version__template__channel"
        )
    }
