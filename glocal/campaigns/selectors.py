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

from glocal.audience.selectors import address_q, consent_q, suppressed_q
from glocal.core.scope import get_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity

from . import audience
from .models import (
    ApprovalStep,
    Budget,
    CalendarSlot,
    Campaign,
    CampaignSettings,
    LedgerEntry,
    Operation,
    OperationWave,
    Participation,
    Proof,
    TemplatePolicy,
)
from .states import State

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
    over_budget: bool = False
    pressure_reasons: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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


def budget_for(entity: Entity, day: dt.date) -> Budget | None:
    return (
        Budget.objects.filter(entity=entity, period_start__lte=day, period_end__gte=day)
        .order_by("-period_start", "-pk")
        .first()
    )


@dataclass
class BudgetStatus:
    budget: Budget
    committed: Decimal
    spent: Decimal

    @property
    def available(self) -> Decimal:
        return self.budget.amount - self.committed - self.spent

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
    if achannel is not None:
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
    unit, sim.units_per_message = unit_cost(campaign, settings)
    sim.unit_cost = unit
    sim.cost = (unit * sim.recipients).quantize(CENTS, rounding=ROUND_HALF_UP)
    day = (campaign.scheduled_at or timezone.now()).date()
    budget = budget_for(campaign.entity, day)
    if budget is not None:
        status = budget_status(budget)
        own = LedgerEntry.objects.filter(campaign=campaign, budget=budget).exclude(
            kind=LedgerEntry.Kind.ACTUAL
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        sim.budget_available = status.available + own  # this campaign's own commitment is not "other"
        sim.coop = (sim.cost * budget.coop_share / 100).quantize(CENTS)
        sim.over_budget = sim.cost > sim.budget_available
    sim.warnings = [c.text for c in conflicts(campaign)]
    return sim


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
    kind: str  # "operation" or "blackout"
    text: str


def conflicts(campaign: Campaign) -> list[Conflict]:
    """A local campaign overlapping an operation aimed at the same customers (same store, same channel,
    inside the in-market window) or a blackout window."""
    if campaign.scheduled_at is None:
        return []
    day = timezone.localtime(campaign.scheduled_at).date()
    found: list[Conflict] = []
    if campaign.kind == Campaign.Kind.LOCAL:
        ops = (
            Campaign.objects.filter(
                entity=campaign.entity,
                kind=Campaign.Kind.OPERATION,
                version__template__channel=campaign.channel,
                operation__in_market_start__lte=day,
                operation__in_market_end__gte=day,
                operation__status=Operation.Status.PUBLISHED,
            )
            .exclude(state=State.CANCELLED)
            .select_related("operation")
        )
        for name in sorted({c.operation.name for c in ops if c.operation}):
            found.append(
                Conflict(
                    "operation",
                    _("Overlaps the operation “%(name)s”, aimed at the same customers on the same channel.")
                    % {"name": name},
                )
            )
    blackouts = CalendarSlot.objects.filter(
        kind=CalendarSlot.Kind.BLACKOUT, start__lte=day, end__gte=day
    ).filter(Q(channel="") | Q(channel=campaign.channel))
    for slot in blackouts:
        if campaign.entity.path.startswith(slot.entity.path):
            found.append(
                Conflict("blackout", _("Falls in the blackout window “%(name)s”.") % {"name": slot.name})
            )
    return found


@dataclass
class CalendarItem:
    kind: str  # operation, campaign, reserved, blackout
    label: str
    start: dt.date
    end: dt.date
    url: str = ""
    channel: str = ""
    conflict: bool = False


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
    for c in campaigns[:500]:
        assert c.scheduled_at is not None
        day = timezone.localtime(c.scheduled_at).date()
        items.append(
            CalendarItem(
                "campaign",
                f"{c.entity.name}: {c.name}",
                day,
                day,
                reverse("campaigns:detail", args=[c.pk]),
                c.channel,
                conflict=bool(conflicts(c)),
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


def approval_queue(
    *, level: str = "", channel: str = "", operation_id: int | None = None, store: str = ""
) -> list[ApprovalStep]:
    """The steps the acting approver can decide now (the first pending step of each submitted
    campaign's latest proof), filtered. A fixed number of queries, whatever the queue's length."""
    from django.db.models import Max

    role = get_scope().role
    pending = list(
        ApprovalStep.objects.filter(status=ApprovalStep.Status.PENDING, campaign__state=State.SUBMITTED)
        .select_related("campaign__entity", "campaign__version__template", "campaign__operation", "proof")
        .order_by("campaign__scheduled_at", "pk")[:1000]
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
    result = []
    for step in pending:
        campaign = step.campaign
        if step.order != first_order[step.proof_id] or step.proof.round != latest.get(campaign.pk):
            continue
        if not can_decide(step, role) or (level and step.level != level):
            continue
        if channel and campaign.version.template.channel != channel:
            continue
        if operation_id and campaign.operation_id != operation_id:
            continue
        if store and store.lower() not in campaign.entity.name.lower():
            continue
        result.append(step)
    return result


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
