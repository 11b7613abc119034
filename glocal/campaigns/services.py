"""Writes on operations, campaigns, approvals, the calendar and budgets. The UI, the (future) API,
jobs and commands all call these functions; every state change goes through
:func:`campaign_transition` and so through the one state machine (``states.py``).

Every function runs inside an active scope; objects come from scoped managers, so a foreign id is a
``DoesNotExist`` (404 in views) exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace as dc_replace
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.roles import HQ_ROLES
from glocal.core.scope import activate, get_scope, system_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives import services as creative_services
from glocal.creatives import zones as zonelib
from glocal.creatives.findings import ERROR
from glocal.creatives.models import ChannelTemplate, TemplateVersion, values_digest
from glocal.network.models import Entity, Membership
from glocal.network.roles import Action, Role, role_allows

from . import audience, selectors
from .models import (
    POLICY_STEPS,
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
    Reminder,
    TemplatePolicy,
)
from .states import Event, Facts, State, TransitionRefused, next_state

log = logging.getLogger(__name__)

NOT_EDITABLE = _("A campaign that is sent or cancelled cannot be changed.")
# An edit in these states sends the campaign back to draft (states.TRANSITIONS): it withdraws a
# submission or an approval, which only a role that may submit may do.
REOPENED_BY_EDIT = (State.SUBMITTED, State.APPROVED, State.SCHEDULED)
NOT_YOURS_TO_REOPEN = _(
    "This campaign is awaiting approval, approved or scheduled: a change would send it back to draft. "
    "Only a manager can change it now."
)
DEADLINE_PASSED = _("The deadline has passed.")


def _require(action: Action) -> None:
    if not role_allows(get_scope().role, action):
        raise PermissionDenied


def may_edit(campaign: Campaign, role: str) -> bool:
    """May ``role`` change ``campaign`` now? (The edit page, the campaign page's link and
    ``campaign_update`` agree on it.)"""
    if campaign.is_final or not role_allows(role, Action.CAMPAIGN_CREATE):
        return False
    return campaign.state not in REOPENED_BY_EDIT or role_allows(role, Action.CAMPAIGN_SUBMIT)


def refused(exc: TransitionRefused) -> ValidationError:
    return ValidationError(exc.reason, code=exc.guard or "not_allowed")


# -- settings ---------------------------------------------------------------------------------------


def settings_save(*, changes: dict[str, Any]) -> CampaignSettings:
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    obj, _created = CampaignSettings.objects.get_or_create(organisation_id=scope.organisation_id)
    for key, value in changes.items():
        setattr(obj, key, value)
    unknown = set(obj.local_criteria) - set(audience.CRITERIA_KEYS)
    if unknown:
        raise ValidationError({"local_criteria": _("Unknown criteria.")})
    obj.full_clean()
    obj.save()
    audit.record(action="campaign.settings", summary="campaign settings")
    return obj


def template_policy_set(*, template: ChannelTemplate, policy: str) -> None:
    """HQ sets the approval policy of local campaigns made from ``template`` (every policy, including
    automatic and multi-step). Campaigns already created keep theirs."""
    _require(Action.OPERATION_MANAGE)
    if policy not in ApprovalPolicy.values:
        raise ValidationError(_("Unknown approval policy."))
    TemplatePolicy.objects.update_or_create(
        template=template, defaults={"organisation_id": template.organisation_id, "policy": policy}
    )
    audit.record(action="campaign.template_policy", summary=f"{template.name}: {policy}")


# -- the state machine, with its side effects -------------------------------------------------------


def campaign_transition(
    *, campaign: Campaign, event: Event, facts: Facts | None = None, comment: str = ""
) -> Campaign:
    """Apply ``event`` (refused with ValidationError when the table or a guard says no), log it, and
    keep the spend ledger right: committed when scheduled, released when a scheduled campaign is
    edited back to draft or cancelled, replaced by the actual cost when sent."""
    scope = get_scope()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        try:
            target = next_state(locked.state, event, facts)
        except TransitionRefused as exc:
            raise refused(exc) from None
        before = locked.state
        if (
            event == Event.EDIT
            and before in REOPENED_BY_EDIT
            and not role_allows(scope.role, Action.CAMPAIGN_SUBMIT)
        ):
            raise PermissionDenied(NOT_YOURS_TO_REOPEN)
        locked.state = target
        locked.save(update_fields=["state", "updated_at"])
        CampaignTransition.objects.create(
            organisation_id=locked.organisation_id,
            campaign=locked,
            from_state=before,
            to_state=target,
            event=event,
            actor_id=scope.user_id,
            comment=comment[:2000],
            content_hash=values_digest({"v": locked.version_id, "values": locked.values}),
        )
        if target == State.SCHEDULED:
            _ledger_commit(locked)
        elif before in (State.SCHEDULED, State.SENDING) and target in (State.DRAFT, State.CANCELLED):
            _ledger_release(locked, note=str(event))
        elif target == State.SENT:
            _ledger_release(locked, note="sent")
            _ledger_actual(locked)
        audit.record(
            action=f"campaign.{event}",
            summary=f"{locked.name}: {before} → {target}",
            entity_id=locked.entity_id,
        )
    campaign.state = locked.state
    return locked


def _ledger_open(campaign: Campaign) -> Decimal:
    return LedgerEntry.objects.filter(
        campaign=campaign, kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE]
    ).aggregate(s=Sum("amount"))["s"] or Decimal("0")


def _ledger_entry(campaign: Campaign, kind: str, amount: Decimal, note: str = "") -> LedgerEntry:
    day = timezone.localtime(campaign.scheduled_at).date() if campaign.scheduled_at else timezone.localdate()
    budget = selectors.budget_for(campaign.entity, day)
    share = budget.coop_share if budget else Decimal("0")
    return LedgerEntry.objects.create(
        organisation_id=campaign.organisation_id,
        entity=campaign.entity,
        budget=budget,
        campaign=campaign,
        kind=kind,
        amount=amount,
        coop_amount=(amount * share / 100).quantize(selectors.CENTS),
        note=note[:200],
    )


def _ledger_commit(campaign: Campaign) -> None:
    open_amount = _ledger_open(campaign)
    if open_amount:
        _ledger_release(campaign, note="recommit")
    _ledger_entry(campaign, LedgerEntry.Kind.COMMIT, campaign.estimated_cost, "scheduled")


def _ledger_release(campaign: Campaign, note: str) -> None:
    for budget_id in (
        LedgerEntry.objects.filter(
            campaign=campaign, kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE]
        )
        .values_list("budget_id", flat=True)
        .distinct()
    ):
        open_amount = LedgerEntry.objects.filter(
            campaign=campaign,
            budget_id=budget_id,
            kind__in=[LedgerEntry.Kind.COMMIT, LedgerEntry.Kind.RELEASE],
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        if open_amount:
            budget = Budget.objects.filter(pk=budget_id).first() if budget_id else None
            share = budget.coop_share if budget else Decimal("0")
            LedgerEntry.objects.create(
                organisation_id=campaign.organisation_id,
                entity=campaign.entity,
                budget=budget,
                campaign=campaign,
                kind=LedgerEntry.Kind.RELEASE,
                amount=-open_amount,
                coop_amount=(-open_amount * share / 100).quantize(selectors.CENTS),
                note=note,
            )


def _ledger_actual(campaign: Campaign) -> None:
    amount = campaign.actual_cost if campaign.actual_cost is not None else campaign.estimated_cost
    _ledger_entry(campaign, LedgerEntry.Kind.ACTUAL, amount, "sent")


# -- local campaigns --------------------------------------------------------------------------------


def campaign_create(*, entity: Entity, template: ChannelTemplate, name: str = "") -> Campaign:
    """A local campaign in draft, from a published template visible to the store."""
    _require(Action.CAMPAIGN_CREATE)
    scope = get_scope()
    if not scope.covers_path(entity.path) or not entity.entity_type.is_local or not entity.is_active:
        raise PermissionDenied
    version = template.published_version()
    if version is None or template.status != ChannelTemplate.Status.PUBLISHED:
        raise ValidationError(_("Only a published template can be used."))
    if not entity.path.startswith(template.entity.path):
        raise PermissionDenied
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organisation_id=scope.organisation_id,
            entity=entity,
            kind=Campaign.Kind.LOCAL,
            name=(name or template.name).strip()[:160],
            version=version,
            values=creative_selectors.stored_values(version, entity),
            approval_policy=selectors.template_policy(template),
            created_by_id=scope.user_id,
        )
        CampaignTransition.objects.create(
            organisation_id=campaign.organisation_id,
            campaign=campaign,
            from_state="",
            to_state=State.DRAFT,
            event="create",
            actor_id=scope.user_id,
        )
        audit.record(action="campaign.create", summary=campaign.name, entity_id=entity.pk)
    return campaign


def campaign_update(
    *,
    campaign: Campaign,
    values: dict[str, Any] | None = None,
    criteria: dict[str, Any] | None = None,
    scheduled_at: dt.datetime | None = None,
    name: str | None = None,
    excluded: list[int] | None = None,
) -> Campaign:
    """Change a campaign's content, audience, date or name. Zone values go through the creatives
    personalisation service (locked zones refused, nothing written on any error). A change to a
    submitted, approved or scheduled campaign sends it back to draft: it needs approval again."""
    _require(Action.CAMPAIGN_CREATE)
    if campaign.is_final:
        raise ValidationError(NOT_EDITABLE)
    # Read the state again: the caller's object may be older than a submission.
    current = Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True).first()
    if (current or campaign.state) in REOPENED_BY_EDIT:
        _require(Action.CAMPAIGN_SUBMIT)
    changes: dict[str, Any] = {}
    is_operation = campaign.kind == Campaign.Kind.OPERATION
    if is_operation and campaign.operation and timezone.now() >= campaign.operation.personalisation_deadline:
        raise ValidationError(DEADLINE_PASSED)
    if criteria is not None:
        if is_operation:
            if audience.clean_criteria(criteria) != campaign.audience_criteria:
                raise ValidationError(_("The audience of an operation is set by head office."))
        else:
            allowed = selectors.settings_for(campaign.organisation_id).local_criteria
            clean = audience.clean_criteria(criteria, allowed)
            if clean != campaign.audience_criteria:
                changes["audience_criteria"] = clean
    if scheduled_at is not None and not is_operation:
        if scheduled_at <= timezone.now():
            raise ValidationError({"scheduled_at": _("Choose a date and time in the future.")})
        if scheduled_at != campaign.scheduled_at:
            changes["scheduled_at"] = scheduled_at
    if name is not None and name.strip() and name.strip() != campaign.name:
        changes["name"] = name.strip()[:160]
    if excluded is not None:
        wanted = sorted({int(i) for i in excluded})
        # Only contacts of the campaign's own audience can be removed (foreign ids are ignored).
        own = set(
            audience.matching(
                campaign.entity.path, changes.get("audience_criteria", campaign.audience_criteria)
            )
            .filter(pk__in=wanted)
            .values_list("pk", flat=True)
        )
        clean_excluded = [i for i in wanted if i in own]
        if clean_excluded != sorted(int(i) for i in campaign.excluded_contacts):
            changes["excluded_contacts"] = clean_excluded
    with transaction.atomic():
        if values is not None:
            personalisation = creative_services.personalisation_save(
                version=campaign.version, entity=campaign.entity, values=values
            )
            if personalisation.values != campaign.values:
                changes["values"] = dict(personalisation.values)
            changes["personalised_at"] = timezone.now()
        if not changes:
            return campaign
        for key, value in changes.items():
            setattr(campaign, key, value)
        campaign.save()
        real = set(changes) - {"personalised_at"}
        if real and campaign.state != State.DRAFT:
            _supersede_pending(campaign)
            campaign_transition(campaign=campaign, event=Event.EDIT, comment=", ".join(sorted(real)))
        audit.record(
            action="campaign.edit",
            summary=campaign.name,
            entity_id=campaign.entity_id,
            data={"changed": sorted(changes)},
        )
    return campaign


def _supersede_pending(campaign: Campaign) -> None:
    ApprovalStep.objects.filter(campaign=campaign, status=ApprovalStep.Status.PENDING).update(
        status=ApprovalStep.Status.SUPERSEDED
    )


def campaign_cancel(*, campaign: Campaign, comment: str = "") -> Campaign:
    _require(Action.CAMPAIGN_SUBMIT)
    with transaction.atomic():
        _supersede_pending(campaign)
        return campaign_transition(campaign=campaign, event=Event.CANCEL, comment=comment)


# -- submission, proofs and approval (BAT) ----------------------------------------------------------


def approvers(campaign: Campaign, level: str) -> list[Any]:
    """Users who may decide a ``level`` step for the campaign's store: regional managers above it, or
    HQ. Unscoped on purpose: a store submitting must reach people above its own scope (emails only)."""
    ancestors = [int(p) for p in campaign.entity.path.split("/") if p]
    roles = [Role.REGIONAL_MANAGER] if level == ApprovalStep.Level.REGIONAL else list(HQ_ROLES)
    memberships = Membership.unscoped.filter(
        organisation_id=campaign.organisation_id, entity_id__in=ancestors, role__in=roles, is_active=True
    ).select_related("user")
    return [m.user for m in memberships if m.user.is_active]


def _send_mail(subject: str, body: str, to: list[str], html: str = "") -> list[str]:
    to = sorted({a for a in to if a})
    if not to:
        return []
    message = EmailMultiAlternatives(subject, body, django_settings.DEFAULT_FROM_EMAIL, to)
    if html:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:  # the proof stays on the page; a mail outage must not block the approval
        log.exception("campaign mail to %s failed", to)
        return []
    return to


def _proof_test_send(proof: Proof, campaign: Campaign, recipients: list[str]) -> list[str]:
    subject = _("[Proof] %(name)s — %(store)s") % {"name": campaign.name, "store": campaign.entity.name}
    if proof.subject:
        subject += f" — {proof.subject}"
    intro = _("Proof of “%(name)s” for %(store)s, version %(round)s.") % {
        "name": campaign.name,
        "store": campaign.entity.name,
        "round": proof.round,
    }
    return _send_mail(subject, f"{intro}\n\n{proof.text}", recipients, proof.html)


def campaign_save(
    *,
    campaign: Campaign,
    values: dict[str, Any] | None = None,
    criteria: dict[str, Any] | None = None,
    scheduled_at: dt.datetime | None = None,
    name: str | None = None,
    submit: bool = False,
) -> Campaign:
    """The edit page's save: ``campaign_update``, then ``campaign_submit`` when asked, in one
    transaction: a refused submission leaves the campaign as it was."""
    with transaction.atomic():
        campaign_update(
            campaign=campaign, values=values, criteria=criteria, scheduled_at=scheduled_at, name=name
        )
        if submit:
            campaign_submit(campaign=campaign)
    return campaign


def campaign_submit(*, campaign: Campaign, system: bool = False, comment: str = "") -> Campaign:
    """Submit for approval: snapshot the rendered content (the proof), check content and budget,
    open the approval steps of the policy, send the proof to the requester and the approvers, and
    approve at once what needs no human (no policy; automatic checks that pass)."""
    if not system:
        _require(Action.CAMPAIGN_SUBMIT)
    scope = get_scope()
    sim = selectors.simulate(campaign)
    preview = creative_selectors.preview(campaign.version, campaign.entity, campaign.values)
    zone_defs, _e = zonelib.parse_zones(campaign.version.zones)
    findings = list(preview.findings)
    _clean, zone_errors = zonelib.validate_values(
        [z for z in zone_defs if not z.locked], dict(campaign.values.items()), Role.HQ_ADMIN
    )
    findings += zone_errors
    content_ok = not any(f.severity == ERROR for f in findings)
    org_settings = selectors.settings_for(campaign.organisation_id)
    route_hq = sim.over_budget and org_settings.over_budget == CampaignSettings.OverBudget.ROUTE_HQ
    facts = Facts(
        content_ok=content_ok,
        budget_ok=not sim.over_budget or route_hq or system,
        send_time_set=campaign.scheduled_at is not None,
    )
    try:
        next_state(campaign.state, Event.SUBMIT, facts)
    except TransitionRefused as exc:
        if exc.guard == "content_ok":
            raise ValidationError([f.text for f in findings if f.severity == ERROR] or [exc.reason]) from None
        raise refused(exc) from None
    policy = campaign.approval_policy
    if campaign.kind == Campaign.Kind.OPERATION and campaign.operation is not None:
        policy = campaign.operation.approval_policy
    levels = list(POLICY_STEPS.get(policy, ()))
    reasons = ["policy"] * len(levels)
    if system:
        levels, reasons = [], []  # HQ's own defaults, applied by HQ at the deadline
    elif route_hq and "hq" not in levels:
        levels.append("hq")
        reasons.append("over_budget")
    with transaction.atomic():
        campaign.estimated_recipients = sim.recipients
        campaign.estimated_cost = sim.cost
        campaign.over_budget = sim.over_budget
        campaign.save(update_fields=["estimated_recipients", "estimated_cost", "over_budget", "updated_at"])
        _supersede_pending(campaign)
        last = campaign.proofs.order_by("-round").values_list("round", flat=True).first() or 0
        proof = Proof.objects.create(
            organisation_id=campaign.organisation_id,
            campaign=campaign,
            round=last + 1,
            version=campaign.version,
            values=dict(campaign.values),
            subject=preview.rendered.subject[:300],
            html=preview.rendered.html,
            text=preview.rendered.text or (preview.rendered.sms and preview.rendered.text) or "",
            content_hash=values_digest({"v": campaign.version_id, "values": campaign.values}),
            findings=[{"severity": f.severity, "where": f.where, "text": f.text} for f in findings],
        )
        due = campaign.scheduled_at
        if campaign.operation is not None:
            due = min(
                campaign.scheduled_at or campaign.operation.personalisation_deadline,
                campaign.operation.personalisation_deadline,
            )
        for order, (level, reason) in enumerate(zip(levels, reasons, strict=True)):
            ApprovalStep.objects.create(
                organisation_id=campaign.organisation_id,
                proof=proof,
                campaign=campaign,
                order=order,
                level=level,
                reason=reason,
                due_at=due,
            )
        campaign_transition(campaign=campaign, event=Event.SUBMIT, facts=facts, comment=comment)
        # Automatic step: passes when the compliance checks pass entirely (warnings included);
        # otherwise head office looks at it.
        for step in ApprovalStep.objects.filter(proof=proof, level=ApprovalStep.Level.AUTO):
            if findings:
                step.status = ApprovalStep.Status.SUPERSEDED
                step.comment = _("Compliance warnings: sent to head office.")
                step.save(update_fields=["status", "comment"])
                ApprovalStep.objects.create(
                    organisation_id=campaign.organisation_id,
                    proof=proof,
                    campaign=campaign,
                    order=step.order,
                    level=ApprovalStep.Level.HQ,
                    reason="auto_failed",
                    due_at=step.due_at,
                )
            else:
                step.status = ApprovalStep.Status.APPROVED
                step.decided_at = timezone.now()
                step.comment = _("Every compliance check passed.")
                step.save(update_fields=["status", "decided_at", "comment"])
        _advance(campaign, proof)
    # The test send: the requester and every approver of the open steps get the proof by email.
    if campaign.state == State.SUBMITTED:
        to = []
        if scope.user_id:
            from glocal.accounts.models import User

            requester = User.objects.filter(pk=scope.user_id).first()
            if requester:
                to.append(requester.email)
        for level in {s.level for s in proof.steps.filter(status=ApprovalStep.Status.PENDING)}:
            to += [u.email for u in approvers(campaign, level)]
        proof.test_sent_to = _proof_test_send(proof, campaign, to)
        proof.save(update_fields=["test_sent_to"])
    return campaign


def _advance(campaign: Campaign, proof: Proof) -> None:
    """When no step of the proof is pending any more: approved, then scheduled."""
    if ApprovalStep.objects.filter(proof=proof, status=ApprovalStep.Status.PENDING).exists():
        return
    campaign_transition(campaign=campaign, event=Event.APPROVE, facts=Facts(approvals_complete=True))
    campaign_transition(
        campaign=campaign, event=Event.SCHEDULE, facts=Facts(send_time_set=campaign.scheduled_at is not None)
    )


def approval_decide(*, step: ApprovalStep, approve: bool, comment: str = "") -> ApprovalStep:
    """Approve the current step, or request changes (a comment is required). Only the first pending
    step of the campaign's latest proof can be decided, by a role allowed for its level."""
    _require(Action.CAMPAIGN_APPROVE)
    scope = get_scope()
    with transaction.atomic():
        step = ApprovalStep.objects.select_for_update().select_related("campaign", "proof").get(pk=step.pk)
        campaign = step.campaign
        current = selectors.current_step(campaign)
        if current is None or current.pk != step.pk:
            raise ValidationError(_("This proof is no longer waiting for this decision."))
        if not selectors.can_decide(step, scope.role):
            raise PermissionDenied
        if not approve and not comment.strip():
            raise ValidationError({"comment": _("Say what should change.")})
        step.status = ApprovalStep.Status.APPROVED if approve else ApprovalStep.Status.CHANGES
        step.decided_by_id = scope.user_id
        step.decided_at = timezone.now()
        step.comment = comment.strip()[:2000]
        step.save(update_fields=["status", "decided_by", "decided_at", "comment"])
        if approve:
            _advance(campaign, step.proof)
        else:
            _supersede_pending(campaign)
            campaign_transition(
                campaign=campaign,
                event=Event.REQUEST_CHANGES,
                facts=Facts(has_comment=True),
                comment=step.comment,
            )
    if not approve:
        requester = campaign.created_by.email if campaign.created_by else ""
        _send_mail(
            _("Changes requested: %(name)s") % {"name": campaign.name},
            step.comment,
            [requester] + [u.email for u in _store_managers(campaign.entity)],
        )
    return step


