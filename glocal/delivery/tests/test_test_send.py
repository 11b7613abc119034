"""HQ's test send from the template editor: the saved version, rendered for a store with the sample
recipient, reaches each seed address through a real SMTP server with its "[TEST]" subject; bad or too
many addresses are refused before anything is sent; the seed list is remembered; each send is audited
and counted against the hourly limit."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse
from django.utils import translation

from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.creatives import services as creative_services
from glocal.creatives.tests.conftest import publish_demo
from glocal.delivery import test_send
from glocal.delivery.models import SeedList
from glocal.demo import creatives as demo

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def smtp(settings, smtp_server):
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    return smtp_server


@pytest.fixture
def email_template(network):
    """The demo email, published, then a draft whose headline is "Brouillon du jour"."""
    template = publish_demo(network).email
    zones = copy.deepcopy(demo.DEMO_EMAIL_ZONES)
    zones[0]["default"] = "Brouillon du jour"
    with activate(network.scope("hq_admin")):
        creative_services.version_save(
            template=template,
            source=demo.DEMO_EMAIL_MJML,
            zones_data=zones,
            subject="{{ zones.headline }} — {{ store.name }}",
            text=demo.DEMO_EMAIL_TEXT,
        )
    return template


def post(client, template, store, addresses="qa@example.test"):
    data = {"addresses": addresses, "store": store.pk}
    return client.post(reverse("delivery:template_test_send", args=[template.pk]), data, **HTMX)


def test_each_seed_address_receives_the_draft_rendered_for_the_store(network, login, smtp, email_template):
    client = login(network, "hq_marketer")
    response = post(
        client, email_template, network.store_a, "qa@example.test\nboss@example.test, qa@example.test"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "sent to 2 addresses: qa@example.test, boss@example.test" in page
    received = {to[0]: message for _from, to, message in smtp.messages}
    assert sorted(received) == ["boss@example.test", "qa@example.test"]
    for address, message in received.items():
        assert message["To"].addresses[0].addr_spec == address
        assert message["Subject"] == f"[TEST] Brouillon du jour — {network.store_a.name}"
        html = message.get_body(("html",)).get_content()
        assert "Brouillon du jour" in html and network.store_a.name in html
        assert "Camille" in message.get_body(("plain",)).get_content() or "Camille" in html  # the sample
        assert "example.invalid/unsubscribe/preview" in html  # a test unsubscribes no one
    # remembered for the organisation, offered again in the editor; audited
    with activate(network.scope("hq_admin")):
        assert SeedList.objects.get().addresses == ["qa@example.test", "boss@example.test"]
        event = AuditEvent.objects.get(action="template.test_send")
    assert event.data["addresses"] == ["qa@example.test", "boss@example.test"]
    assert event.data["store"] == network.store_a.pk
    editor = client.get(reverse("creatives:edit", args=[email_template.pk])).content.decode()
    assert "qa@example.test\nboss@example.test</textarea>" in editor


def test_the_prefix_is_in_the_testers_language(network, login, smtp, email_template):
    client = login(network, "hq_marketer")
    client.cookies["django_language"] = "fr"
    response = post(client, email_template, network.store_a, "qa@example.test")
    assert "Essai de la version" in response.content.decode()
    assert smtp.messages[0][2]["Subject"].startswith("[ESSAI] Brouillon du jour")


def test_invalid_addresses_are_refused_by_name_and_nothing_is_sent(network, login, smtp, email_template):
    client = login(network, "hq_marketer")
    response = post(client, email_template, network.store_a, "qa@example.test, not-an-address, x@@y")
    page = response.content.decode()
    assert "These are not valid email addresses: not-an-address, x@@y." in page
    assert "not-an-address, x@@y</textarea>" in page  # what was typed is kept
    assert smtp.messages == []
    with activate(network.scope("hq_admin")):
        assert not SeedList.objects.exists()
        assert not AuditEvent.objects.filter(action="template.test_send").exists()


def test_eleven_addresses_are_refused(network, login, smtp, email_template):
    client = login(network, "hq_marketer")
    addresses = ",".join(f"seed{i}@example.test" for i in range(11))
    response = post(client, email_template, network.store_a, addresses)
    assert "A test goes to at most 10 addresses (11 given)." in response.content.decode()
    assert smtp.messages == []


def test_a_failing_draft_is_sent_and_the_failing_checks_are_named(network, login, smtp, email_template):
    with activate(network.scope("hq_admin")):  # no unsubscribe link any more
        creative_services.version_save(
            template=email_template,
            source="<mjml><mj-body><mj-section><mj-column><mj-text>{{ zones.headline }}</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>",
            zones_data=[{"key": "headline", "type": "short_text", "default": "Sans lien"}],
            subject="Sans lien",
        )
    client = login(network, "hq_marketer")
    page = post(client, email_template, network.store_a, "qa@example.test").content.decode()
    assert "sent to 1 address" in page and "These checks fail:" in page and "unsubscribe" in page.lower()
    assert len(smtp.messages) == 1


def test_at_most_twenty_test_sends_per_user_per_hour(network, login, smtp, email_template, monkeypatch):
    monkeypatch.setattr(test_send, "RATE_LIMIT", 2)
    client = login(network, "hq_marketer")
    pages = [
        post(client, email_template, network.store_a, "qa@example.test").content.decode() for _ in range(3)
    ]
    assert "sent to 1 address" in pages[0] and "sent to 1 address" in pages[1]
    assert "You have sent 2 tests in the last hour" in pages[2]
    assert len(smtp.messages) == 2
    # another user has their own count
    other = login(network, "hq_admin")
    assert "sent to 1 address" in post(other, email_template, network.store_a).content.decode()


def test_without_htmx_the_editor_shows_the_outcome(network, login, smtp, email_template):
    client = login(network, "hq_marketer")
    url = reverse("delivery:template_test_send", args=[email_template.pk])
    response = client.post(url, {"addresses": "qa@example.test", "store": network.store_a.pk}, follow=True)
    assert "sent to 1 address: qa@example.test" in response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("creatives:edit", args=[email_template.pk]))


def test_a_store_manager_is_refused_and_another_organisations_template_is_not_found(
    network, login, smtp, email_template
):
    store = login(network, "store_a")
    assert post(store, email_template, network.store_a).status_code == 403
    foreign = publish_demo_for_other_org(network)
    hq = login(network, "hq_marketer")
    assert post(hq, foreign, network.store_a).status_code == 404
    assert (
        post(hq, email_template, network.other_store)
        .content.decode()
        .count("Choose a store to render the test as.")
        == 1
    )  # a store of another organisation is not one to render as
    assert smtp.messages == []


def publish_demo_for_other_org(network):
    from glocal.brand.tests.factories import publish_template

    return publish_template(network, network.other_hq, "email", demo.DEMO_EMAIL_MJML, demo.DEMO_EMAIL_ZONES)


def test_parse_addresses_accepts_lines_commas_and_semicolons():
    with translation.override("en"):
        assert test_send.parse_addresses(" a@example.test;b@example.test\n\nC@Example.test ") == [
            "a@example.test",
            "b@example.test",
            "C@example.test",
        ]
