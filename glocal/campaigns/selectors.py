"""Reads for campaigns: eligibility, simulation (audience, exclusions, pressure, cost), budgets,
the calendar and its conflicts, approval queues and participation. Always through scoped managers."""

from __future__ import annotations

import calendar as calmod
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from glocal.audience.selectors import address_q, consent_q, suppressed_q
from glocal.brand import printing
from glocal.core.roles import Role
from glocal.core.scope import get_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.models import ChannelTemplate, TemplateVersion, ancestor_ids_of_path
from glocal.network.models import Entity, Membership

from . import audience
from .models import (
    ApprovalPolicy,
    ApprovalStep,
    Budget,
    CalendarSlot,
    Campaign,
    CampaignSettings,
    CampaignTransition,
    LedgerEntry,
    Operation,
    OperationWave,
    Participation,
    Proof,
    TemplatePolicy,
    line_key,
)
from .states import Event, State

CENTS = Decimal("0.01")
ACTIVE_STATES = (State.SUBMITTED, State.APPROVED, State.SCHEDULED, State.SENDING, State.SENT)
PRESSURE_SAMPLE = 50_000  # contacts fed to the pressure simulation (beyond: reported as a sample)


def settings_for(organisation_id: int) -> CampaignSettings:
    found = CampaignSettings.objects.filter(organisation_id=organisation_id).first()
    return found or CampaignSettings(organisation_id=organisation_id, local_criteria=["kind", "tags"])


def template_policy(template: ChannelTemplate) -> str:
    """The approval policy of local campaigns from ``template``: HQ's override, else the template's."""
    found = TemplatePolicy.objects.filter(template=template).values_list("policy", flat=True).first()
    return found or template.approval_policy


# -- what a template produces -------------------------------------------------------------------------

# A campaign's deliverable, by its template: messages sent to contacts (email, SMS), a direct-mail batch
# (print letters, one per recipient, merged for the printer) or a print kit (posters, flyers and
# point-of-sale cards: PDFs the store downloads and prints in store; nobody is addressed).
EMAIL, SMS, DIRECT_MAIL, PRINT_KIT = "email", "sms", "direct_mail", "print_kit"
DELIVERABLE_LABELS = {
    EMAIL: _lazy("An email sent to your contacts"),
    SMS: _lazy("An SMS sent to your contacts"),
    DIRECT_MAIL: _lazy("A direct-mail batch: one letter per contact, in one PDF for the printer"),
    PRINT_KIT: _lazy("A print kit: posters or flyers to download and print in store (nobody is addressed)"),
}


def deliverable(version: TemplateVersion) -> str:
    """What a campaign from ``version`` produces (``EMAIL``, ``SMS``, ``DIRECT_MAIL``, ``PRINT_KIT``)."""
    channel = version.template.channel
    if channel == "print":
        return DIRECT_MAIL if printing.parse_options(version.source).page.letter else PRINT_KIT
    return channel


def addresses_contacts(campaign: Campaign) -> bool:
    """Does the campaign go to contacts (its audience matters)? Not a print kit's posters."""
    return deliverable(campaign.version) != PRINT_KIT


# -- operations -------------------------------------------------------------------------------------


def is_local_scope() -> bool:
    scope = get_scope()
    return Entity.objects.filter(pk=scope.entity_id, entity_type__is_local=True).exists()


def eligible_stores(operation: Operation) -> QuerySet[Entity]:
    """Active stores eligible for the operation, inside the owner's subtree (and the active scope)."""
    qs = Entity.objects.filter(
        entity_type__is_local=True, is_active=True, path__startswith=operation.owner.path
    ).select_related("entity_type")
    if operation.eligibility == Operation.Eligibility.SUBTREE and operation.eligible_root is not None:
        qs = qs.filter(path__startswith=operation.eligible_root.path)
    elif operation.eligibility == Operation.Eligibility.GROUP and operation.eligible_group_id:
        qs = qs.filter(groups=operation.eligible_group_id)
    elif operation.eligibility == Operation.Eligibility.LIST:
        qs = qs.filter(pk__in=operation.eligible_entities.values("pk"))
    return qs.order_by("name")