def approvals_bulk(*, steps: list[ApprovalStep]) -> tuple[int, list[str]]:
    done, errors = 0, []
    for step in steps:
        try:
            approval_decide(step=step, approve=True)
            done += 1
        except (ValidationError, PermissionDenied) as exc:
            errors.append(f"{step.campaign.name}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}")
    return done, errors


# -- sending (called by the delivery engine) --------------------------------------------------------


def campaign_start_sending(*, campaign: Campaign) -> Campaign:
    if campaign.operation is not None and campaign.operation.status == Operation.Status.CANCELLED:
        raise ValidationError(_("The operation is cancelled: nothing of it is sent."))
    return campaign_transition(campaign=campaign, event=Event.START_SENDING)


def campaign_mark_sent(
    *, campaign: Campaign, sent_count: int, actual_cost: Decimal | None = None
) -> Campaign:
    """Record the execution (count from the platform's own outbox) and the actual cost."""
    settings = selectors.settings_for(campaign.organisation_id)
    if actual_cost is None:
        unit, _units = selectors.unit_cost(campaign, settings)
        actual_cost = (unit * sent_count).quantize(selectors.CENTS)
    campaign.sent_count = sent_count
    campaign.actual_cost = actual_cost
    campaign.save(update_fields=["sent_count", "actual_cost", "updated_at"])
    return campaign_transition(campaign=campaign, event=Event.FINISH_SENDING)


