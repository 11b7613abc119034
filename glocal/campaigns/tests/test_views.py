"""The pages: wizard, operation set-up and the store's side, approvals, calendar, budgets; denied
writes leave no side effect."""

from __future__ import annotations

import pytest
from django.urls import reverse

from glocal.campaigns import services
from glocal.campaigns.models import (
    ApprovalStep,
    Budget,
    CalendarSlot,
    Campaign,
    CampaignTransition,
    LedgerEntry,
    Operation,
    OperationWave,
    Participation,
    Proof,
    TemplatePolicy,
)
from glocal.core.models import AuditEvent
from glocal.core.scope import activate

from .conftest import add_contacts, in_days, make_operation, publish

pytestmark = pytest.mark.django_db


def dt_local(d) -> str:
    return d.strftime("%Y-%m-%dT%H:%M")


def test_wizard_in_three_screens(network, templates, contacts, login):
    client = login(network, "store_a")
    # screen 1: the template
    r = client.post(reverse("campaigns:new"), {"template": templates.email.pk, "name": "Réouverture"})
    campaign = Campaign.unscoped.get(name="Réouverture")
    assert r.status_code == 302 and r["Location"] == reverse("campaigns:edit", args=[campaign.pk])
    # screen 2: content, audience, date — and submit
    page = client.get(r["Location"])
    assert page.status_code == 200 and b"Nous" not in page.content
    when = in_days(10)
    r = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "z_headline": "Nous rouvrons samedi",
            "z_body": "<p>Venez</p>",
            "z_offer": "",
            "name": "Réouverture",
            "send_date": when.strftime("%Y-%m-%d"),
            "send_time": "10:00",
            "kind": "customer",
            "tags": "",
            "action": "submit",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"  # the template needs no approval
    # screen 3: the campaign page, with the simulation and the proof
    detail = client.get(r["Location"]).content.decode()
    assert "Nous rouvrons samedi" in Proof.unscoped.get(campaign=campaign).html
    assert "Scheduled" in detail
    sim = client.get(reverse("campaigns:simulate", args=[campaign.pk])).content.decode()
    assert "5 recipients" in sim and "excluded: no consent" not in sim  # customers only: all consented


def test_forged_locked_zone_refused(network, templates, contacts, login):
    client = login(network, "store_a")
    client.post(reverse("campaigns:new"), {"template": templates.email.pk})
    campaign = Campaign.unscoped.get()
    r = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {"z_headline": "Ok", "z_legal": "Forged", "name": "x", "send_date": "", "send_time": ""},
    )
    assert r.status_code == 200 and "locked" in r.content.decode()
    campaign.refresh_from_db()
    assert "legal" not in campaign.values


def test_hq_sets_up_an_operation_store_answers_region_approves(network, templates, contacts, login):
    hq = login(network, "hq_marketer")
    r = hq.post(
        reverse("campaigns:operation_new"),
        {
            "name": "Foire aux vins",
            "visible_from": in_days(-1).strftime("%Y-%m-%d"),
            "subscription_deadline": dt_local(in_days(3)),
            "personalisation_deadline": dt_local(in_days(5)),
            "in_market_start": in_days(7).strftime("%Y-%m-%d"),
            "in_market_end": in_days(20).strftime("%Y-%m-%d"),
            "participation": "opt_in",
            "approval_policy": "regional",
            "eligibility": "all",
            "aud-kind": "customer",
        },
    )
    op = Operation.unscoped.get()
    assert r.status_code == 302 and op.audience_criteria == {"kind": "customer"}
    r = hq.post(
        reverse("campaigns:wave_new", args=[op.pk]),
        {"name": "Email", "template": templates.email.pk, "send_at": dt_local(in_days(8))},
    )
    wave = OperationWave.unscoped.get()
    assert r["Location"] == reverse("campaigns:wave_defaults", args=[wave.pk])
    hq.post(r["Location"], {"z_headline": "La foire arrive", "z_body": "", "z_offer": ""})
    wave.refresh_from_db()
    assert wave.zone_defaults["headline"] == "La foire arrive"
    hq.post(reverse("campaigns:operation_publish", args=[op.pk]))
    assert Participation.unscoped.filter(operation=op).count() == 3
    # store A takes part and personalises; store B opts out
    store_a = login(network, "store_a")
    store_a.post(reverse("campaigns:participate", args=[op.pk]), {"answer": "yes"})
    campaign = Campaign.unscoped.get(operation=op, entity=network.store_a)
    r = store_a.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "z_headline": "La foire à Lille",
            "z_body": "",
            "z_offer": "-10 %",
            "name": campaign.name,
            "action": "submit",
        },
    )
    assert r.status_code == 302
    store_b = login(network, "store_b")
    store_b.post(reverse("campaigns:participate", args=[op.pk]), {"answer": "no"})
    # the region approves from its queue (bulk)
    regional = login(network, "regional")
    queue = regional.get(reverse("campaigns:approvals")).content.decode()
    assert campaign.name in queue
    step = ApprovalStep.unscoped.get(campaign=campaign)
    regional.post(reverse("campaigns:approvals"), {"step": [step.pk]})
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"
    # HQ follows participation and sees the calendar
    page = login(network, "hq_marketer").get(reverse("campaigns:operation", args=[op.pk])).content.decode()
    assert "1 of 3 stores take part" in page and "1 not answered" in page and "1 opted out" in page
    cal = login(network, "hq_marketer").get(
        reverse("campaigns:calendar"), {"date": in_days(8).strftime("%Y-%m-%d")}
    )
    assert "Foire aux vins" in cal.content.decode()
    week = login(network, "hq_marketer").get(
        reverse("campaigns:calendar"),
        {"view": "week", "date": in_days(8).strftime("%Y-%m-%d"), "channel": "email"},
    )
    assert "Foire aux vins" in week.content.decode()


