"""Submission, proofs and approval (BAT): the proof snapshot, the approval steps of the policy,
the test send, decisions one step at a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from glocal.core.roles import Action, Role
from glocal.core.scope import Scope, get_scope
from glocal.creatives import selectors as creative_selectors
from glocal.creatives import zones as zonelib
from glocal.creatives.findings import ERROR, Finding
from glocal.creatives.models import values_digest

from .. import selectors
from ..models import POLICY_STEPS, ApprovalStep, Campaign, CampaignSettings, Proof
from ..states import Event, Facts, State, TransitionRefused, next_state
from ._common import _require, _supersede_pending, refused
from ._mail import _send_mail, _store_managers, approvers
from .local import campaign_update
from .transitions import campaign_transition


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
    budget_line: str | None = None,
    submit: bool = False,
    holdout_percent: int | None = None,
) -> Campaign:
    """The edit page's save: ``campaign_update``, then ``campaign_submit`` when asked, in one
    transaction: a refused submission leaves the campaign as it was."""
    with transaction.atomic():
        campaign_update(
            campaign=campaign,
            values=values,
            criteria=criteria,
            scheduled_at=scheduled_at,
            name=name,
            budget_line=budget_line,
            holdout_percent=holdout_percent,
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
    findings = _submission_findings(campaign, preview)
    org_settings = selectors.settings_for(campaign.organisation_id)
    route_hq = sim.over_budget and org_settings.over_budget == CampaignSettings.OverBudget.ROUTE_HQ
    facts = Facts(
        content_ok=not any(f.severity == ERROR for f in findings),
        budget_ok=not sim.over_budget or route_hq or system,
        send_time_set=campaign.scheduled_at is not None,
    )
    _check_submittable(campaign, facts, findings)
    if not system:
        _check_audience(campaign, sim)
    levels, reasons = _approval_levels(campaign, system=system, route_hq=route_hq)
    with transaction.atomic():
        campaign.estimated_recipients = sim.recipients
        campaign.estimated_cost = sim.cost
        campaign.over_budget = sim.over_budget
        campaign.save(update_fields=["estimated_recipients", "estimated_cost", "over_budget", "updated_at"])
        _supersede_pending(campaign)
        proof = _create_proof(campaign, preview, findings)
        _open_steps(campaign, proof, levels, reasons)
        campaign_transition(campaign=campaign, event=Event.SUBMIT, facts=facts, comment=comment)
        _run_automatic_steps(campaign, proof, findings)
        _advance(campaign, proof)
    if campaign.state == State.SUBMITTED:
        _send_proof(campaign, proof, scope)
    return campaign


def _submission_findings(campaign: Campaign, preview: creative_selectors.Preview) -> list[Finding]:
    """The preview's compliance findings and the zone values' errors (locked zones aside)."""
    zone_defs, _e = zonelib.parse_zones(campaign.version.zones)
    findings = list(preview.findings)
    _clean, zone_errors = zonelib.validate_values(
        [z for z in zone_defs if not z.locked], dict(campaign.values.items()), Role.HQ_ADMIN
    )
    return findings + zone_errors


def _check_submittable(campaign: Campaign, facts: Facts, findings: list[Finding]) -> None:
    """The state machine's word on the submission; content errors are listed one by one."""
    try:
        next_state(campaign.state, Event.SUBMIT, facts)
    except TransitionRefused as exc:
        if exc.guard == "content_ok":
            raise ValidationError([f.text for f in findings if f.severity == ERROR] or [exc.reason]) from None
        if exc.guard == "send_time_set":  # said at the date field
            raise ValidationError({"send_date": refused(exc)}) from None
        raise refused(exc) from None


EMPTY_AUDIENCE = _lazy("Nobody would receive this campaign: its final audience is 0.")


def _check_audience(campaign: Campaign, sim: selectors.Simulation) -> None:
    """A campaign addressed to contacts whose final audience is empty (e.g. the pressure cap took
    everyone) is refused, saying why and what to change. A print kit addresses nobody: never refused."""
    if sim.recipients or not selectors.addresses_contacts(campaign):
        return
    reasons = [str(EMPTY_AUDIENCE), *selectors.empty_audience_reasons(sim)]
    raise ValidationError({"audience": [ValidationError(r, code="empty_audience") for r in reasons]})


def _approval_levels(campaign: Campaign, *, system: bool, route_hq: bool) -> tuple[list[str], list[str]]:
    """The approval steps to open (level, reason): the policy's (an operation's own for its
    campaigns), plus head office when over budget; none for HQ's defaults applied at the deadline."""
    if system:
        return [], []  # HQ's own defaults, applied by HQ at the deadline
    policy = campaign.approval_policy
    if campaign.kind == Campaign.Kind.OPERATION and campaign.operation is not None:
        policy = campaign.operation.approval_policy
    levels = list(POLICY_STEPS.get(policy, ()))
    reasons = ["policy"] * len(levels)
    if route_hq and "hq" not in levels:
        levels.append("hq")
        reasons.append("over_budget")
    return levels, reasons


def _create_proof(campaign: Campaign, preview: creative_selectors.Preview, findings: list[Finding]) -> Proof:
    """The next round's proof: the rendered content and its findings, as submitted."""
    last = campaign.proofs.order_by("-round").values_list("round", flat=True).first() or 0
    return Proof.objects.create(
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


def _open_steps(campaign: Campaign, proof: Proof, levels: list[str], reasons: list[str]) -> None:
    """One pending step per level, due at the send date (an operation's: its personalisation
    deadline at the latest)."""
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


def _run_automatic_steps(campaign: Campaign, proof: Proof, findings: list[Finding]) -> None:
    """Automatic step: passes when the compliance checks pass entirely (warnings included);
    otherwise head office looks at it."""
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


def _send_proof(campaign: Campaign, proof: Proof, scope: Scope) -> None:
    """The test send: the requester and every approver of the open steps get the proof by email."""
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