# -- operations -------------------------------------------------------------------------------------


def operation_create(*, fields: dict[str, Any], eligible_entities: list[Entity] | None = None) -> Operation:
    _require(Action.OPERATION_MANAGE)
    scope = get_scope()
    owner = fields.get("owner") or Entity.objects.get(pk=scope.entity_id)
    if not scope.covers_path(owner.path):
        raise PermissionDenied
    fields = {**fields, "owner": owner}
    fields["audience_criteria"] = audience.clean_criteria(fields.get("audience_criteria") or {})
    with transaction.atomic():
        op = Operation(organisation_id=scope.organisation_id, created_by_id=scope.user_id, **fields)
        _check_operation(op)
        op.save()
        if eligible_entities is not None:
            op.eligible_entities.set(eligible_entities)
        audit.record(action="operation.create", summary=op.name, entity_id=owner.pk)
    return op


def _check_operation(op: Operation) -> None:
    op.full_clean(exclude=["eligible_entities"])
    errors: dict[str, str] = {}
    if op.subscription_deadline > op.personalisation_deadline:
        errors["personalisation_deadline"] = _(
            "The personalisation deadline comes after the subscription deadline."
        )
    if op.in_market_end < op.in_market_start:
        errors["in_market_end"] = _("The in-market window ends before it starts.")
    if op.eligibility == Operation.Eligibility.SUBTREE and not op.eligible_root_id:
        errors["eligible_root"] = _("Choose the entity whose stores are eligible.")
    if op.eligibility == Operation.Eligibility.GROUP and not op.eligible_group_id:
        errors["eligible_group"] = _("Choose the group of eligible stores.")
    if errors:
        raise ValidationError(errors)


