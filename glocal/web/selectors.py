"""The home pages' reads: what each persona has to do, and what is coming.

Everything goes through the scoped managers and the apps' selectors, so a store sees its own things, a
region its stores', HQ the whole organisation's. Each function runs a fixed number of queries whatever
the number of operations, campaigns or messages (lists are cut to a few lines; counts are aggregates).

- a store: operations waiting for its answer, operation waves to personalise, its campaigns sent back
  (with the approver's comment) or waiting for approval, its sends of the next 14 days, the results of
  its last three campaigns;
- a region: proofs waiting for the manager's approval, stores that have not answered an operation yet,
  the region's sends of the next 14 days;
- HQ: operations in progress with their participation, proofs waiting for HQ, stores that have not
  answered, recent problems (failed background work, campaigns with many bounces).

"Not answered" is the participation rows still pending before the subscription deadline, the same rule
as the reminders (``campaigns.services.send_reminders``) and the deadline (``close_deadlines``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns.models import ApprovalStep, Campaign, Operation, Participation
from glocal.campaigns.states import State
from glocal.core.models import AuditEvent, Job
from glocal.core.roles import Action, role_allows
from glocal.delivery import selectors as delivery_selectors
from glocal.network.models import Entity, Membership

UPCOMING_DAYS = 14  # "coming up": sends of the next two weeks
SHOWN = 8  # lines per list (the page links to the full list)
STORES_NAMED = 5  # stores named per operation not answered ("and 12 more")
RESULTS_SHOWN = 3  # the store's last sent campaigns
FEED_LENGTH = 5  # the activity feed below the to-do list
PROBLEM_DAYS = 7  # failed background work this recent
BOUNCE_DAYS = 30  # campaigns launched this recently, for the bounce check

# Background work by what it does (a job's kind is a code).
JOB_LABELS = {
    "network.import": _("Network import"),
    "audience.import": _("Contact import"),
    "audience.ownership": _("Contact ownership update"),
    "audience.retention": _("Data retention clean-up"),
    "delivery.direct_mail": _("Direct mail batch"),
    "targeting.purge_prospect_lists": _("Prospect list purge"),
    "campaigns.close_deadlines": _("Operation deadlines"),
    "campaigns.reminders": _("Deadline reminders"),
}
UPCOMING_STATES = (State.APPROVED, State.SCHEDULED, State.SENDING)


def home_kind(entity: Entity) -> str:
    """Which home a membership gets: the organisation's root is HQ's, a store (a local entity) its own,
    any node between a region's."""
    if entity.parent_id is None:
        return "hq"
    return "store" if entity.entity_type.is_local else "region"


def days_left(when: dt.datetime, today: dt.date) -> int:
    """Whole days from ``today`` to ``when``'s local date (0: today, 1: tomorrow)."""
    return (timezone.localdate(when) - today).days


# -- the store ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """An operation waiting for the store's answer (take part or not)."""

    operation: Operation
    deadline: dt.datetime
    days_left: int


@dataclass(frozen=True)
class Personalise:
    """An operation wave still in draft: the store's content, before the personalisation deadline."""

    campaign: Campaign
    deadline: dt.datetime
    days_left: int
    started: bool  # saved at least once by the store


@dataclass(frozen=True)
class SentBack:
    """A campaign the approver sent back, with what they asked."""

    campaign: Campaign
    comment: str
    by: str
    deadline: dt.datetime | None  # an operation wave's personalisation deadline
    days_left: int | None


@dataclass
class StoreHome:
    to_answer: list[Answer]
    to_personalise: list[Personalise]
    sent_back: list[SentBack]
    awaiting: list[Campaign]
    upcoming: list[Campaign]
    results: list[delivery_selectors.Results]
    team: list[Membership]

    @property
    def nothing_to_do(self) -> bool:
        return not (self.to_answer or self.to_personalise or self.sent_back)


def _campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("entity", "version__template", "operation", "wave")


def to_answer(entity: Entity, *, now: dt.datetime, role: str) -> list[Answer]:
    """Operations open to the store that it has not answered, before their subscription deadline (for
    the roles that answer)."""
    if not role_allows(role, Action.CAMPAIGN_SUBMIT):
        return []
    today = timezone.localdate(now)
    parts = (
        Participation.objects.filter(
            entity=entity,
            status=Participation.Status.PENDING,
            operation__status=Operation.Status.PUBLISHED,
            operation__visible_from__lte=today,
            operation__subscription_deadline__gt=now,
        )
        .select_related("operation")
        .order_by("operation__subscription_deadline", "operation_id")[:SHOWN]
    )
    return [
        Answer(
            p.operation,
            p.operation.subscription_deadline,
            days_left(p.operation.subscription_deadline, today),
        )
        for p in parts
    ]