def is_open_to(operation: Operation, entity: Entity, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (
        operation.status == Operation.Status.PUBLISHED
        and operation.visible_from <= today
        and eligible_stores(operation).filter(pk=entity.pk).exists()
    )


def operations_for_scope() -> QuerySet[Operation]:
    """HQ and regions: every operation of the scope. A store: the published, visible ones it is
    eligible for (others are not found, like missing ones)."""
    qs = Operation.objects.select_related("owner").prefetch_related("waves__version__template")
    scope = get_scope()
    if not is_local_scope():
        return qs
    today = timezone.localdate()
    ids = [
        op.pk
        for op in qs.filter(status=Operation.Status.PUBLISHED, visible_from__lte=today)
        if eligible_stores(op).filter(pk=scope.entity_id).exists()
    ]
    return qs.filter(pk__in=ids)


@dataclass
class ParticipationRow:
    entity: Entity
    status: str
    status_label: str
    campaigns: list[Campaign]
    personalised: bool
    submitted: bool


def participation_overview(operation: Operation) -> dict[str, Any]:
    """Per eligible store: answered or not, personalised or not (HQ's follow-up)."""
    parts = {
        p.entity_id: p for p in Participation.objects.filter(operation=operation).select_related("entity")
    }
    campaigns: dict[int, list[Campaign]] = {}
    for c in (
        Campaign.objects.filter(operation=operation).exclude(state=State.CANCELLED).select_related("wave")
    ):
        campaigns.setdefault(c.entity_id, []).append(c)
    rows = []
    for store in eligible_stores(operation):
        part = parts.get(store.pk)
        status = part.status if part else Participation.Status.PENDING
        mine = campaigns.get(store.pk, [])
        personalised = bool(mine) and all(c.personalised_at is not None for c in mine)
        rows.append(
            ParticipationRow(
                entity=store,
                status=status,
                status_label=str(Participation.Status(status).label),
                campaigns=mine,
                personalised=personalised and not (part and part.defaults_applied),
                submitted=bool(mine) and all(c.state in ACTIVE_STATES for c in mine),
            )
        )
    counts = {s: sum(1 for r in rows if r.status == s) for s in Participation.Status.values}
    counts["not_personalised"] = sum(
        1 for r in rows if r.status == Participation.Status.SUBSCRIBED and not r.submitted
    )
    return {"rows": rows, "counts": counts, "total": len(rows)}


@dataclass(frozen=True)
class ParticipationCounts:
    eligible: int = 0  # the stores asked (a participation row each, made at publication)
    answered: int = 0  # taking part or opted out
    subscribed: int = 0  # taking part
    personalised: int = 0  # taking part, every wave submitted by the store (not HQ's defaults)


def participation_counts(operation_ids: list[int]) -> dict[int, ParticipationCounts]:
    """``participation_overview``'s figures for many operations at once, in two queries."""
    if not operation_ids:
        return {}
    parts = (
        Participation.objects.filter(operation_id__in=operation_ids)
        .values("operation_id")
        .annotate(
            eligible=Count("id"),
            answered=Count(
                "id",
                filter=Q(status__in=[Participation.Status.SUBSCRIBED, Participation.Status.OPTED_OUT]),
            ),
            subscribed=Count("id", filter=Q(status=Participation.Status.SUBSCRIBED)),
            defaults=Count("id", filter=Q(status=Participation.Status.SUBSCRIBED, defaults_applied=True)),
        )
        .order_by()
    )
    late = dict(  # stores with a wave still to submit (in draft, or sent back for changes)
        Campaign.objects.filter(
            operation_id__in=operation_ids, state__in=[State.DRAFT, State.CHANGES_REQUESTED]
        )
        .values("operation_id")
        .annotate(n=Count("entity_id", distinct=True))
        .order_by()
        .values_list("operation_id", "n")
    )
    return {
        row["operation_id"]: ParticipationCounts(
            eligible=row["eligible"],
            answered=row["answered"],
            subscribed=row["subscribed"],
            personalised=max(0, row["subscribed"] - row["defaults"] - late.get(row["operation_id"], 0)),
        )
        for row in parts
    }


# -- simulation -------------------------------------------------------------------------------------


@dataclass
class Simulation:
    matching: int = 0
    no_consent: int = 0
    no_address: int = 0
    suppressed: int = 0
    removed: int = 0
    pressure: int = 0
    recipients: int = 0
    unit_cost: Decimal = Decimal("0")
    units_per_message: int = 1
    cost: Decimal = Decimal("0")
    coop: Decimal = Decimal("0")
    budget_available: Decimal | None = None
    budget_line: str | None = None  # the line of the budget it draws on ("": the general line)
    over_budget: bool = False
    pressure_reasons: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: str = ""  # why its segment or rented list cannot be used (HQ's guardrails, a purged list)
    rented_list: str = ""  # the rented list it addresses (its rows, not contacts)

    @property
    def excluded(self) -> int:
        return self.no_consent + self.no_address + self.suppressed + self.removed + self.pressure


def unit_cost(campaign: Campaign, settings: CampaignSettings) -> tuple[Decimal, int]:
    """(cost of one message, units per message): an SMS costs per segment."""
    channel = campaign.channel
    if channel == "email":
        return Decimal(settings.cost_email), 1
    if channel == "sms":
        segments = 1
        try:
            result = creative_selectors.preview(campaign.version, campaign.entity, campaign.values)
            if result.rendered.sms is not None:
                segments = max(1, result.rendered.sms.segments)
        except Exception:  # a render error is reported by the proof; cost assumes one segment
            segments = 1
        return Decimal(settings.cost_sms_segment) * segments, segments
    if channel == "print":
        return Decimal(settings.cost_print), 1
    return Decimal("0"), 1


def budget_choice(entity: Entity, day: dt.date, line: str = "") -> tuple[Budget | None, str]:
    """The open budget a campaign of ``entity`` sent on ``day`` draws on, and why: ``"line"`` — the
    budget of the line the campaign names (``line``) covering the day; else ``"date"`` — one covering
    the day (the general line first, then the latest started); ``(None, "")``: none. Closed budgets take
    no new commitment."""
    covering = Budget.objects.filter(
        entity=entity, period_start__lte=day, period_end__gte=day, closed_at__isnull=True
    ).order_by("-period_start", "-pk")
    budgets = list(covering)
    if line and (named := [b for b in budgets if line_key(b.label) == line_key(line)]):
        return named[0], "line"
    general = [b for b in budgets if not line_key(b.label)]
    chosen = (general or budgets or [None])[0]
    return chosen, "date" if chosen else ""


def budget_for(entity: Entity, day: dt.date, line: str = "") -> Budget | None:
    return budget_choice(entity, day, line)[0]


def budget_lines(entity: Entity, current: str = "") -> list[str]:
    """The budget lines a campaign of ``entity`` may name, as ``budget_choice`` resolves them: the
    labels of the entity's open budgets not yet ended, one per line (the general line "" first), plus
    ``current`` when it names none of them (so a saved choice stays shown)."""
    labels = Budget.objects.filter(
        entity=entity, closed_at__isnull=True, period_end__gte=timezone.localdate()
    ).values_list("label", flat=True)
    lines: dict[str, str] = {"": ""}
    for label in sorted(labels, key=line_key):
        lines.setdefault(line_key(label), " ".join(label.split()))
    if line_key(current) not in lines:
        lines[line_key(current)] = current
    return list(lines.values())


@dataclass
class BudgetStatus:
    budget: Budget
    committed: Decimal
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget.amount - self.committed - self.spent

    @property
    def available(self) -> Decimal:
        """What new commitments may use: nothing once the budget is closed."""
        return Decimal("0") if self.budget.closed_at else self.remaining

    @property
    def released(self) -> Decimal:
        """What closing the budget gave back (what was left of it, never negative)."""
        return max(self.remaining, Decimal("0")) if self.budget.closed_at else Decimal("0")

    @property
    def coop_amount(self) -> Decimal:
        return (self.budget.amount * self.budget.coop_share / 100).quantize(CENTS)


def budget_status(budget: Budget) -> BudgetStatus:
    sums = LedgerEntry.objects.filter(budget=budget).aggregate(
        committed=Sum("amount", filter=Q(kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE])),
        spent=Sum("amount", filter=Q(kind=LedgerEntry.Kind.ACTUAL)),
    )
    return BudgetStatus(budget, sums["committed"] or Decimal("0"), sums["spent"] or Decimal("0"))


