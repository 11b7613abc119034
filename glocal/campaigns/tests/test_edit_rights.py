"""A role that may not submit cannot pull a submitted, approved or scheduled campaign back to draft by
editing it: the edit page says so and offers nothing, the POST is refused and changes nothing, and the
service and the state machine refuse it too (the API and jobs go through them)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from glocal.campaigns import services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import Event
from glocal.core.scope import activate
from glocal.creatives.models import Personalisation

from .conftest import in_days
from .test_views import _snapshot

pytestmark = pytest.mark.django_db

EDIT = {"z_headline": "Changé par l'équipe", "z_body": "<p>Autre</p>", "name": "Réouverture"}


def submitted_campaign(network, templates, *, policy: str = "regional") -> Campaign:
    """Store A's local campaign, prepared and submitted by its manager."""
    with activate(network.scope("store_a")):
        campaign = services.campaign_create(
            entity=network.store_a, template=templates.email, name="Réouverture"
        )
        Campaign.objects.filter(pk=campaign.pk).update(approval_policy=policy)
        campaign.refresh_from_db()
        services.campaign_update(
            campaign=campaign,
            values={"headline": "Nous rouvrons", "body": "<p>Venez</p>"},
            scheduled_at=in_days(9),
        )
        services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    return Campaign.unscoped.get(pk=campaign.pk)


def snapshot() -> dict:
    return {**_snapshot(), "personalisations": list(Personalisation.unscoped.values_list("pk", "values"))}


@pytest.mark.parametrize("state", ["submitted", "approved", "scheduled"])
def test_staff_cannot_pull_a_campaign_back_to_draft_by_editing_it(network, templates, contacts, login, state):
    campaign = submitted_campaign(network, templates, policy="none" if state == "scheduled" else "regional")
    if state == "approved":
        Campaign.unscoped.filter(pk=campaign.pk).update(state="approved")
    assert Campaign.unscoped.get(pk=campaign.pk).state == state
    before = snapshot()
    staff = login(network, "staff_a")
    # the page says so and offers nothing
    page = staff.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Only a manager can change it now" in text
    assert 'id="campaign-form"' not in text and 'name="action"' not in text
    detail = staff.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert reverse("campaigns:edit", args=[campaign.pk]) not in detail
    # the POSTs are refused and change nothing
    assert staff.post(reverse("campaigns:edit", args=[campaign.pk]), EDIT).status_code == 403
    assert (
        staff.post(reverse("campaigns:edit", args=[campaign.pk]), {**EDIT, "action": "save"}).status_code
        == 403
    )
    shown = [contacts.a[0].pk]
    staff.post(reverse("campaigns:audience", args=[campaign.pk]), {"shown": shown})
    assert snapshot() == before
    # and so do the service and the state machine's caller
    with activate(network.scope("staff_a")):
        with pytest.raises(PermissionDenied):
            services.campaign_update(campaign=Campaign.objects.get(pk=campaign.pk), values={"headline": "x"})
        with pytest.raises(PermissionDenied):
            services.campaign_transition(campaign=Campaign.objects.get(pk=campaign.pk), event=Event.EDIT)
    assert snapshot() == before


def test_staff_still_prepare_drafts_and_managers_still_reopen(network, templates, contacts, login):
    staff = login(network, "staff_a")
    staff.post(reverse("campaigns:new"), {"template": templates.email.pk, "name": "Brouillon"})
    draft = Campaign.unscoped.get(name="Brouillon")
    r = staff.post(reverse("campaigns:edit", args=[draft.pk]), {**EDIT, "name": "Brouillon"})
    assert r.status_code == 302
    assert Campaign.unscoped.get(pk=draft.pk).values["headline"] == EDIT["z_headline"]
    campaign = submitted_campaign(network, templates)
    manager = login(network, "store_a")
    assert (
        manager.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode().count('name="action"')
        == 2
    )
    assert manager.post(reverse("campaigns:edit", args=[campaign.pk]), EDIT).status_code == 302
    assert Campaign.unscoped.get(pk=campaign.pk).state == "draft"