def to_personalise(entity: Entity, *, now: dt.datetime, role: str) -> list[Personalise]:
    """The store's operation waves still in draft before the personalisation deadline (after it, HQ's
    default content goes out)."""
    if not role_allows(role, Action.CAMPAIGN_CREATE):
        return []
    today = timezone.localdate(now)
    campaigns = (
        _campaigns()
        .filter(
            entity=entity,
            kind=Campaign.Kind.OPERATION,
            state=State.DRAFT,
            operation__status=Operation.Status.PUBLISHED,
            operation__personalisation_deadline__gt=now,
        )
        .order_by("operation__personalisation_deadline", "wave__send_at", "pk")[:SHOWN]
    )
    result = []
    for c in campaigns:
        assert c.operation is not None
        deadline = c.operation.personalisation_deadline
        result.append(Personalise(c, deadline, days_left(deadline, today), c.personalised_at is not None))
    return result


def sent_back(entity: Entity, *, now: dt.datetime) -> list[SentBack]:
    """The store's campaigns sent back for changes, each with its approver's last comment."""
    today = timezone.localdate(now)
    last_request = ApprovalStep.objects.filter(
        campaign=OuterRef("pk"), status=ApprovalStep.Status.CHANGES
    ).order_by("-decided_at", "-pk")
    campaigns = (
        _campaigns()
        .filter(entity=entity, state=State.CHANGES_REQUESTED)
        .annotate(
            review_comment=Subquery(last_request.values("comment")[:1]),
            reviewer=Subquery(last_request.values("decided_by__full_name")[:1]),
            reviewer_email=Subquery(last_request.values("decided_by__email")[:1]),
        )
        .order_by("scheduled_at", "pk")[:SHOWN]
    )
    result = []
    for c in campaigns:
        deadline = c.operation.personalisation_deadline if c.operation is not None else None
        result.append(
            SentBack(
                c,
                comment=getattr(c, "review_comment", None) or "",
                by=getattr(c, "reviewer", None) or getattr(c, "reviewer_email", None) or "",
                deadline=deadline,
                days_left=days_left(deadline, today) if deadline is not None else None,
            )
        )
    return result


def upcoming(*, now: dt.datetime) -> list[Campaign]:
    """The scope's sends of the next ``UPCOMING_DAYS`` days (approved, scheduled or going out)."""
    horizon = now + dt.timedelta(days=UPCOMING_DAYS)
    return list(
        _campaigns()
        .filter(
            Q(state=State.SENDING)
            | Q(state__in=UPCOMING_STATES, scheduled_at__gte=now, scheduled_at__lt=horizon)
        )
        .order_by("scheduled_at", "pk")[:SHOWN]
    )


def store_home(entity: Entity, *, role: str, now: dt.datetime | None = None) -> StoreHome:
    now = now or timezone.now()
    last_sent = _campaigns().filter(state=State.SENT).order_by("-updated_at", "-pk")[:RESULTS_SHOWN]
    return StoreHome(
        to_answer=to_answer(entity, now=now, role=role),
        to_personalise=to_personalise(entity, now=now, role=role),
        sent_back=sent_back(entity, now=now),
        awaiting=list(
            _campaigns().filter(entity=entity, state=State.SUBMITTED).order_by("scheduled_at")[:SHOWN]
        ),
        upcoming=upcoming(now=now),
        results=delivery_selectors.campaign_results(last_sent),
        team=list(
            Membership.objects.filter(entity=entity, is_active=True).select_related("user").order_by("role")
        ),
    )


# -- regions and HQ -----------------------------------------------------------------------------------


@dataclass
class NotAnswered:
    """An operation some stores of the scope have not answered yet, before its deadline."""

    operation: Operation
    deadline: dt.datetime
    days_left: int
    count: int
    stores: list[Entity] = field(default_factory=list)  # the first few, by name

    @property
    def more(self) -> int:
        return self.count - len(self.stores)


def not_answered(*, now: dt.datetime) -> list[NotAnswered]:
    """Per operation (next deadline first): how many of the scope's stores have not answered, and the
    first few of them. Two queries."""
    today = timezone.localdate(now)
    pending = Participation.objects.filter(
        status=Participation.Status.PENDING,
        operation__status=Operation.Status.PUBLISHED,
        operation__subscription_deadline__gt=now,
    )
    counts = dict(
        pending.values("operation_id").annotate(n=Count("id")).order_by().values_list("operation_id", "n")
    )
    operations = Operation.objects.filter(pk__in=list(counts)).order_by("subscription_deadline", "pk")[:SHOWN]
    rows = {
        op.pk: NotAnswered(
            op, op.subscription_deadline, days_left(op.subscription_deadline, today), counts[op.pk]
        )
        for op in operations
    }
    # The first few stores of each operation shown, by name (a window function: one query).
    first = (
        pending.filter(operation_id__in=list(rows))
        .select_related("entity")
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("operation_id")], order_by=[F("entity__name").asc()])
        )
        .filter(rank__lte=STORES_NAMED)
        .order_by("operation_id", "rank")
    )
    for part in first:
        rows[part.operation_id].stores.append(part.entity)
    return list(rows.values())


