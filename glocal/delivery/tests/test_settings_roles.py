"""Who sets the delivery rules: HQ's marketing rules (``marketing.rules``: HQ admins and HQ marketers);
the sender domain, an integration, stays HQ admins' (``network.settings``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from glocal.core.scope import activate
from glocal.delivery import services
from glocal.delivery.models import DeliverySettings
from glocal.delivery.views import DeliverySettingsForm

RULES = {
    "priority": "central_first",
    "sms_start": "09:00",
    "sms_end": "19:00",
    "caps-TOTAL_FORMS": "1",
    "caps-INITIAL_FORMS": "0",
    "caps-0-limit": "3",
    "caps-0-days": "7",
    "caps-0-channel": "email",
}


@pytest.fixture
def domain(network):
    return DeliverySettings.unscoped.create(organisation=network.org, sender_domain="mail.enseigne.test")


def test_an_hq_marketer_sets_the_rules_but_not_the_sender_domain(login, network, domain):
    client = login(network, "hq_marketer")
    page = client.get(reverse("delivery:settings"))
    assert page.status_code == 200 and b'name="caps-0-limit"' in page.content
    assert b'name="sender_domain"' not in page.content
    answer = client.post(reverse("delivery:settings"), {**RULES, "sender_domain": "evil.example"})
    assert answer.status_code == 302
    domain.refresh_from_db()
    assert domain.caps == [{"limit": 3, "days": 7, "channel": "email"}]
    assert domain.sender_domain == "mail.enseigne.test"  # the forged field is not the form's


def test_the_service_refuses_a_sender_domain_change_without_network_settings(network, domain):
    with activate(network.scope("hq_marketer")):
        form = DeliverySettingsForm({**RULES, "sender_domain": "evil.example"}, instance=domain)
        assert form.is_valid()
        with pytest.raises(ValidationError, match="sender domain"):
            services.settings_save(form=form)
    assert DeliverySettings.unscoped.get().sender_domain == "mail.enseigne.test"
    with activate(network.scope("hq_admin")):
        form = DeliverySettingsForm({**RULES, "sender_domain": "news.enseigne.test"}, instance=domain)
        assert form.is_valid()
        services.settings_save(form=form)
    assert DeliverySettings.unscoped.get().sender_domain == "news.enseigne.test"


def test_an_hq_admin_sees_the_sender_domain(login, network, domain):
    page = login(network, "hq_admin").get(reverse("delivery:settings"))
    assert b'name="sender_domain"' in page.content


@pytest.mark.parametrize("persona", ["regional", "store_a", "viewer"])
def test_only_head_office_sets_the_rules(network, domain, persona):
    with activate(network.scope(persona)):
        form = DeliverySettingsForm(RULES, instance=domain)
        assert form.is_valid()
        with pytest.raises(ValidationError, match="Only head office"):
            services.settings_save(form=form)
