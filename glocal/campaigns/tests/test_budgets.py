"""Budgets: budget lines (same line may not overlap, different lines may, the next period follows),
changes kept in the history (who, when, before, after), closing (no new commitment, the rest released),
which budget a campaign's spend goes to (the line it names, else the one covering its send date), amounts
typed and shown with their grouping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from glocal.campaigns import selectors, services
from glocal.campaigns.models import Budget, Campaign, LedgerEntry
from glocal.core.models import AuditEvent
from glocal.core.scope import activate

from .conftest import in_days
from .test_services import local_campaign

pytestmark = pytest.mark.django_db


def day(n: int) -> dt.date:
    return in_days(n).date()


def new_budget(network, start=-1, end=60, amount="100", label="", entity=None, persona="hq_admin") -> Budget:
    with activate(network.scope(persona)):
        return services.budget_save(
            fields={
                "entity": entity or network.store_a,
                "label": label,
                "period_start": day(start),
                "period_end": day(end),
                "amount": Decimal(amount),
                "coop_share": Decimal("0"),
            }
        )


def scheduled(network, templates, budget_line: str = "") -> Campaign:
    c = local_campaign(network, templates, policy="none")
    Campaign.unscoped.filter(pk=c.pk).update(budget_line=budget_line)  # any label, even one of no budget
    c.refresh_from_db()
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=c)
    return Campaign.unscoped.get(pk=c.pk)


# -- lines and periods ------------------------------------------------------------------------------------


def test_the_same_line_may_not_overlap_but_may_follow(network):
    new_budget(network, 0, 180)
    with pytest.raises(ValidationError, match="overlapping"):
        new_budget(network, 100, 300)
    with pytest.raises(ValidationError, match="overlapping"):
        new_budget(network, 100, 300, label="  ")  # blank is the general line too
    following = new_budget(network, 181, 365)  # the next semester
    assert following.pk


def test_different_lines_may_overlap(network):
    new_budget(network, 0, 180)
    spring = new_budget(network, 0, 90, label="Printemps")
    assert spring.label == "Printemps"
    with pytest.raises(ValidationError, match="overlapping"):
        new_budget(network, 30, 60, label=" printemps ")  # the same line, however it is typed


# -- changes and their history ----------------------------------------------------------------------------


def test_a_change_is_recorded_with_who_when_before_and_after(network, login):
    budget = new_budget(network, amount="20000")
    with activate(network.scope("hq_admin")):
        services.budget_save(fields={"amount": Decimal("25000"), "label": "Soldes"}, budget=budget)
    event = AuditEvent.unscoped.filter(action="budget.save").order_by("-pk").first()
    assert event is not None and event.actor is not None
    assert event.actor.email == "hq_admin@example.test"
    assert event.data["changes"] == {"label": ["", "Soldes"], "amount": ["20000.00", "25000"]}
    page = login(network, "hq_admin").get(reverse("campaigns:budget", args=[budget.pk])).content.decode()
    assert "€20,000.00 → €25,000.00" in page and "Soldes" in page
    assert "created it" in page and "changed it" in page


def test_a_budget_is_changed_through_its_page_with_grouped_amounts(network, login):
    budget = new_budget(network, amount="20000")
    client = login(network, "hq_admin")
    client.cookies["django_language"] = "fr"
    form = client.get(reverse("campaigns:budget_edit", args=[budget.pk])).content.decode()
    assert 'value="20\u00a0000,00"' in form or 'value="20\u202f000,00"' in form
    answer = client.post(
        reverse("campaigns:budget_edit", args=[budget.pk]),
        {
            "label": "",
            "period_start": day(-1).isoformat(),
            "period_end": day(60).isoformat(),
            "amount": "22 500,50",
            "coop_share": "10",
        },
    )
    assert answer.status_code == 302
    budget.refresh_from_db()
    assert budget.amount == Decimal("22500.50")
    page = client.get(reverse("campaigns:budgets")).content.decode()
    assert "22\u00a0500,50\u00a0€" in page


def test_the_amount_cannot_go_below_what_is_used(network, templates, contacts):
    budget = new_budget(network)
    scheduled(network, templates)
    with activate(network.scope("hq_admin")), pytest.raises(ValidationError, match="already committed"):
        services.budget_save(fields={"amount": Decimal("0")}, budget=budget)


def test_only_budget_managers_change_budgets(network):
    budget = new_budget(network)
    with activate(network.scope("store_a")), pytest.raises(Exception):  # noqa: B017 - PermissionDenied
        services.budget_save(fields={"amount": Decimal("1")}, budget=budget)


# -- closing ----------------------------------------------------------------------------------------------


def test_closing_releases_the_rest_and_takes_no_new_commitment(network, templates, contacts, login):
    budget = new_budget(network)
    first = scheduled(network, templates)
    client = login(network, "hq_admin")
    confirm = client.get(reverse("campaigns:budget_close", args=[budget.pk])).content.decode()
    assert "€99.99" in confirm and "no new commitment" in confirm  # what is left; what closing does
    assert Budget.unscoped.get(pk=budget.pk).closed_at is None  # the GET changes nothing
    assert client.post(reverse("campaigns:budget_close", args=[budget.pk])).status_code == 302
    with activate(network.scope("hq_admin")):
        status = selectors.budget_status(Budget.objects.get(pk=budget.pk))
        assert (status.available, status.released, status.committed) == (0, Decimal("99.99"), Decimal("0.01"))
        with pytest.raises(ValidationError, match="closed"):
            services.budget_save(fields={"amount": Decimal("5")}, budget=budget)
    second = scheduled(network, templates)
    assert LedgerEntry.unscoped.get(campaign=second, kind="commit").budget is None  # no open budget
    with activate(network.scope("store_a")):  # the first one's actual cost stays on its budget
        services.campaign_start_sending(campaign=first)
        services.campaign_mark_sent(campaign=first, sent_count=4)
    actual = LedgerEntry.unscoped.get(campaign=first, kind="actual")
    assert actual.budget_id == budget.pk and actual.chosen_by == "commit"
    page = client.get(reverse("campaigns:budget", args=[budget.pk])).content.decode()
    assert "closed it (€99.99 released)" in page and 'data-testid="released"' in page
    assert "Change</a>" not in page


# -- which budget a campaign draws on ---------------------------------------------------------------------


def test_the_line_the_campaign_names_else_the_one_covering_the_date(network, templates, contacts, login):
    general = new_budget(network, -1, 60)
    spring = new_budget(network, -1, 60, label="Printemps")
    named = scheduled(network, templates, budget_line="printemps")
    plain = scheduled(network, templates)
    unknown = scheduled(network, templates, budget_line="Noël")
    entries = {c.pk: LedgerEntry.unscoped.get(campaign=c, kind="commit") for c in (named, plain, unknown)}
    assert (entries[named.pk].budget_id, entries[named.pk].chosen_by) == (spring.pk, "line")
    assert (entries[plain.pk].budget_id, entries[plain.pk].chosen_by) == (general.pk, "date")
    assert (entries[unknown.pk].budget_id, entries[unknown.pk].chosen_by) == (general.pk, "date")
    with activate(network.scope("store_a")):
        assert selectors.simulate(named, with_pressure=False).budget_available == Decimal("100")
    page = login(network, "hq_admin").get(reverse("campaigns:budget", args=[spring.pk])).content.decode()
    assert "the line the campaign names" in page


def test_without_a_general_line_the_covering_budget_is_used(network, templates, contacts):
    spring = new_budget(network, -1, 60, label="Printemps")
    c = scheduled(network, templates)
    entry = LedgerEntry.unscoped.get(campaign=c, kind="commit")
    assert (entry.budget_id, entry.chosen_by) == (spring.pk, "date")


def test_the_editor_names_a_line_and_scheduling_commits_to_it(network, templates, contacts, login):
    new_budget(network, -1, 60)
    spring = new_budget(network, -1, 60, label="Printemps")
    c = local_campaign(network, templates, policy="none")
    client = login(network, "store_a")
    page = client.get(reverse("campaigns:edit", args=[c.pk])).content.decode()
    assert 'name="budget_line"' in page and "General budget" in page and "Printemps" in page
    when = in_days(10)
    form = {
        "z_headline": "Nous rouvrons",
        "z_body": "<p>Venez</p>",
        "name": "Réouverture",
        "send_date": when.strftime("%Y-%m-%d"),
        "send_time": "10:00",
        "kind": "customer",
        "budget_line": "Printemps",
    }
    sim = client.post(reverse("campaigns:simulate", args=[c.pk]), form).content.decode()
    assert "Budget line: Printemps" in sim
    r = client.post(reverse("campaigns:edit", args=[c.pk]), {**form, "action": "submit"})
    assert r.status_code == 302, r.content.decode()[:2000]
    c.refresh_from_db()
    assert (c.budget_line, c.state) == ("Printemps", "scheduled")
    entry = LedgerEntry.unscoped.get(campaign=c, kind="commit")
    assert (entry.budget_id, entry.chosen_by) == (spring.pk, "line")
    edits = AuditEvent.unscoped.filter(action="campaign.edit", entity_id=c.entity_id)
    assert any("budget_line" in e.data["changed"] for e in edits)


def test_one_line_shows_no_choice_and_a_line_of_no_budget_is_refused(network, templates, contacts, login):
    new_budget(network, -1, 60)
    c = local_campaign(network, templates, policy="none")
    page = login(network, "store_a").get(reverse("campaigns:edit", args=[c.pk])).content.decode()
    assert 'name="budget_line"' not in page
    with activate(network.scope("store_a")), pytest.raises(ValidationError, match="no open budget"):
        services.campaign_update(campaign=c, budget_line="Noël")
