"""The launch's content gate: a due campaign whose rendered content has an error finding (the checks of
publication and submission, run again at the send date) is not launched: it goes back to draft, its
history says why in the store's language, and the other due campaigns go out."""

from __future__ import annotations

import pytest

from glocal.campaigns.models import Campaign, CampaignTransition
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts
from glocal.core.scope import activate
from glocal.creatives import services as creative_services
from glocal.delivery import launch
from glocal.delivery.models import Message
from glocal.delivery.tests.test_engine import scheduled_campaign

pytestmark = pytest.mark.django_db


def test_a_campaign_whose_content_now_fails_a_check_is_not_launched(network, templates):
    add_contacts(network.store_a, 3)
    add_contacts(network.store_b, 2)
    blocked = scheduled_campaign(network, templates.email)  # "Nous rouvrons !"
    fine = scheduled_campaign(network, templates.email, store=network.store_b, persona="store_b")
    Campaign.unscoped.filter(pk=fine.pk).update(values={"headline": "Soldes d'hiver"})
    # HQ restricts a word the scheduled campaign uses, after its approval
    with activate(network.scope("hq_admin")):
        creative_services.settings_save(
            restricted_patterns=["gratuit", "rouvrons"],
            sms_advertiser="Maison Test",
            sms_opt_out="STOP au 36180",
            sms_price_per_segment="0.045",
            sms_segment_limit=2,
        )
    reports = {r.campaign_id: r for r in launch.launch_due()}
    assert reports[blocked.pk].blocked == ["«\u00a0rouvrons\u00a0» est un mot interdit dans ce réseau."]
    assert reports[blocked.pk].queued == 0 and reports[fine.pk].queued == 2
    blocked.refresh_from_db()
    fine.refresh_from_db()
    assert blocked.state == State.DRAFT and fine.state == State.SENDING
    assert not Message.unscoped.filter(campaign=blocked).exists()
    why = CampaignTransition.unscoped.filter(campaign=blocked).order_by("pk").last()
    assert why is not None
    assert why.from_state == State.SCHEDULED and why.to_state == State.DRAFT
    assert why.comment.startswith("Non lancée")
    assert "«\u00a0rouvrons\u00a0» est un mot interdit" in why.comment
    # the next tick does not try again: the store fixes its content and submits it anew
    assert launch.launch_due() == []


def test_an_sms_published_before_the_gate_without_the_opt_out_is_not_launched(network, templates):
    """Content published before publication was gated (the mention removed from the version itself)."""
    from glocal.creatives.models import TemplateVersion

    add_contacts(network.store_a, 2)
    campaign = scheduled_campaign(network, templates.sms)
    version = campaign.version
    TemplateVersion.unscoped.filter(pk=version.pk).update(
        source="{{ organisation.sms_advertiser }} : {{ zones.message }}"
    )
    reports = launch.launch_due()
    assert [r.campaign_id for r in reports] == [campaign.pk]
    assert any("STOP au 36180" in error for error in reports[0].blocked)
    campaign.refresh_from_db()
    assert campaign.state == State.DRAFT
