"""The submission's content gate: a store cannot submit content with an error finding (the checks of
publication, on the store's own values), listed in the user's language; HQ's template published before
publication was gated does not slip through; the empty-audience refusal still holds."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from glocal.campaigns import services
from glocal.campaigns.models import Campaign, Proof
from glocal.campaigns.states import State
from glocal.core.scope import activate
from glocal.creatives.models import ChannelTemplate, TemplateVersion

from .conftest import in_days

pytestmark = pytest.mark.django_db


def _campaign(network, template, values):
    with activate(network.scope("store_a")):
        campaign = services.campaign_create(entity=network.store_a, template=template, name="Essai")
        services.campaign_update(campaign=campaign, values=values, scheduled_at=in_days(10))
        return Campaign.objects.get(pk=campaign.pk)


def test_a_store_value_with_a_restricted_word_cannot_be_submitted(network, templates, contacts):
    campaign = _campaign(network, templates.email, {"headline": "Livraison gratuite"})
    with activate(network.scope("store_a")), translation.override("fr"), pytest.raises(ValidationError) as no:
        services.campaign_submit(campaign=campaign)
    assert "«\u00a0gratuit\u00a0» est un mot interdit dans ce réseau." in no.value.messages
    campaign.refresh_from_db()
    assert campaign.state == State.DRAFT and not Proof.unscoped.filter(campaign=campaign).exists()


def test_an_sms_template_published_without_the_opt_out_cannot_be_submitted(network, templates, contacts):
    legacy = ChannelTemplate.unscoped.create(
        organisation=network.org, entity=network.hq, channel="sms", name="Ancien SMS", status="published"
    )
    TemplateVersion.unscoped.create(
        organisation=network.org,
        template=legacy,
        number=1,
        source="{{ organisation.sms_advertiser }} : {{ zones.message }}",
        zones=[{"key": "message", "type": "short_text", "max_length": 90}],
        published_at=timezone.now(),
    )
    campaign = _campaign(network, legacy, {"message": "Soldes"})
    with activate(network.scope("store_a")), pytest.raises(ValidationError) as no:
        services.campaign_submit(campaign=campaign)
    assert any("STOP au 36180" in m for m in no.value.messages)
    campaign.refresh_from_db()
    assert campaign.state == State.DRAFT


def test_good_content_with_nobody_to_receive_it_is_still_refused(network, templates):
    campaign = _campaign(network, templates.email, {"headline": "Nous rouvrons"})
    with activate(network.scope("store_a")), pytest.raises(ValidationError) as no:
        services.campaign_submit(campaign=campaign)
    assert no.value.error_dict["audience"][0].code == "empty_audience"


def test_good_content_is_submitted(network, templates, contacts):
    campaign = _campaign(network, templates.email, {"headline": "Nous rouvrons"})
    with activate(network.scope("store_a")):
        services.campaign_submit(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.state != State.DRAFT