def simulate(campaign: Campaign, *, with_pressure: bool = True) -> Simulation:
    """Projected audience, exclusions and why (consent, address, opposition list, removed by the
    store, marketing pressure), cost and budget — before submission."""
    sim = Simulation()
    channel = campaign.channel
    achannel = audience.AUDIENCE_CHANNEL.get(channel)
    settings = settings_for(campaign.organisation_id)
    sim.refused = audience.source_problem(campaign.audience_criteria, campaign.entity.path) or ""
    if achannel is not None and addresses_contacts(campaign) and not sim.refused:  # a print kit: nobody
        base = audience.matching(campaign.entity.path, campaign.audience_criteria)
        excluded = [int(i) for i in campaign.excluded_contacts]
        reachable = consent_q(achannel) & address_q(achannel) & ~suppressed_q(achannel)
        counts = base.aggregate(
            total=Count("pk"),
            no_consent=Count("pk", filter=~consent_q(achannel)),
            no_address=Count("pk", filter=consent_q(achannel) & ~address_q(achannel)),
            suppressed=Count("pk", filter=consent_q(achannel) & address_q(achannel) & suppressed_q(achannel)),
            removed=Count("pk", filter=reachable & Q(pk__in=excluded or [0])),
        )
        sim.matching = counts["total"]
        sim.no_consent, sim.no_address = counts["no_consent"], counts["no_address"]
        sim.suppressed, sim.removed = counts["suppressed"], counts["removed"]
        reachable_count = sim.matching - sim.no_consent - sim.no_address - sim.suppressed - sim.removed
        if with_pressure and reachable_count and campaign.scheduled_at:
            sim.pressure, sim.pressure_reasons = pressure_exclusions(campaign)
        sim.recipients = max(0, reachable_count - sim.pressure)
        _add_rented_list(sim, campaign)
    unit, sim.units_per_message = unit_cost(campaign, settings)
    sim.unit_cost = unit
    sim.cost = (unit * sim.recipients).quantize(CENTS, rounding=ROUND_HALF_UP)
    day = (campaign.scheduled_at or timezone.now()).date()
    budget = budget_for(campaign.entity, day, campaign.budget_line)
    if budget is not None:
        sim.budget_line = budget.label
        status = budget_status(budget)
        own = LedgerEntry.objects.filter(campaign=campaign, budget=budget).exclude(
            kind=LedgerEntry.Kind.ACTUAL
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        sim.budget_available = status.available + own  # this campaign's own commitment is not "other"
        sim.coop = (sim.cost * budget.coop_share / 100).quantize(CENTS)
        sim.over_budget = sim.cost > sim.budget_available
    sim.warnings = [sim.refused] if sim.refused else []
    sim.warnings += [c.text for c in conflicts(campaign)]
    return sim


def _add_rented_list(sim: Simulation, campaign: Campaign) -> None:
    """A rented list's rows (not contacts: the contact counts are 0) and why some are left out."""
    external = audience.external_audience(campaign)
    if external is None:
        return
    sim.rented_list = external.label
    reasons = [reason for _ref, reason in external.excluded]
    sim.matching += len(external.candidates) + len(reasons)
    sim.no_consent += reasons.count("no_consent")
    sim.no_address += reasons.count("no_address")
    sim.suppressed += reasons.count("opposition")
    sim.recipients += len(external.candidates)


def empty_audience_reasons(sim: Simulation) -> list[str]:
    """Why nobody would receive the campaign, and what to change, one sentence per cause (the
    simulation's final count is 0). Empty when somebody would."""
    if sim.recipients:
        return []
    if sim.refused:
        return [sim.refused]
    if not sim.matching:
        return [
            _(
                "None of your contacts matches the audience criteria: widen them (customers or prospects, "
                "tags, postcodes)."
            )
        ]
    causes = [
        (
            sim.pressure,
            ngettext(
                "The marketing-pressure cap excluded %(n)s contact: choose another send date, further "
                "from the other messages they receive.",
                "The marketing-pressure cap excluded %(n)s contacts: choose another send date, further "
                "from the other messages they receive.",
                sim.pressure,
            ),
        ),
        (
            sim.no_consent,
            ngettext(
                "%(n)s contact has not consented to this channel: widen the criteria.",
                "%(n)s contacts have not consented to this channel: widen the criteria.",
                sim.no_consent,
            ),
        ),
        (
            sim.no_address,
            ngettext(
                "%(n)s contact has no address for this channel.",
                "%(n)s contacts have no address for this channel.",
                sim.no_address,
            ),
        ),
        (
            sim.suppressed,
            ngettext(
                "%(n)s contact is on the opposition list.",
                "%(n)s contacts are on the opposition list.",
                sim.suppressed,
            ),
        ),
        (
            sim.removed,
            ngettext(
                "You removed %(n)s contact from the audience: put some back.",
                "You removed %(n)s contacts from the audience: put some back.",
                sim.removed,
            ),
        ),
    ]
    return [text % {"n": n} for n, text in causes if n]


def _audience_ids(c: Campaign, limit: int) -> list[int]:
    qs = audience.recipients(
        c.entity.path, c.audience_criteria, c.channel, [int(i) for i in c.excluded_contacts]
    )
    return list(qs.order_by("pk").values_list("pk", flat=True)[:limit])


# Marketing pressure at the send date is the delivery engine's own arbitration over its outbox: the
# delivery app registers its preview here from ``DeliveryConfig.ready`` (``delivery.selectors
# .pressure_preview``). Campaigns never import delivery; delivery imports campaigns.
PressurePreview = Callable[["Campaign"], tuple[int, list[tuple[str, int]]]]
PRESSURE_PREVIEW: list[PressurePreview] = []


def pressure_exclusions(campaign: Campaign) -> tuple[int, list[tuple[str, int]]]:
    """How many of the campaign's contacts marketing pressure would exclude at its send date, and why
    (the five most frequent reasons), from the preview the delivery app registered (none: no exclusion)."""
    if not PRESSURE_PREVIEW:
        return 0, []
    return PRESSURE_PREVIEW[-1](campaign)


# -- calendar ---------------------------------------------------------------------------------------


@dataclass
class Conflict:
    kind: str  # "operation", "campaign" (another of the store's campaigns that day) or "blackout"
    text: str  # the sentence (the simulation, the campaign page)
    name: str = ""  # what it conflicts with, in a few words (the calendar: "Conflicts with: …")


def conflicts(campaign: Campaign) -> list[Conflict]:
    """A campaign overlapping an operation aimed at the same customers (same store, same channel,
    inside the in-market window), another campaign of the same store the same day, or a blackout."""
    return conflicts_for([campaign]).get(campaign.pk, [])


def _day_of(campaign: Campaign) -> dt.date | None:
    return timezone.localtime(campaign.scheduled_at).date() if campaign.scheduled_at else None


def conflicts_for(campaigns: list[Campaign]) -> dict[int | None, list[Conflict]]:
    """:func:`conflicts` of many campaigns in three queries, whatever their number (the calendar)."""
    dated = [(c, day) for c in campaigns if (day := _day_of(c)) is not None]
    found: dict[int | None, list[Conflict]] = {c.pk: [] for c in campaigns}
    if not dated:
        return found
    lo, hi = min(d for _c, d in dated), max(d for _c, d in dated)
    stores = {c.entity_id for c, _d in dated}
    ops = _operation_windows(stores, lo, hi)
    same_day = _local_days(stores, lo, hi)
    blackouts = list(
        CalendarSlot.objects.filter(
            kind=CalendarSlot.Kind.BLACKOUT, start__lte=hi, end__gte=lo
        ).select_related("entity")
    )
    for campaign, day in dated:
        found[campaign.pk] = _local_conflicts(campaign, day, ops, same_day) + [
            Conflict(
                "blackout",
                _("Falls in the blackout window “%(name)s”.") % {"name": slot.name},
                _("the blackout “%(name)s”") % {"name": slot.name},
            )
            for slot in blackouts
            if slot.start <= day <= slot.end
            and slot.channel in ("", campaign.channel)
            and campaign.entity.path.startswith(slot.entity.path)
        ]
    return found


def _local_conflicts(
    campaign: Campaign,
    day: dt.date,
    ops: list[tuple[int, str, str, dt.date, dt.date]],
    same_day: dict[tuple[int, dt.date, str], list[tuple[int, str]]],
) -> list[Conflict]:
    """A local campaign's operations on the same channel that day, and the store's other campaigns on
    the same channel that day (aimed at the same customers)."""
    if campaign.kind != Campaign.Kind.LOCAL:
        return []
    found = []
    names = {
        n for (e, ch, n, a, b) in ops if e == campaign.entity_id and ch == campaign.channel and a <= day <= b
    }
    for name in sorted(names):
        text = _("Overlaps the operation “%(name)s”, aimed at the same customers on the same channel.")
        found.append(
            Conflict("operation", text % {"name": name}, _("the operation “%(name)s”") % {"name": name})
        )
    for pk, name in same_day.get((campaign.entity_id, day, campaign.channel), []):
        if pk != campaign.pk:
            text = _("The same day as “%(name)s”, another campaign of this store.") % {"name": name}
            found.append(Conflict("campaign", text, _("the campaign “%(name)s”") % {"name": name}))
    return found


def _operation_windows(
    stores: set[int], lo: dt.date, hi: dt.date
) -> list[tuple[int, str, str, dt.date, dt.date]]:
    """(store, channel, operation name, in market from, until) of the stores' operation campaigns."""
    rows = (
        Campaign.objects.filter(
            entity_id__in=stores,
            kind=Campaign.Kind.OPERATION,
            operation__in_market_start__lte=hi,
            operation__in_market_end__gte=lo,
            operation__status=Operation.Status.PUBLISHED,
        )
        .exclude(state=State.CANCELLED)
        .values_list(
            "entity_id",
            "version__template__channel",
            "operation__name",
            "operation__in_market_start",
            "operation__in_market_end",
        )
    )
    return list(rows)


def _local_days(
    stores: set[int], lo: dt.date, hi: dt.date
) -> dict[tuple[int, dt.date, str], list[tuple[int, str]]]:
    """The stores' local campaigns (not cancelled) per (store, send day, channel): [(id, name)]."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(lo, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(hi + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = (
        Campaign.objects.filter(
            entity_id__in=stores, kind=Campaign.Kind.LOCAL, scheduled_at__gte=start, scheduled_at__lt=end
        )
        .exclude(state=State.CANCELLED)
        .order_by("scheduled_at", "pk")
        .values_list("pk", "entity_id", "name", "scheduled_at", "version__template__channel")
    )
    days: dict[tuple[int, dt.date, str], list[tuple[int, str]]] = {}
    for pk, store, name, at, channel in rows:
        days.setdefault((store, timezone.localtime(at).date(), channel), []).append((pk, name))
    return days


@dataclass
class CalendarItem:
    kind: str  # operation, campaign, reserved, blackout
    label: str
    start: dt.date
    end: dt.date
    url: str = ""
    channel: str = ""
    conflicts: list[Conflict] = field(default_factory=list)
    store: str = ""  # a local campaign's store, in full

    @property
    def conflict(self) -> bool:
        return bool(self.conflicts)

    @property
    def conflicts_text(self) -> str:
        """“Conflicts with: the operation “Foire”; “Soldes”.” (empty without conflict)."""
        if not self.conflicts:
            return ""
        return _("Conflicts with: %(what)s.") % {"what": ", ".join(c.name for c in self.conflicts)}


@dataclass
class CalendarDay:
    day: dt.date
    in_month: bool
    items: list[CalendarItem]


def calendar_items(
    start: dt.date, end: dt.date, *, entity: Entity | None = None, channel: str = ""
) -> list[CalendarItem]:
    """Operations (in-market window), campaigns (send day), reserved slots and blackouts between
    ``start`` and ``end``, optionally for one region or store and one channel."""
    from django.urls import reverse

    items: list[CalendarItem] = []
    ops = Operation.objects.exclude(status=Operation.Status.CANCELLED).filter(
        in_market_start__lte=end, in_market_end__gte=start
    )
    if is_local_scope():
        ops = operations_for_scope().filter(in_market_start__lte=end, in_market_end__gte=start)
    for op in ops.prefetch_related("waves__version__template"):
        channels = {w.version.template.channel for w in op.waves.all()}
        if channel and channels and channel not in channels:
            continue
        if (
            entity is not None
            and entity.entity_type.is_local
            and not eligible_stores(op).filter(pk=entity.pk).exists()
        ):
            continue
        items.append(
            CalendarItem(
                "operation",
                op.name,
                op.in_market_start,
                op.in_market_end,
                reverse("campaigns:operation", args=[op.pk]),
                ", ".join(sorted(channels)),
            )
        )
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    campaigns = (
        Campaign.objects.filter(scheduled_at__gte=lo, scheduled_at__lt=hi, kind=Campaign.Kind.LOCAL)
        .exclude(state=State.CANCELLED)
        .select_related("entity", "version__template")
    )
    if entity is not None:
        campaigns = campaigns.filter(entity__path__startswith=entity.path)
    if channel:
        campaigns = campaigns.filter(version__template__channel=channel)
    shown = list(campaigns.order_by("scheduled_at", "pk")[:500])
    found = conflicts_for(shown)
    for c in shown:
        assert c.scheduled_at is not None
        day = timezone.localtime(c.scheduled_at).date()
        items.append(
            CalendarItem(
                "campaign",
                c.name,
                day,
                day,
                reverse("campaigns:detail", args=[c.pk]),
                c.channel,
                conflicts=found.get(c.pk, []),
                store=c.entity.name,
            )
        )
    slots = CalendarSlot.objects.filter(start__lte=end, end__gte=start).select_related("entity")
    if channel:
        slots = slots.filter(Q(channel="") | Q(channel=channel))
    for s in slots:
        if entity is not None and not (
            entity.path.startswith(s.entity.path) or s.entity.path.startswith(entity.path)
        ):
            continue
        items.append(CalendarItem(s.kind, s.name, s.start, s.end, channel=s.channel))
    return items


def month_grid(year: int, month: int, items: list[CalendarItem]) -> list[list[CalendarDay]]:
    weeks = calmod.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return [
        [CalendarDay(d, d.month == month, [i for i in items if i.start <= d <= i.end]) for d in week]
        for week in weeks
    ]


KIND_ORDER = {"blackout": 0, "operation": 1, "reserved": 2, "campaign": 3}


@dataclass
class CalendarBar:
    """An item laid out in one week: from column ``column`` (1–7) over ``span`` days, on line ``lane``
    (0 first); ``before`` / ``after``: it goes on in the previous / next week."""

    item: CalendarItem
    column: int
    span: int
    lane: int
    before: bool
    after: bool

    @property
    def row(self) -> int:
        return self.lane + 2  # the grid's first row holds the day numbers


@dataclass
class CalendarWeek:
    days: list[CalendarDay]
    bars: list[CalendarBar]

    @property
    def lanes(self) -> int:
        return max((b.lane + 1 for b in self.bars), default=0)

    @property
    def rows(self) -> int:
        return self.lanes + 1


def week_rows(weeks: list[list[CalendarDay]], items: list[CalendarItem]) -> list[CalendarWeek]:
    """Each week's items as bars across its days (one bar per item and week, not one chip per day),
    packed on as few lines as possible: the longest first, each on the first line free on its days."""
    rows = []
    for days in weeks:
        first, last = days[0].day, days[-1].day
        inside = [i for i in items if i.start <= last and i.end >= first]
        inside.sort(key=lambda i: (max(i.start, first), -(i.end - i.start).days, KIND_ORDER.get(i.kind, 9)))
        taken: list[set[int]] = []
        bars = []
        for item in inside:
            start, end = max(item.start, first), min(item.end, last)
            column = (start - first).days + 1
            cols = set(range(column, (end - first).days + 2))
            lane = next((n for n, used in enumerate(taken) if not used & cols), len(taken))
            if lane == len(taken):
                taken.append(set())
            taken[lane] |= cols
            bars.append(CalendarBar(item, column, len(cols), lane, item.start < first, item.end > last))
        rows.append(CalendarWeek(days, bars))
    return rows


# -- approvals --------------------------------------------------------------------------------------


def current_steps(campaign: Campaign) -> list[ApprovalStep]:
    proof = campaign.proofs.order_by("-round").first()
    if proof is None:
        return []
    return list(ApprovalStep.objects.filter(proof=proof).order_by("order"))


def current_step(campaign: Campaign) -> ApprovalStep | None:
    if campaign.state != State.SUBMITTED:
        return None
    return next((s for s in current_steps(campaign) if s.status == ApprovalStep.Status.PENDING), None)


def can_decide(step: ApprovalStep, role: str) -> bool:
    hq_roles = ("hq_admin", "hq_marketer")
    if step.level == ApprovalStep.Level.HQ:
        return role in hq_roles
    if step.level == ApprovalStep.Level.REGIONAL:
        return role in (*hq_roles, "regional_manager")
    return False


QUEUE_LIMIT = 1000  # pending steps read at most (the oldest send dates first)
# What a queue row never shows (the proof's full HTML is served to its lazy thumbnail by its own URL).
QUEUE_DEFERRED = (
    "proof__html",
    "proof__values",
    "campaign__values",
    "campaign__excluded_contacts",
    "campaign__audience_criteria",
    "campaign__version__source",
    "campaign__version__zones",
)


def approval_queue(
    *, level: str = "", channel: str = "", operation_id: int | None = None, store: str = ""
) -> list[ApprovalStep]:
    """The steps the acting approver can decide now (the first pending step of each submitted
    campaign's latest proof), filtered; ``store``: a store's id, or part of its name. A fixed number of
    queries, whatever the queue's length."""
    result = []
    for step in decidable_steps(level=level, channel=channel):
        campaign = step.campaign
        if operation_id and campaign.operation_id != operation_id:
            continue
        if store.isdigit() and campaign.entity_id != int(store):
            continue
        if store and not store.isdigit() and store.lower() not in campaign.entity.name.lower():
            continue
        result.append(step)
    return result


def decidable_steps(*, level: str = "", channel: str = "") -> list[ApprovalStep]:
    """The steps the acting approver can decide now, at ``level`` and on ``channel`` when given, with
    their campaign, store, template, operation and proof (its HTML left out): two queries."""
    from django.db.models import Max

    role = get_scope().role
    pending = list(
        ApprovalStep.objects.filter(status=ApprovalStep.Status.PENDING, campaign__state=State.SUBMITTED)
        .select_related("campaign__entity", "campaign__version__template", "campaign__operation", "proof")
        .defer(*QUEUE_DEFERRED)
        .order_by("campaign__scheduled_at", "pk")[:QUEUE_LIMIT]
    )
    latest = dict(
        Proof.objects.filter(campaign_id__in={s.campaign_id for s in pending})
        .values("campaign_id")
        .annotate(last=Max("round"))
        .values_list("campaign_id", "last")
    )
    first_order: dict[int, int] = {}
    for step in pending:
        first_order[step.proof_id] = min(first_order.get(step.proof_id, step.order), step.order)
    return [
        step
        for step in pending
        if step.order == first_order[step.proof_id]
        and step.proof.round == latest.get(step.campaign_id)
        and can_decide(step, role)
        and (not level or step.level == level)
        and (not channel or step.campaign.version.template.channel == channel)
    ]


def print_proof_png(proof: Proof) -> bytes | None:
    """The first page of a print proof as a small PNG (its thumbnail), rendered from the proof's own
    version and content for its store; None when it cannot be (no PDF, no rasteriser)."""
    result = creative_selectors.preview(proof.version, proof.campaign.entity, dict(proof.values))
    pdf = getattr(result.rendered, "pdf", b"")
    pages = printing.pdf_pages_png(pdf, dpi=30, first_pages=1) if pdf else None
    return pages[0] if pages else None


def queue_choices(steps: list[ApprovalStep]) -> tuple[list[tuple[int, str, int]], list[tuple[int, str, int]]]:
    """The operations and the stores of a queue, to filter it by: [(id, name, how many)], by name."""
    operations: dict[int, list[Any]] = {}
    stores: dict[int, list[Any]] = {}
    for step in steps:
        campaign = step.campaign
        if campaign.operation is not None:
            operations.setdefault(campaign.operation.pk, [campaign.operation.name, 0])[1] += 1
        stores.setdefault(campaign.entity_id, [campaign.entity.name, 0])[1] += 1

    def rows(found: dict[int, list[Any]]) -> list[tuple[int, str, int]]:
        return sorted(((pk, name, n) for pk, (name, n) in found.items()), key=lambda r: (r[1], r[0]))

    return rows(operations), rows(stores)


@dataclass
class ApprovedWithoutStep:
    """A campaign approved at its submission, no approval step being needed: who submitted it (with
    the role they acted in), when, and the policy that let their role approve it."""

    by: str  # the author's name ("" for head office's defaults applied at the deadline)
    role: str  # the author's role, in words ("" when unknown)
    at: dt.datetime
    policy: str  # the approval policy, in words


def approval_without_step(campaign: Campaign) -> ApprovedWithoutStep | None:
    """The campaign's last approval when it had no approval step (policy "no approval", or head
    office's defaults at the deadline); None when it was never approved that way."""
    approved = (
        CampaignTransition.objects.filter(campaign=campaign, event=Event.APPROVE)
        .select_related("actor")
        .order_by("-at", "-pk")
        .first()
    )
    if approved is None:
        return None
    policy = campaign.approval_policy
    if campaign.kind == Campaign.Kind.OPERATION and campaign.operation is not None:
        policy = campaign.operation.approval_policy
    role = ""
    if approved.actor_id:
        # The author's role over this store: read unscoped because a store's user may not see a head
        # office membership; only the role's name is shown, of a person the page already names.
        found = (
            Membership.unscoped.filter(
                user_id=approved.actor_id,
                organisation_id=campaign.organisation_id,
                entity_id__in=ancestor_ids_of_path(campaign.entity.path),
            )
            .order_by("-entity__path")
            .values_list("role", flat=True)
            .first()
        )
        role = str(Role(found).label) if found in Role.values else ""
    return ApprovedWithoutStep(
        by=approved.actor.full_name if approved.actor else "",
        role=role,
        at=approved.at,
        policy=str(ApprovalPolicy(policy).label) if policy in ApprovalPolicy.values else policy,
    )


def waves_of(operation: Operation) -> QuerySet[OperationWave]:
    return OperationWave.objects.filter(operation=operation).select_related("version__template")


# -- deadlines ----------------------------------------------------------------------------------------


def _deadline_due_q(now: dt.datetime) -> Q:
    return Q(subscription_deadline__lte=now, subscription_closed_at__isnull=True) | Q(
        personalisation_deadline__lte=now, personalisation_closed_at__isnull=True
    )


def closing_pending(operation: Operation, *, now: dt.datetime | None = None) -> bool:
    """A deadline of ``operation`` has passed and the scheduled job has not applied it yet (pages show
    "closing pending"; they never apply it themselves)."""
    now = now or timezone.now()
    if operation.status != Operation.Status.PUBLISHED:
        return False
    return (operation.subscription_deadline <= now and operation.subscription_closed_at is None) or (
        operation.personalisation_deadline <= now and operation.personalisation_closed_at is None
    )


def organisations_with_due_deadlines(*, now: dt.datetime | None = None) -> list[int]:
    """The organisations with a published operation whose passed deadline is not applied yet (read
    unscoped: the worker's tick looks across organisations, then acts in each one's HQ scope)."""
    now = now or timezone.now()
    return list(
        Operation.unscoped.filter(_deadline_due_q(now), status=Operation.Status.PUBLISHED)
        .order_by("organisation_id")
        .values_list("organisation_id", flat=True)
        .distinct()
    )
