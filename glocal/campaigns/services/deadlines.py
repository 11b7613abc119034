"""Deadlines and reminders: jobs, commands and the worker's tick call these; all are idempotent."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.core.scope import activate, get_scope, system_scope
from glocal.network.models import Entity

from .. import selectors
from ..models import ApprovalStep, Campaign, Operation, Participation, Reminder
from ..states import Event, State
from ._mail import _send_mail, _store_managers, approvers
from .approval import campaign_submit
from .operations import _ensure_wave_campaigns
from .transitions import campaign_transition

log = logging.getLogger(__name__)


def close_deadlines(*, now: dt.datetime | None = None, operation: Operation | None = None) -> dict[str, int]:
    """After the subscription deadline: opt-in stores that did not answer are out; automatic and
    mandatory modes keep everyone in. After the personalisation deadline: every store taking part
    whose wave content is not submitted gets HQ's defaults, approved by HQ and scheduled. Runs in an
    HQ scope; running it again changes nothing."""
    now = now or timezone.now()
    stats = {"out": 0, "defaults": 0}
    ops = Operation.objects.filter(status=Operation.Status.PUBLISHED)
    if operation is not None:
        ops = ops.filter(pk=operation.pk)
    for op in ops.filter(subscription_deadline__lte=now, subscription_closed_at__isnull=True):
        stats["out"] += _close_subscription(op, now)
    for op in ops.filter(personalisation_deadline__lte=now, personalisation_closed_at__isnull=True):
        stats["defaults"] += _close_personalisation(op, now)
    return stats


def _lock_open(op: Operation, closed_field: str) -> bool:
    """Lock the operation's row (ticks of several workers may close the same deadline at once: one
    closes it, the others find it closed) and say whether the deadline is still open."""
    still_open = Operation.objects.select_for_update().filter(pk=op.pk, **{f"{closed_field}__isnull": True})
    return bool(list(still_open.values_list("pk", flat=True)))


def _close_subscription(op: Operation, now: dt.datetime) -> int:
    """Stores that did not answer: out of an opt-in operation, in otherwise. Returns how many are out."""
    out = 0
    with transaction.atomic():
        if not _lock_open(op, "subscription_closed_at"):
            return 0  # another worker's tick closed it meanwhile
        pending = Participation.objects.filter(operation=op, status=Participation.Status.PENDING)
        if op.participation == Operation.Mode.OPT_IN:
            out = pending.update(status=Participation.Status.OUT, decided_at=now)
        else:
            for part in pending.select_related("entity"):
                part.status = Participation.Status.SUBSCRIBED
                part.save(update_fields=["status"])
                _ensure_wave_campaigns(part)
        Operation.objects.filter(pk=op.pk).update(subscription_closed_at=now)
    return out


def _close_personalisation(op: Operation, now: dt.datetime) -> int:
    """HQ's defaults for every subscribed store's unsubmitted wave content. Returns how many
    campaigns got them."""
    applied = 0
    with transaction.atomic():
        if not _lock_open(op, "personalisation_closed_at"):
            return 0  # another worker's tick closed it meanwhile
        for part in Participation.objects.filter(
            operation=op, status=Participation.Status.SUBSCRIBED
        ).select_related("entity"):
            _ensure_wave_campaigns(part)
            count = _apply_defaults(op, part)
            if count:
                part.defaults_applied = True
                part.save(update_fields=["defaults_applied"])
            applied += count
        Operation.objects.filter(pk=op.pk).update(personalisation_closed_at=now)
    return applied


def _apply_defaults(op: Operation, part: Participation) -> int:
    """Submit the store's wave campaigns still in draft (or sent back for changes) with HQ's defaults,
    as HQ (no approval step). Returns how many were submitted."""
    applied = 0
    for campaign in Campaign.objects.filter(
        operation=op, entity=part.entity, state__in=[State.DRAFT, State.CHANGES_REQUESTED]
    ).select_related("wave", "version__template", "entity__entity_type"):
        if campaign.state == State.CHANGES_REQUESTED:
            campaign_transition(campaign=campaign, event=Event.EDIT, comment="deadline")
        assert campaign.wave is not None
        if campaign.personalised_at is None or campaign.state == State.DRAFT:
            campaign.values = dict(campaign.wave.zone_defaults)
            campaign.save(update_fields=["values", "updated_at"])
        try:
            campaign_submit(campaign=campaign, system=True, comment=_("HQ defaults applied at the deadline."))
        except ValidationError:
            log.exception("HQ defaults refused for campaign %s", campaign.pk)
            continue
        applied += 1
    return applied


def close_due_deadlines(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every organisation's passed deadlines, each in its HQ's scope (the worker's tick calls this, so
    no page has to): ``close_deadlines`` once per organisation that has one due. Idempotent."""
    now = now or timezone.now()
    totals = {"out": 0, "defaults": 0}
    for organisation_id in selectors.organisations_with_due_deadlines(now=now):
        with activate(system_scope(organisation_id)):
            try:
                stats = close_deadlines(now=now)
            except Exception:  # one organisation's failure never blocks the others; retried next tick
                log.exception("closing deadlines failed for organisation %s", organisation_id)
                continue
        for key, value in stats.items():
            totals[key] += value
    return totals


