"""The approval queue at scale: each proof's lazy thumbnail and key figures (store, operation, channel,
recipients, cost, send date), filters by operation and store, a fixed number of queries however long
the queue; approving several goes through a confirmation page that says how many; one decision from
the queue comes back to the queue; proofs are served sandboxed to our own frames only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from glocal.campaigns import services
from glocal.campaigns.models import ApprovalStep, Campaign
from glocal.core.scope import activate

from .conftest import add_contacts, in_days

pytestmark = pytest.mark.django_db


def submit_pending(
    network,
    template,
    n: int,
    *,
    store_attr: str = "store_a",
    persona: str = "store_a",
    prefix: str = "Campagne",
):
    """``n`` campaigns of a store, submitted under the "regional" policy (each to a contact of its own,
    so that the marketing-pressure cap leaves none of them empty): their first step waits for the
    region. Returns the campaigns, oldest send date first."""
    store = getattr(network, store_attr)
    with activate(network.scope("hq_admin")):
        services.template_policy_set(template=template, policy="regional")
    made = []
    for i in range(n):
        tag = f"{prefix.lower()}{i}"
        add_contacts(store, 1, prefix=tag, tags=f"|{tag}|", kind="customer")
        with activate(network.scope(persona)):
            campaign = services.campaign_create(entity=store, template=template, name=f"{prefix} {i:03d}")
            values = (
                {"message": "Soldes ce week-end"} if template.channel == "sms" else {"headline": "Soldes"}
            )
            services.campaign_update(
                campaign=campaign,
                values=values,
                criteria={"tags": [tag]},
                scheduled_at=in_days(9, hour=8 + i % 10),
            )
            services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
        made.append(Campaign.unscoped.get(pk=campaign.pk))
    assert all(c.state == "submitted" for c in made)
    return made


def _steps(campaigns) -> list[ApprovalStep]:
    return list(ApprovalStep.unscoped.filter(campaign__in=campaigns, status="pending").order_by("pk"))


def test_the_queue_shows_thumbnails_and_key_figures_in_a_fixed_number_of_queries(network, templates, login):
    regional = login(network, "regional")
    submit_pending(network, templates.email, 2)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert regional.get(reverse("campaigns:approvals")).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    submit_pending(network, templates.sms, 10, prefix="Rappel")
    assert queries() == few  # 12 proofs: the same queries as 2
    page = regional.get(reverse("campaigns:approvals")).content.decode()
    assert page.count('data-testid="queue-item"') == 12
    assert "12 proofs wait for your decision." in page
    assert page.count('loading="lazy"') == 12  # every thumbnail loads when it comes into view
    campaign = Campaign.unscoped.get(name="Rappel 003")
    proof = campaign.proofs.model.unscoped.get(campaign=campaign)
    assert f'src="{reverse("campaigns:proof", args=[proof.pk])}"' in page
    assert network.store_a.name in page and ">1</dd>" in page  # the store, one recipient each
    assert "Local campaign" in page and "SMS" in page
    assert f"{campaign.estimated_cost}" in page.replace(",", ".")  # its cost
    # the proof comes before the decision buttons (a phone reads the page in this order)
    item = page[page.index('id="q-') :]
    assert (
        item.index('class="qproof"') < item.index('name="decision" value="approve"') < item.index("Approve<")
    )
    # keyboard shortcuts are documented on the page
    for key in ("<kbd>j</kbd>", "<kbd>k</kbd>", "<kbd>a</kbd>", "<kbd>r</kbd>", "<kbd>x</kbd>"):
        assert key in page


def test_filters_by_store_and_operation(network, templates, login):
    submit_pending(network, templates.email, 2)
    submit_pending(network, templates.email, 1, store_attr="store_a2", persona="hq_marketer", prefix="Voisin")
    regional = login(network, "regional")
    page = regional.get(reverse("campaigns:approvals")).content.decode()
    assert f'<option value="{network.store_a2.pk}" >{network.store_a2.name} (1)</option>' in page
    only = regional.get(reverse("campaigns:approvals"), {"store": network.store_a2.pk}).content.decode()
    assert only.count('data-testid="queue-item"') == 1 and "Voisin 000" in only
    none = regional.get(reverse("campaigns:approvals"), {"operation": 999999}).content.decode()
    assert 'data-testid="queue-item"' not in none and "Nothing waits for you." in none


def test_approving_all_goes_through_a_confirmation_saying_how_many(network, templates, login):
    campaigns = submit_pending(network, templates.email, 3)
    other = submit_pending(
        network, templates.email, 1, store_attr="store_a2", persona="hq_marketer", prefix="Voisin"
    )
    regional = login(network, "regional")
    url = reverse("campaigns:approvals_confirm")
    confirm = regional.get(url, {"all": "1", "store": network.store_a.pk})
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Approve 3 campaigns?" in page and "Approves 3 campaigns" in page
    assert not ApprovalStep.unscoped.filter(status="approved").exists()  # a GET writes nothing
    ids = [s.pk for s in _steps(campaigns)]
    for pk in ids:
        assert f'name="step" value="{pk}"' in page
    # the chosen ones only
    chosen = regional.get(url, {"step": ids[:2]}).content.decode()
    assert "Approve 2 campaigns?" in chosen
    # the confirmation's form POSTs exactly these ids to the queue
    r = regional.post(
        reverse("campaigns:approvals"), {"step": ids, "back": f"{reverse('campaigns:approvals')}?store=1"}
    )
    assert r.status_code == 302 and r["Location"] == f"{reverse('campaigns:approvals')}?store=1"
    assert {c.state for c in Campaign.unscoped.filter(pk__in=[c.pk for c in campaigns])} == {"scheduled"}
    assert Campaign.unscoped.get(pk=other[0].pk).state == "submitted"
    # nothing left: the page says so, with no button
    empty = regional.get(url, {"step": ids}).content.decode()
    assert "no longer wait for you" in empty and 'data-testid="confirm-approve"' not in empty
    # a store manager may not approve
    assert login(network, "store_a").get(url, {"all": "1"}).status_code == 403


def test_a_decision_from_the_queue_comes_back_to_the_queue(network, templates, login):
    first, second = submit_pending(network, templates.email, 2)
    step, _other = _steps([first, second])
    regional = login(network, "regional")
    queue = f"{reverse('campaigns:approvals')}?channel=email#q-{_other.pk}"
    r = regional.post(reverse("campaigns:decide", args=[step.pk]), {"decision": "approve", "next": queue})
    assert r.status_code == 302 and r["Location"] == queue
    assert Campaign.unscoped.get(pk=first.pk).state == "scheduled"
    r = regional.post(
        reverse("campaigns:decide", args=[_other.pk]),
        {"decision": "changes", "comment": "Le prix manque", "next": "https://evil.example/"},
    )
    assert r["Location"] == reverse("campaigns:approvals")  # never elsewhere
    assert Campaign.unscoped.get(pk=second.pk).state == "changes_requested"


def test_a_proof_is_served_sandboxed_to_our_frames_only(network, templates, login):
    (campaign,) = submit_pending(network, templates.email, 1)
    proof = campaign.proofs.model.unscoped.get(campaign=campaign)
    url = reverse("campaigns:proof", args=[proof.pk])
    r = login(network, "regional").get(url)
    assert r.status_code == 200 and b"Soldes" in r.content
    assert r["X-Frame-Options"] == "SAMEORIGIN"
    policy = r["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy
    assert login(network, "store_a").get(url).status_code == 200  # the campaign's own store
    assert login(network, "store_b").get(url).status_code == 404  # another store: not found
    assert login(network, "regional").post(url).status_code == 405