def test_budgets_pages(network, login):
    hq = login(network, "hq_admin")
    r = hq.post(
        reverse("campaigns:budgets"),
        {
            "entity": network.store_a.pk,
            "period_start": in_days(-1).strftime("%Y-%m-%d"),
            "period_end": in_days(90).strftime("%Y-%m-%d"),
            "amount": "300",
            "coop_share": "50",
        },
    )
    assert r.status_code == 302
    budget = Budget.unscoped.get()
    assert "€150.00" in hq.get(reverse("campaigns:budgets")).content.decode()
    assert login(network, "store_a").get(reverse("campaigns:budget", args=[budget.pk])).status_code == 200
    assert login(network, "store_b").get(reverse("campaigns:budget", args=[budget.pk])).status_code == 404


def _snapshot() -> dict:
    return {
        "campaigns": list(
            Campaign.unscoped.order_by("pk").values_list("pk", "state", "values", "excluded_contacts")
        ),
        "transitions": CampaignTransition.unscoped.count(),
        "steps": list(ApprovalStep.unscoped.order_by("pk").values_list("pk", "status")),
        "proofs": Proof.unscoped.count(),
        "ledger": LedgerEntry.unscoped.count(),
        "operations": list(Operation.unscoped.order_by("pk").values_list("pk", "status")),
        "waves": list(OperationWave.unscoped.order_by("pk").values_list("pk", "zone_defaults")),
        "participations": list(Participation.unscoped.order_by("pk").values_list("pk", "status")),
        "budgets": list(Budget.unscoped.order_by("pk").values_list("pk", "amount")),
        "slots": CalendarSlot.unscoped.count(),
        "policies": list(TemplatePolicy.unscoped.values_list("template_id", "policy")),
        "audit": AuditEvent.unscoped.count(),
    }