@dataclass
class RegionHome:
    approvals: int
    not_answered: list[NotAnswered]
    upcoming: list[Campaign]

    @property
    def nothing_to_do(self) -> bool:
        return not (self.approvals or self.not_answered)


def region_home(*, role: str, now: dt.datetime | None = None) -> RegionHome:
    now = now or timezone.now()
    approvals = len(campaign_selectors.approval_queue()) if role_allows(role, Action.CAMPAIGN_APPROVE) else 0
    return RegionHome(approvals=approvals, not_answered=not_answered(now=now), upcoming=upcoming(now=now))


@dataclass(frozen=True)
class InProgress:
    """A published operation not over yet, its participation and its next deadline."""

    operation: Operation
    counts: campaign_selectors.ParticipationCounts
    next_step: str  # "answer", "personalise" or "in_market"
    deadline: dt.datetime | None
    days_left: int | None


def _next_step(op: Operation, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    if op.subscription_deadline > now:
        return "answer", op.subscription_deadline
    if op.personalisation_deadline > now:
        return "personalise", op.personalisation_deadline
    return "in_market", None


def operations_in_progress(*, now: dt.datetime) -> list[InProgress]:
    """Published operations whose in-market window is not over, next deadline first. Three queries."""
    today = timezone.localdate(now)
    ops = list(
        Operation.objects.filter(status=Operation.Status.PUBLISHED, in_market_end__gte=today).order_by(
            "in_market_start", "pk"
        )[:SHOWN]
    )
    counts = campaign_selectors.participation_counts([op.pk for op in ops])
    rows = []
    for op in ops:
        step, deadline = _next_step(op, now)
        rows.append(
            InProgress(
                op,
                counts.get(op.pk, campaign_selectors.ParticipationCounts()),
                step,
                deadline,
                days_left(deadline, today) if deadline is not None else None,
            )
        )
    return sorted(rows, key=lambda r: (r.deadline is None, r.deadline or now, r.operation.pk))


@dataclass(frozen=True)
class FailedJob:
    job: Job
    label: str


@dataclass
class HQHome:
    in_progress: list[InProgress]
    hq_approvals: int  # the proofs waiting at HQ's level (regional steps are the regions' to-do)
    not_answered: list[NotAnswered]
    failed_jobs: list[FailedJob]
    bounces: list[delivery_selectors.Results]

    @property
    def problems(self) -> bool:
        return bool(self.failed_jobs or self.bounces)

    @property
    def nothing_to_do(self) -> bool:
        return not (self.hq_approvals or self.not_answered or self.problems)


def _job_label(job: Job) -> str:
    label = str(JOB_LABELS.get(job.kind, job.kind))
    filename = job.params.get("filename") if isinstance(job.params, dict) else None
    return f"{label} — {filename}" if filename else label


def failed_jobs(*, now: dt.datetime) -> list[FailedJob]:
    since = now - dt.timedelta(days=PROBLEM_DAYS)
    jobs = Job.objects.filter(status=Job.Status.FAILED, finished_at__gte=since).order_by("-finished_at")[
        :SHOWN
    ]
    return [FailedJob(job, _job_label(job)) for job in jobs]


def hq_home(*, role: str, now: dt.datetime | None = None) -> HQHome:
    now = now or timezone.now()
    queue = (
        campaign_selectors.approval_queue(level=ApprovalStep.Level.HQ)
        if role_allows(role, Action.CAMPAIGN_APPROVE)
        else []
    )
    return HQHome(
        in_progress=operations_in_progress(now=now),
        hq_approvals=len(queue),
        not_answered=not_answered(now=now),
        failed_jobs=failed_jobs(now=now),
        bounces=delivery_selectors.high_bounce_campaigns(since=now - dt.timedelta(days=BOUNCE_DAYS)),
    )


def recent_activity() -> list[AuditEvent]:
    """The scope's last few audit events (below the to-do list)."""
    return list(AuditEvent.objects.select_related("actor", "entity")[:FEED_LENGTH])


def home(entity: Entity, *, role: str) -> dict[str, Any]:
    """The home page's context for a membership on ``entity`` with ``role``."""
    kind = home_kind(entity)
    context: dict[str, Any] = {"kind": kind, "entity": entity, "recent": recent_activity()}
    if kind == "store":
        context["store"] = store_home(entity, role=role)
    elif kind == "region":
        context["region"] = region_home(role=role)
    else:
        context["hq"] = hq_home(role=role)
    return context
