"""The campaign page and editor say plainly what stands in the way: an empty audience (said before
submission, refused at it, with why and what to change), a missing send date (at the date field), a
date that conflicts with the store's other campaigns; what the template produces (a print kit, a
direct-mail batch) and the link to it; who approved a campaign that needed no approval step."""

from __future__ import annotations

import pytest
from django.urls import reverse

from glocal.brand.tests.factories import publish_template
from glocal.campaigns import selectors, services
from glocal.campaigns.models import Campaign, Proof
from glocal.core.scope import activate

from .conftest import in_days

pytestmark = pytest.mark.django_db

POSTER = """{# print: format=a4 #}<h1>{{ zones.headline }}</h1><p>{{ store.name }}</p>"""
LETTER = """{# print: format=letter #}<h1>{{ zones.headline }}</h1><p>{{ recipient.last_name }}</p>"""
ZONES = [{"key": "headline", "type": "short_text", "max_length": 60, "default": "Portes ouvertes"}]


@pytest.fixture
def everyone_capped(monkeypatch):
    """Marketing pressure excludes every contact at the send date (the delivery engine's preview)."""

    def preview(campaign: Campaign) -> tuple[int, list[tuple[str, int]]]:
        n = selectors.audience.recipients(
            campaign.entity.path, campaign.audience_criteria, campaign.channel, []
        ).count()
        return n, [("At most 3 emails in 7 days", n)]

    monkeypatch.setattr(selectors, "PRESSURE_PREVIEW", [preview])


def _draft(network, templates, **criteria) -> Campaign:
    with activate(network.scope("store_a")):
        campaign = services.campaign_create(entity=network.store_a, template=templates.email, name="Soldes")
        services.campaign_update(
            campaign=campaign, values={"headline": "Soldes"}, criteria=criteria, scheduled_at=in_days(9)
        )
    return Campaign.unscoped.get(pk=campaign.pk)


def test_an_empty_audience_is_said_before_submission_and_refused(
    network, templates, contacts, login, everyone_capped
):
    campaign = _draft(network, templates, kind="customer")
    client = login(network, "store_a")
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Nobody would receive this campaign: its final audience is 0." in page
    assert "The marketing-pressure cap excluded 5 contacts: choose another send date" in page
    sim = client.post(reverse("campaigns:simulate", args=[campaign.pk]), {"name": "Soldes"}).content.decode()
    assert 'data-testid="empty-audience"' in sim and "excluded 5 contacts" in sim

    r = client.post(reverse("campaigns:submit", args=[campaign.pk]), follow=True)
    campaign.refresh_from_db()
    assert campaign.state == "draft" and not Proof.unscoped.filter(campaign=campaign).exists()
    text = r.content.decode()
    assert "Nobody would receive this campaign" in text and "The marketing-pressure cap excluded" in text

    # the editor says it in the audience section
    r = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {
            "z_headline": "Soldes",
            "name": "Soldes",
            "send_date": in_days(9).strftime("%Y-%m-%d"),
            "send_time": "10:00",
            "kind": "customer",
            "action": "submit",
        },
    )
    assert r.status_code == 200
    page = r.content.decode()
    audience = page.index("2. Audience")
    assert page.index('data-testid="audience-errors"') > audience
    assert page.index("Nobody would receive this campaign") > audience
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_criteria_matching_nobody_say_to_widen_them(network, templates, contacts):
    campaign = _draft(network, templates, tags="nobody-has-it")
    with activate(network.scope("store_a")):
        with pytest.raises(Exception) as refused:
            services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
        assert refused.value.message_dict["audience"] == [  # type: ignore[attr-defined]
            "Nobody would receive this campaign: its final audience is 0.",
            "None of your contacts matches the audience criteria: widen them (customers or prospects, tags, "
            "postcodes).",
        ]
        # widened: submitted
        services.campaign_update(campaign=Campaign.objects.get(pk=campaign.pk), criteria={"kind": "customer"})
        services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    assert Campaign.unscoped.get(pk=campaign.pk).state in ("submitted", "scheduled")


def test_a_missing_send_date_is_said_at_the_date_field(network, templates, contacts, login):
    with activate(network.scope("store_a")):
        campaign = services.campaign_create(
            entity=network.store_a, template=templates.email, name="Sans date"
        )
    r = login(network, "store_a").post(
        reverse("campaigns:edit", args=[campaign.pk]),
        {"z_headline": "Bonjour", "name": "Sans date", "kind": "customer", "action": "submit"},
    )
    assert r.status_code == 200
    page = r.content.decode()
    error = page.index("Choose a send date and time first.")
    assert page.index("3. Date and time") < error  # at the date field, not above the content
    assert page.index('id="id_send_date"') < error < page.index('id="id_send_time"')