def wave_add(
    *,
    operation: Operation,
    name: str,
    version: TemplateVersion,
    send_at: dt.datetime,
    zone_defaults: dict[str, Any] | None = None,
) -> OperationWave:
    _require(Action.OPERATION_MANAGE)
    if operation.status != Operation.Status.DRAFT:
        raise ValidationError(_("Waves can only be added while the operation is a draft."))
    if not version.is_published or version.template.status != ChannelTemplate.Status.PUBLISHED:
        raise ValidationError({"version": _("Only a published template can be used.")})
    if send_at < operation.personalisation_deadline:
        raise ValidationError({"send_at": _("A wave is sent after the personalisation deadline.")})
    defaults = _clean_defaults(version, zone_defaults or {})
    wave = OperationWave.objects.create(
        organisation_id=operation.organisation_id,
        operation=operation,
        name=name.strip()[:120],
        version=version,
        send_at=send_at,
        zone_defaults=defaults,
    )
    audit.record(
        action="operation.wave", summary=f"{operation.name}: {wave.name}", entity_id=operation.owner_id
    )
    return wave


def _clean_defaults(
    version: TemplateVersion, values: dict[str, Any], *, complete: bool = False
) -> dict[str, Any]:
    """HQ's default zone values, validated like a store's (locked zones refused). ``complete``: every
    required zone must have a value (checked at publication; a wave may be added before its defaults)."""
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    if not complete:
        zone_defs = [dc_replace(z, required=False) for z in zone_defs]
    clean, errors = zonelib.validate_values(zone_defs, values, Role.HQ_ADMIN)
    if errors:
        raise creative_services.findings_error(errors)
    return clean