def _remind_once(entity: Entity, key: str, subject: str, body: str, to: list[str]) -> bool:
    """Send one reminder per key, ever: the row is claimed first (unique key), then the mail goes."""
    if not to:
        return False
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                organisation_id=entity.organisation_id,
                entity=entity,
                key=key[:120],
                recipients=sorted(set(to)),
            )
    except IntegrityError:
        return False
    reminder.recipients = _send_mail(subject, body, to)
    return True


def send_reminders(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Reminders before each deadline: stores that have not answered (subscription), stores taking
    part whose content is not submitted (personalisation), approvers with a pending proof. At most
    one reminder per deadline and recipient entity, whatever how often this runs."""
    now = now or timezone.now()
    stats = {"subscription": 0, "personalisation": 0, "approval": 0}
    hours = selectors.settings_for(get_scope().organisation_id).reminder_hours
    window = now + dt.timedelta(hours=hours)
    ops = Operation.objects.filter(status=Operation.Status.PUBLISHED)
    for op in ops.filter(subscription_deadline__gt=now, subscription_deadline__lte=window):
        deadline = timezone.localtime(op.subscription_deadline)
        for part in Participation.objects.filter(
            operation=op, status=Participation.Status.PENDING
        ).select_related("entity"):
            sent = _remind_once(
                part.entity,
                f"sub:{op.pk}:{part.entity_id}:{op.subscription_deadline.isoformat()}",
                _("Reminder: answer “%(op)s” before %(when)s")
                % {"op": op.name, "when": f"{deadline:%d/%m %H:%M}"},
                _("Your store has not yet said whether it takes part in “%(op)s”.") % {"op": op.name},
                [u.email for u in _store_managers(part.entity)],
            )
            stats["subscription"] += int(sent)
    for op in ops.filter(personalisation_deadline__gt=now, personalisation_deadline__lte=window):
        deadline = timezone.localtime(op.personalisation_deadline)
        late = (
            Campaign.objects.filter(operation=op, state__in=[State.DRAFT, State.CHANGES_REQUESTED])
            .values_list("entity_id", flat=True)
            .distinct()
        )
        for entity in Entity.objects.filter(pk__in=list(late)):
            sent = _remind_once(
                entity,
                f"pers:{op.pk}:{entity.pk}:{op.personalisation_deadline.isoformat()}",
                _("Reminder: personalise “%(op)s” before %(when)s")
                % {"op": op.name, "when": f"{deadline:%d/%m %H:%M}"},
                _("Without your content by the deadline, head office's default content is used."),
                [u.email for u in _store_managers(entity)],
            )
            stats["personalisation"] += int(sent)
    steps = ApprovalStep.objects.filter(
        status=ApprovalStep.Status.PENDING,
        campaign__state=State.SUBMITTED,
        due_at__gt=now,
        due_at__lte=window,
    ).select_related("campaign__entity")
    for step in steps:
        if selectors.current_step(step.campaign) != step:
            continue
        sent = _remind_once(
            step.campaign.entity,
            f"bat:{step.pk}:{step.due_at.isoformat() if step.due_at else ''}",
            _("Proof waiting for your approval: %(name)s") % {"name": step.campaign.name},
            _("The proof of “%(name)s” (%(store)s) waits for your decision.")
            % {"name": step.campaign.name, "store": step.campaign.entity.name},
            [u.email for u in approvers(step.campaign, step.level)],
        )
        stats["approval"] += int(sent)
    return stats
