"""Local campaigns, submission and approval (BAT), budgets and the ledger, through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from glocal.campaigns import selectors, services
from glocal.campaigns.models import (
    ApprovalStep,
    Budget,
    Campaign,
    CampaignSettings,
    CampaignTransition,
    LedgerEntry,
    Proof,
)
from glocal.campaigns.states import State
from glocal.core.scope import activate

from .conftest import in_days

pytestmark = pytest.mark.django_db


def local_campaign(network, templates, persona="store_a", policy="regional", **update):
    with activate(network.scope(persona)):
        templates.email.approval_policy = policy
        templates.email.save(update_fields=["approval_policy"])
        c = services.campaign_create(entity=network.store_a, template=templates.email, name="Réouverture")
        services.campaign_update(
            campaign=c,
            values={"headline": "Nous rouvrons !", "body": "<p>Venez nous voir</p>"},
            scheduled_at=update.pop("scheduled_at", in_days(10)),
            **update,
        )
        return Campaign.objects.get(pk=c.pk)


def test_local_campaign_regional_approval_full_path(network, templates, contacts, smtp_server):
    # given a store manager's campaign under a "regional" policy
    c = local_campaign(network, templates)
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
        c.refresh_from_db()
    # then it waits for the region, with a proof snapshot sent to the requester and the approver
    assert c.state == State.SUBMITTED
    assert c.estimated_recipients == 5  # 2 contacts without consent are excluded
    proof = Proof.unscoped.get(campaign=c)
    assert "Nous rouvrons" in proof.html
    sent_to = {rcpt for _from, rcpts, _msg in smtp_server.messages for rcpt in rcpts}
    assert sent_to == {"store_a@example.test", "regional@example.test"}
    assert "Nous rouvrons" in smtp_server.messages[0][2].get_body(("html",)).get_content()
    # when the regional manager approves
    with activate(network.scope("regional")):
        queue = selectors.approval_queue()
        assert [s.campaign_id for s in queue] == [c.pk]
        services.approval_decide(step=queue[0], approve=True)
        c.refresh_from_db()
    # then it is approved and scheduled, every transition logged with its actor
    assert c.state == State.SCHEDULED
    log = list(
        CampaignTransition.unscoped.filter(campaign=c).values_list("event", "to_state", "actor__email")
    )
    assert log == [
        ("create", "draft", "store_a@example.test"),
        ("submit", "submitted", "store_a@example.test"),
        ("approve", "approved", "regional@example.test"),
        ("schedule", "scheduled", "regional@example.test"),
    ]


def test_request_changes_needs_a_comment_then_resubmission(network, templates, contacts):
    c = local_campaign(network, templates, policy="hq")
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
    with activate(network.scope("regional")):
        assert selectors.approval_queue() == []  # an HQ step: not the region's
    with activate(network.scope("hq_marketer")):
        step = selectors.approval_queue()[0]
        with pytest.raises(ValidationError):
            services.approval_decide(step=step, approve=False, comment="  ")
        services.approval_decide(step=step, approve=False, comment="Titre trop long")
    c.refresh_from_db()
    assert c.state == State.CHANGES_REQUESTED
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=c, values={"headline": "Réouverture samedi"})
        c.refresh_from_db()
        assert c.state == State.DRAFT
        services.campaign_submit(campaign=c)
    assert Proof.unscoped.filter(campaign=c).count() == 2
    history = ApprovalStep.unscoped.filter(campaign=c).order_by("proof__round")
    assert [(s.proof.round, s.status) for s in history] == [(1, "changes"), (2, "pending")]


def test_change_after_approval_needs_approval_again_and_releases_commitment(network, templates, contacts):
    c = local_campaign(network, templates, policy="none")
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
        c.refresh_from_db()
        assert c.state == State.SCHEDULED
        assert selectors.simulate(c).recipients == 5
        services.campaign_update(campaign=c, values={"headline": "Autre titre"})
        c.refresh_from_db()
    assert c.state == State.DRAFT
    assert sum(e.amount for e in LedgerEntry.unscoped.filter(campaign=c)) == 0


def test_staff_prepare_manager_submits(network, templates, contacts):
    c = local_campaign(network, templates, persona="staff_a")
    with activate(network.scope("staff_a")), pytest.raises(PermissionDenied):
        services.campaign_submit(campaign=c)
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)


def test_locked_zone_refused_nothing_written(network, templates, contacts):
    c = local_campaign(network, templates)
    with activate(network.scope("store_a")):
        with pytest.raises(ValidationError):
            services.campaign_update(campaign=c, values={"headline": "Ok", "legal": "Rien"})
        c.refresh_from_db()
    assert c.values["headline"] == "Nous rouvrons !"


def test_audience_guardrails(network, templates, contacts):
    c = local_campaign(network, templates)
    with activate(network.scope("store_a")):
        with pytest.raises(ValidationError):
            services.campaign_update(campaign=c, criteria={"postcodes": ["75001"]})  # not allowed by HQ
        services.campaign_update(campaign=c, criteria={"kind": "customer", "tags": "vip"})
        c.refresh_from_db()
        assert selectors.simulate(c).recipients == 5
        # removing contacts works; another store's contact cannot be "removed" (nor added)
        services.campaign_update(campaign=c, excluded=[contacts.a[0].pk, contacts.b[0].pk])
        c.refresh_from_db()
        assert c.excluded_contacts == [contacts.a[0].pk]
        sim = selectors.simulate(c)
    assert (sim.recipients, sim.removed, sim.no_consent) == (4, 1, 0)


def test_over_budget_blocked_or_routed_to_hq(network, templates, contacts):
    with activate(network.scope("hq_admin")):
        services.budget_save(
            fields={
                "entity": network.store_a,
                "period_start": in_days(-1).date(),
                "period_end": in_days(60).date(),
                "amount": Decimal("0"),
                "coop_share": Decimal("50"),
            }
        )
        CampaignSettings.objects.create(organisation=network.org, local_criteria=["kind", "tags"])
    c = local_campaign(network, templates, policy="regional")
    with activate(network.scope("store_a")):
        sim = selectors.simulate(c)
        assert sim.over_budget and sim.cost == Decimal("0.01")
        with pytest.raises(ValidationError):
            services.campaign_submit(campaign=c)
        c.refresh_from_db()
        assert c.state == State.DRAFT and not Proof.objects.filter(campaign=c).exists()
    with activate(network.scope("hq_admin")):
        services.settings_save(changes={"over_budget": CampaignSettings.OverBudget.ROUTE_HQ})
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
    steps = list(ApprovalStep.unscoped.filter(campaign=c).order_by("order").values_list("level", "reason"))
    assert steps == [("regional", "policy"), ("hq", "over_budget")]


def test_ledger_balances_through_a_life(network, templates, contacts):
    with activate(network.scope("hq_admin")):
        budget = services.budget_save(
            fields={
                "entity": network.store_a,
                "period_start": in_days(-1).date(),
                "period_end": in_days(60).date(),
                "amount": Decimal("100"),
                "coop_share": Decimal("40"),
            }
        )
    sent = local_campaign(network, templates, policy="none")
    cancelled = local_campaign(network, templates, policy="none")
    open_ = local_campaign(network, templates, policy="none")
    with activate(network.scope("store_a")):
        for c in (sent, cancelled, open_):
            services.campaign_submit(campaign=c)
            c.refresh_from_db()
        services.campaign_cancel(campaign=cancelled)
        services.campaign_start_sending(campaign=sent)
        services.campaign_mark_sent(campaign=sent, sent_count=4)
        status = selectors.budget_status(Budget.objects.get(pk=budget.pk))

    def total(c):
        return sum(e.amount for e in LedgerEntry.unscoped.filter(campaign=c))

    assert total(cancelled) == 0
    assert total(open_) == open_.estimated_cost == Decimal("0.01")
    assert total(sent) == Decimal("0.01")  # 4 × 0.002 rounded: the actual cost
    assert status.committed == Decimal("0.01") and status.spent == Decimal("0.01")
    assert status.available == Decimal("99.98")
    coop = sum(e.coop_amount for e in LedgerEntry.unscoped.filter(campaign=sent, kind="actual"))
    assert coop == Decimal("0.00")  # 40 % of 0.01, rounded to the cent


def test_test_send_count(network, templates, contacts):
    c = local_campaign(network, templates, policy="regional_hq")
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
    recipients = {r for m in mail.outbox for r in m.to}
    # every approver of the steps in order gets the proof (the region, then HQ)
    assert recipients == {
        "store_a@example.test",
        "regional@example.test",
        "hq_admin@example.test",
        "hq_marketer@example.test",
    }
    with activate(network.scope("hq_admin")):
        # HQ may decide the regional step too; then HQ's own step is next
        step = selectors.approval_queue(level="regional")[0]
        services.approval_decide(step=step, approve=True)
        step2 = selectors.approval_queue()[0]
        assert step2.level == "hq"
        services.approval_decide(step=step2, approve=True)
    c.refresh_from_db()
    assert c.state == State.SCHEDULED


def test_stale_decision_refused(network, templates, contacts):
    c = local_campaign(network, templates)
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
    step = ApprovalStep.unscoped.get(campaign=c)
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=c, values={"headline": "Changé"})
    with activate(network.scope("regional")), pytest.raises(ValidationError):
        services.approval_decide(step=step, approve=True)