def wave_set_defaults(*, wave: OperationWave, values: dict[str, Any]) -> OperationWave:
    _require(Action.OPERATION_MANAGE)
    wave.zone_defaults = _clean_defaults(wave.version, values)
    wave.save(update_fields=["zone_defaults"])
    audit.record(
        action="operation.defaults",
        summary=f"{wave.operation.name}: {wave.name}",
        entity_id=wave.operation.owner_id,
    )
    return wave


def operation_publish(*, operation: Operation) -> Operation:
    """Open the operation to its eligible stores: automatic and mandatory modes subscribe them all."""
    _require(Action.OPERATION_MANAGE)
    if operation.status != Operation.Status.DRAFT:
        raise ValidationError(_("Only a draft operation can be published."))
    if not operation.waves.exists():
        raise ValidationError(_("Add at least one wave first."))
    for wave in operation.waves.select_related("version"):
        try:
            _clean_defaults(wave.version, wave.zone_defaults, complete=True)
        except ValidationError:
            raise ValidationError(
                _("Give head office's default content for every required zone of “%(wave)s” first.")
                % {"wave": wave.name}
            ) from None
    auto = operation.participation != Operation.Mode.OPT_IN
    with transaction.atomic():
        operation.status = Operation.Status.PUBLISHED
        operation.save(update_fields=["status"])
        stores = list(selectors.eligible_stores(operation))
        Participation.objects.bulk_create(
            [
                Participation(
                    organisation_id=operation.organisation_id,
                    operation=operation,
                    entity=store,
                    status=Participation.Status.SUBSCRIBED if auto else Participation.Status.PENDING,
                )
                for store in stores
            ]
        )
        if auto:
            for part in Participation.objects.filter(operation=operation).select_related("entity"):
                _ensure_wave_campaigns(part)
        audit.record(
            action="operation.publish",
            summary=f"{operation.name} ({len(stores)})",
            entity_id=operation.owner_id,
        )
    return operation