def test_a_date_conflicting_with_the_stores_other_campaign_is_warned_in_the_editor(
    network, templates, contacts, login
):
    first = _draft(network, templates, kind="customer")
    with activate(network.scope("store_a")):
        other = services.campaign_create(entity=network.store_a, template=templates.email, name="Rappel")
        sms = services.campaign_create(entity=network.store_a, template=templates.sms, name="Texto")
    client = login(network, "store_a")
    when = first.scheduled_at
    assert when is not None
    data = {
        "name": "Rappel",
        "send_date": when.strftime("%Y-%m-%d"),
        "send_time": "15:00",
        "z_headline": "Hi",
    }
    sim = client.post(reverse("campaigns:simulate", args=[other.pk]), data).content.decode()
    # swapped in beside the date field (out of band), not saved
    assert 'id="date-conflicts" aria-live="polite" hx-swap-oob="true"' in sim
    assert "The same day as “Soldes”, another campaign of this store." in sim
    assert Campaign.unscoped.get(pk=other.pk).scheduled_at is None
    # an SMS the same day is on another channel: no conflict
    data = {"name": "Texto", "send_date": when.strftime("%Y-%m-%d"), "send_time": "15:00", "z_message": "Hi"}
    sms_sim = client.post(reverse("campaigns:simulate", args=[sms.pk]), data).content.decode()
    assert "The same day as" not in sms_sim
    # a saved date: said on the editor's date field when the page opens
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=Campaign.objects.get(pk=other.pk), scheduled_at=when)
    page = client.get(reverse("campaigns:edit", args=[other.pk])).content.decode()
    date_section = page.index("3. Date and time")
    assert page.index('data-testid="date-conflict"') > date_section
    assert "The same day as “Soldes”" in page


def test_the_wizard_says_what_each_template_produces_and_the_page_leads_to_it(network, templates, login):
    poster = publish_template(network, network.hq, "print", POSTER, ZONES)
    letter = publish_template(network, network.hq, "print", LETTER, ZONES)
    client = login(network, "store_a")
    wizard = client.get(reverse("campaigns:new")).content.decode()
    assert "A print kit: posters or flyers to download and print in store" in wizard
    assert "A direct-mail batch: one letter per contact" in wizard
    assert "An email sent to your contacts" in wizard

    client.post(reverse("campaigns:new"), {"template": poster.pk, "name": "Affiche"})
    campaign = Campaign.unscoped.get(name="Affiche")
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "direct-mail" not in page  # a poster is no letter: no direct-mail page
    assert "ready to download once the campaign is approved" in page
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_at=in_days(5))
        services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))  # nobody addressed: allowed
    campaign.refresh_from_db()
    assert campaign.state == "scheduled" and campaign.estimated_cost == 0  # no letter: nothing per contact
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    kit = f"{reverse('print:print_kit_zip', args=[network.store_a.pk])}?campaign={campaign.pk}"
    assert f'href="{kit}"' in page
    download = client.get(kit)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"

    client.post(reverse("campaigns:new"), {"template": letter.pk, "name": "Courrier"})
    letter_campaign = Campaign.unscoped.get(name="Courrier")
    page = client.get(reverse("campaigns:detail", args=[letter_campaign.pk])).content.decode()
    assert reverse("print:direct_mail", args=[letter_campaign.pk]) in page
    edit = client.get(reverse("campaigns:edit", args=[letter_campaign.pk])).content.decode()
    assert "This template produces a direct-mail batch" in edit


def test_a_campaign_approved_without_a_step_says_by_whom_and_when(network, templates, contacts, login):
    templates.email.approval_policy = "none"
    templates.email.save(update_fields=["approval_policy"])
    campaign = _draft(network, templates, kind="customer")
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    page = login(network, "store_a").get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Not submitted yet." not in page
    user = network.users["store_a"]
    assert f"Approved at submission by {user.full_name} (Local manager)" in page
    assert "the approval policy “No approval” lets the author's role approve its own campaign" in page
    # a draft: not submitted yet
    other = _draft(network, templates, kind="customer")
    page = login(network, "store_a").get(reverse("campaigns:detail", args=[other.pk])).content.decode()
    assert "Not submitted yet." in page