def test_denied_writes_change_nothing(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates, participation="mandatory"))
    campaign_a = Campaign.unscoped.get(operation=op, entity=network.store_a)
    local = login(network, "store_a")
    local.post(reverse("campaigns:new"), {"template": templates.email.pk, "name": "Local A"})
    local_a = Campaign.unscoped.get(name="Local A")
    local.post(
        reverse("campaigns:edit", args=[local_a.pk]),
        {
            "z_headline": "Hey",
            "name": "Local A",
            "send_date": in_days(9).strftime("%Y-%m-%d"),
            "send_time": "11:00",
        },
    )
    Campaign.unscoped.filter(pk=local_a.pk).update(approval_policy="regional")
    local.post(reverse("campaigns:submit", args=[local_a.pk]))
    step = ApprovalStep.unscoped.get(campaign=local_a)
    budget = Budget.unscoped.create(
        organisation=network.org,
        entity=network.store_a,
        period_start=in_days(-1).date(),
        period_end=in_days(30).date(),
        amount=100,
    )
    wave = OperationWave.unscoped.get(operation=op)
    before = _snapshot()
    attempts = [
        # another store's campaign, approval, budget: 404, nothing changes
        ("store_b", "campaigns:edit", local_a.pk, {"z_headline": "Hacked", "name": "x"}),
        ("store_b", "campaigns:audience", local_a.pk, {"shown": [contacts.a[0].pk]}),
        ("store_b", "campaigns:submit", campaign_a.pk, {}),
        ("store_b", "campaigns:cancel", local_a.pk, {}),
        ("store_b", "campaigns:decide", step.pk, {"decision": "approve"}),
        ("store_b", "campaigns:budget", budget.pk, {}),
        ("other_org", "campaigns:cancel", local_a.pk, {}),
        ("other_org", "campaigns:operation_cancel", op.pk, {}),
        ("other_org", "campaigns:wave_defaults", wave.pk, {"z_headline": "Hacked"}),
        # roles that may not
        ("staff_a", "campaigns:submit", local_a.pk, {}),
        ("staff_a", "campaigns:cancel", local_a.pk, {}),
        ("store_a", "campaigns:decide", step.pk, {"decision": "approve"}),
        ("viewer", "campaigns:decide", step.pk, {"decision": "approve"}),
        ("store_a", "campaigns:operation_cancel", op.pk, {}),
        ("store_a", "campaigns:operation_publish", op.pk, {}),
        ("store_a", "campaigns:wave_defaults", wave.pk, {"z_headline": "Mine"}),
        ("store_a", "campaigns:participate", op.pk, {"answer": "no"}),  # mandatory: refused, message
        ("regional", "campaigns:participate", op.pk, {"answer": "no"}),
        ("store_a", "campaigns:budgets", None, {"entity": network.store_a.pk, "amount": "9999"}),
        ("store_a", "campaigns:settings", None, {"over_budget": "route_hq"}),
        ("viewer", "campaigns:slot_new", None, {"kind": "blackout", "name": "x"}),
        ("store_a", "campaigns:policies", None, {f"policy-{templates.email.pk}": "none"}),
        ("regional", "campaigns:policies", None, {f"policy-{templates.email.pk}": "none"}),
        ("regional", "campaigns:edit", campaign_a.pk, {"z_headline": "Region"}),
        ("hq_marketer", "campaigns:decide", step.pk, {"decision": "changes", "comment": ""}),
    ]
    for persona, route, pk, data in attempts:
        url = reverse(route, args=[pk]) if pk else reverse(route)
        response = login(network, persona).post(url, data)
        assert response.status_code in {302, 403, 404}, f"{persona} {route}: {response.status_code}"
    assert _snapshot() == before


def test_simulation_follows_the_form_without_saving(network, templates, contacts, login):
    client = login(network, "store_a")
    client.post(reverse("campaigns:new"), {"template": templates.email.pk, "name": "Essai"})
    campaign = Campaign.unscoped.get(name="Essai")
    url = reverse("campaigns:simulate", args=[campaign.pk])
    assert "5 recipients" in client.get(url).content.decode()  # 7 owned, 2 without consent
    live = client.post(url, {"kind": "prospect", "z_headline": "Hey", "name": "Essai"}).content.decode()
    assert "0 recipients" in live
    refused = client.post(url, {"postcodes": "59000", "name": "Essai"}).content.decode()
    assert "5 recipients" in refused  # a criterion HQ does not allow is not applied
    campaign.refresh_from_db()
    assert campaign.audience_criteria == {} and campaign.values.get("headline") != "Hey"


def test_approval_queue_query_count_does_not_grow(network, templates, contacts, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def submit_one(name: str) -> None:
        # each its own contact: the pressure cap would leave a fourth campaign to the same ones empty
        add_contacts(network.store_a, 1, prefix=name, tags=f"|{name.lower()}|")
        with activate(network.scope("store_a")):
            c = services.campaign_create(entity=network.store_a, template=templates.email, name=name)
            services.campaign_update(
                campaign=c, values={"headline": name}, scheduled_at=in_days(9), criteria={"tags": [name]}
            )
            Campaign.objects.filter(pk=c.pk).update(approval_policy="regional")
            services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))

    regional = login(network, "regional")

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert regional.get(reverse("campaigns:approvals")).status_code == 200
        return len(ctx.captured_queries)

    submit_one("Un")
    one = queries()
    for name in ("Deux", "Trois", "Quatre"):
        submit_one(name)
    assert queries() == one


def test_hq_sets_a_multi_step_policy_per_template(network, templates, contacts, login):
    hq = login(network, "hq_marketer")
    r = hq.post(reverse("campaigns:policies"), {f"policy-{templates.email.pk}": "regional_hq"})
    assert r.status_code == 302
    client = login(network, "store_a")
    client.post(reverse("campaigns:new"), {"template": templates.email.pk, "name": "Deux étapes"})
    campaign = Campaign.unscoped.get(name="Deux étapes")
    assert campaign.approval_policy == "regional_hq"
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=campaign, values={"headline": "Hey"}, scheduled_at=in_days(9))
        services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    levels = list(
        ApprovalStep.unscoped.filter(campaign=campaign).order_by("order").values_list("level", flat=True)
    )
    assert levels == ["regional", "hq"]