def _ensure_wave_campaigns(part: Participation) -> list[Campaign]:
    """The store's instance of every wave, in draft, with HQ's defaults (the store's values for the
    template carried over when it has personalised it before)."""
    operation = part.operation
    created = []
    for wave in operation.waves.select_related("version__template"):
        if Campaign.objects.filter(wave=wave, entity=part.entity).exclude(state=State.CANCELLED).exists():
            continue
        values = {**wave.zone_defaults}
        campaign = Campaign.objects.create(
            organisation_id=operation.organisation_id,
            entity=part.entity,
            kind=Campaign.Kind.OPERATION,
            operation=operation,
            wave=wave,
            name=f"{operation.name} — {wave.name}"[:160],
            version=wave.version,
            values=values,
            audience_criteria=dict(operation.audience_criteria),
            scheduled_at=wave.send_at,
            approval_policy=operation.approval_policy,
            created_by_id=get_scope().user_id,
        )
        CampaignTransition.objects.create(
            organisation_id=campaign.organisation_id,
            campaign=campaign,
            from_state="",
            to_state=State.DRAFT,
            event="create",
            actor_id=get_scope().user_id,
        )
        created.append(campaign)
    return created


def participation_decide(*, operation: Operation, entity: Entity, subscribe: bool) -> Participation:
    """A store subscribes to, or opts out of, an operation before the subscription deadline."""
    _require(Action.CAMPAIGN_SUBMIT)
    scope = get_scope()
    if not scope.covers_path(entity.path) or not selectors.is_open_to(operation, entity):
        raise PermissionDenied
    if timezone.now() >= operation.subscription_deadline:
        raise ValidationError(DEADLINE_PASSED)
    if not subscribe and operation.participation == Operation.Mode.MANDATORY:
        raise ValidationError(_("This operation is mandatory: it cannot be declined."))
    with transaction.atomic():
        part, _created = Participation.objects.select_for_update().get_or_create(
            operation=operation, entity=entity, defaults={"organisation_id": operation.organisation_id}
        )
        part.status = Participation.Status.SUBSCRIBED if subscribe else Participation.Status.OPTED_OUT
        part.decided_by_id = scope.user_id
        part.decided_at = timezone.now()
        part.save()
        if subscribe:
            _ensure_wave_campaigns(part)
        else:
            for campaign in Campaign.objects.filter(operation=operation, entity=entity).exclude(
                state__in=[State.CANCELLED, State.SENT]
            ):
                _supersede_pending(campaign)
                campaign_transition(campaign=campaign, event=Event.CANCEL, comment=_("The store opted out."))
        audit.record(
            action="operation.subscribe" if subscribe else "operation.opt_out",
            summary=operation.name,
            entity_id=entity.pk,
        )
    return part


def operation_cancel(*, operation: Operation, comment: str = "") -> int:
    """Cancel the operation and every local instance of it: nothing of it is sent."""
    _require(Action.OPERATION_MANAGE)
    if operation.status == Operation.Status.CANCELLED:
        return 0
    count = 0
    with transaction.atomic():
        operation.status = Operation.Status.CANCELLED
        operation.save(update_fields=["status"])
        for campaign in Campaign.objects.filter(operation=operation).exclude(
            state__in=[State.CANCELLED, State.SENT]
        ):
            _supersede_pending(campaign)
            campaign_transition(
                campaign=campaign, event=Event.CANCEL, comment=comment or _("Operation cancelled.")
            )
            count += 1
        audit.record(
            action="operation.cancel", summary=f"{operation.name} ({count})", entity_id=operation.owner_id
        )
    return count


# -- deadlines and reminders (jobs and commands call these; both idempotent) ------------------------


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
        with transaction.atomic():
            pending = Participation.objects.filter(operation=op, status=Participation.Status.PENDING)
            if op.participation == Operation.Mode.OPT_IN:
                stats["out"] += pending.update(status=Participation.Status.OUT, decided_at=now)
            else:
                for part in pending.select_related("entity"):
                    part.status = Participation.Status.SUBSCRIBED
                    part.save(update_fields=["status"])
                    _ensure_wave_campaigns(part)
            Operation.objects.filter(pk=op.pk).update(subscription_closed_at=now)
    for op in ops.filter(personalisation_deadline__lte=now, personalisation_closed_at__isnull=True):
        with transaction.atomic():
            for part in Participation.objects.filter(
                operation=op, status=Participation.Status.SUBSCRIBED
            ).select_related("entity"):
                _ensure_wave_campaigns(part)
                applied = False
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
                        campaign_submit(
                            campaign=campaign, system=True, comment=_("HQ defaults applied at the deadline.")
                        )
                    except ValidationError:
                        log.exception("HQ defaults refused for campaign %s", campaign.pk)
                        continue
                    applied = True
                    stats["defaults"] += 1
                if applied:
                    part.defaults_applied = True
                    part.save(update_fields=["defaults_applied"])
            Operation.objects.filter(pk=op.pk).update(personalisation_closed_at=now)
    return stats


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


def _store_managers(entity: Entity) -> list[Any]:
    # Unscoped: reminders and change requests reach the store's managers whatever the acting scope.
    return [
        m.user
        for m in Membership.unscoped.filter(
            organisation_id=entity.organisation_id, entity=entity, role=Role.LOCAL_MANAGER, is_active=True
        ).select_related("user")
        if m.user.is_active
    ]


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


# -- calendar and budgets ---------------------------------------------------------------------------


def slot_create(*, fields: dict[str, Any]) -> CalendarSlot:
    _require(Action.CALENDAR_MANAGE)
    scope = get_scope()
    entity = fields.get("entity") or Entity.objects.get(pk=scope.entity_id)
    if not scope.covers_path(entity.path):
        raise PermissionDenied
    slot = CalendarSlot(organisation_id=scope.organisation_id, **{**fields, "entity": entity})
    slot.full_clean()
    if slot.end < slot.start:
        raise ValidationError({"end": _("The window ends before it starts.")})
    slot.save()
    audit.record(action="calendar.slot", summary=f"{slot.kind} {slot.name}", entity_id=entity.pk)
    return slot


def budget_save(*, fields: dict[str, Any], budget: Budget | None = None) -> Budget:
    _require(Action.BUDGET_MANAGE)
    scope = get_scope()
    entity = fields["entity"]
    if not scope.covers_path(entity.path):
        raise PermissionDenied
    budget = budget or Budget(organisation_id=scope.organisation_id)
    for key, value in fields.items():
        setattr(budget, key, value)
    budget.full_clean()
    if budget.period_end < budget.period_start:
        raise ValidationError({"period_end": _("The period ends before it starts.")})
    if not Decimal("0") <= budget.coop_share <= Decimal("100"):
        raise ValidationError({"coop_share": _("A share between 0 and 100 %.")})
    overlapping = Budget.objects.filter(
        entity=entity, period_start__lte=budget.period_end, period_end__gte=budget.period_start
    ).exclude(pk=budget.pk)
    if overlapping.exists():
        raise ValidationError(_("This entity already has a budget for an overlapping period."))
    budget.save()
    audit.record(action="budget.save", summary=f"{entity.name} {budget.amount}", entity_id=entity.pk)
    return budget
