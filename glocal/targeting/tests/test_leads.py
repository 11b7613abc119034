"""Lead capture: kiosk and web form, consent proof, double opt-in over real SMTP, dedupe, anti-abuse."""

from __future__ import annotations

import re
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from glocal.audience import services as audience
from glocal.audience.models import Channel, ConsentEvent, ConsentSource, Contact, Suppression
from glocal.core.scope import activate
from glocal.targeting import leads
from glocal.targeting.models import LeadForm, PendingOptIn


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def store_form(network) -> LeadForm:
    return leads.lead_form_for(network.store_a)


def _post(client, url: str, **data):
    payload = {
        "first_name": "Léa",
        "last_name": "Martin",
        "email": "",
        "mobile": "",
        "postcode": "59000",
        "website": "",
        "rendered": leads.render_stamp(time.time() - 30),
        **data,
    }
    return client.post(url, payload)


def kiosk_url(form: LeadForm) -> str:
    return reverse("targeting:kiosk", kwargs={"token": form.kiosk_token})


def embed_url(form: LeadForm) -> str:
    return reverse("targeting:embed", kwargs={"token": form.embed_token})


def test_kiosk_creates_a_prospect_of_the_store_with_sms_consent_proof(client, network, store_form):
    page = client.get(kiosk_url(store_form))
    assert page.status_code == 200
    html = page.content.decode()
    wording = leads.capture_settings(network.org.pk).sms_wording
    assert wording in html
    assert 'name="consent_sms"' in html and "checked" not in html  # unticked
    response = _post(client, kiosk_url(store_form), mobile="06 12 34 56 78", consent_sms="on")
    assert response.status_code == 302 and response["Location"].endswith("?thanks=1")
    contact = Contact.unscoped.get(mobile="+33612345678")
    assert contact.kind == Contact.Kind.PROSPECT and contact.owner_id == network.store_a.pk
    assert contact.consent_sms == "opt_in" and contact.consent_email == ""
    event = ConsentEvent.unscoped.get(contact=contact)
    assert event.wording == wording and event.source == ConsentSource.FORM
    assert event.form_version == "v1 (kiosk)" and event.ip == "127.0.0.1"
    thanks = client.get(response["Location"])
    assert b'data-testid="thanks"' in thanks.content and b'value="Martin"' not in thanks.content


def test_email_consent_waits_for_the_double_opt_in(client, network, store_form, smtp_server):
    response = _post(client, kiosk_url(store_form), email="Lea@Example.test", consent_email="on")
    assert response.status_code == 302
    contact = Contact.unscoped.get(email="lea@example.test")
    assert contact.consent_email == "" and not ConsentEvent.unscoped.filter(contact=contact).exists()
    assert len(smtp_server.messages) == 1
    _from, rcpt, message = smtp_server.messages[0]
    assert rcpt == ["lea@example.test"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://[^/\s]+(/l/confirm/[^\s]+/)", body)
    assert found is not None
    link = found.group(1)
    # GET (a mail scanner prefetching the link) confirms nothing
    assert client.get(link).status_code == 200
    assert Contact.unscoped.get(pk=contact.pk).consent_email == ""
    assert client.post(link).status_code == 200
    contact.refresh_from_db()
    assert contact.consent_email == "opt_in"
    event = ConsentEvent.unscoped.get(contact=contact, channel=Channel.EMAIL)
    assert event.wording == leads.capture_settings(network.org.pk).email_wording
    assert "double opt-in" in event.form_version and event.source == ConsentSource.FORM
    assert client.post(link).status_code == 200  # idempotent
    assert ConsentEvent.unscoped.filter(contact=contact).count() == 1


def test_forged_confirmation_link_and_bad_tokens_are_404(client, store_form):
    assert client.get(reverse("targeting:confirm", kwargs={"token": "forged"})).status_code == 404
    assert client.get(reverse("targeting:kiosk", kwargs={"token": "nope"})).status_code == 404
    assert client.get(reverse("targeting:kiosk", kwargs={"token": store_form.embed_token})).status_code == 404


def test_existing_contact_is_not_duplicated_nor_moved(client, network, store_form):
    with activate(network.scope("store_b")):
        existing = audience.contact_create(fields={"last_name": "Dupont", "mobile": "0611111111"}).contact
    assert existing is not None
    response = _post(
        client, kiosk_url(store_form), last_name="Intrus", mobile="+33611111111", consent_sms="on"
    )
    assert response.status_code == 302
    assert Contact.unscoped.filter(mobile="+33611111111").count() == 1
    existing.refresh_from_db()
    assert existing.owner_id == network.store_b.pk and existing.last_name == "Dupont"
    assert existing.consent_sms == "opt_in"  # the person's own consent is recorded


def test_suppressed_person_is_not_re_enabled(client, network, store_form, smtp_server):
    with activate(network.scope("hq_admin")):
        audience.suppress(
            organisation_id=network.org.pk,
            channel=Channel.SMS,
            hashes=[audience.hash_value("+33622222222")],
            reason=Suppression.Reason.OPT_OUT,
        )
        audience.suppress(
            organisation_id=network.org.pk,
            channel=Channel.EMAIL,
            hashes=[audience.hash_value("gone@example.test")],
            reason=Suppression.Reason.ERASURE,
        )
    _post(
        client,
        kiosk_url(store_form),
        mobile="0622222222",
        email="gone@example.test",
        consent_sms="on",
        consent_email="on",
    )
    contact = Contact.unscoped.get(mobile="+33622222222")
    assert contact.consent_sms == "" and contact.consent_email == ""
    assert Suppression.unscoped.filter(organisation=network.org).count() == 2
    assert not PendingOptIn.unscoped.exists() and smtp_server.messages == []


def test_bad_input_is_refused_and_kept(client, store_form):
    response = _post(client, kiosk_url(store_form), email="not-an-email", consent_sms="on")
    assert response.status_code == 200
    html = response.content.decode()
    assert "not a valid email address" in html and 'value="Martin"' in html
    assert not Contact.unscoped.exists()
    response = _post(client, kiosk_url(store_form), email="a@example.test", consent_sms="on")
    assert "Give your mobile number to receive text messages." in response.content.decode()
    assert not Contact.unscoped.exists()


def test_honeypot_and_fill_time(client, store_form):
    bot = _post(client, kiosk_url(store_form), mobile="0633333333", website="http://spam.example")
    assert bot.status_code == 302 and not Contact.unscoped.exists()  # answered like a success
    fast = _post(client, kiosk_url(store_form), mobile="0633333333", rendered=leads.render_stamp())
    assert fast.status_code == 200 and b"too quickly" in fast.content and not Contact.unscoped.exists()
    forged = _post(client, kiosk_url(store_form), mobile="0633333333", rendered="123")
    assert forged.status_code == 200 and not Contact.unscoped.exists()


def test_rate_limits_per_ip_and_per_token(client, network, store_form):
    config = leads.capture_settings(network.org.pk)
    config.ip_limit_per_hour = 2
    config.save()
    for n in range(2):
        assert _post(client, embed_url(store_form), mobile=f"064444444{n}").status_code == 302
    limited = _post(client, embed_url(store_form), mobile="0644444449")
    assert limited.status_code == 429 and b"Too many entries" in limited.content
    assert Contact.unscoped.count() == 2
    cache.clear()
    config.ip_limit_per_hour, config.token_limit_per_hour = 100, 1
    config.save()
    assert _post(client, embed_url(store_form), mobile="0655555550").status_code == 302
    assert _post(client, embed_url(store_form), mobile="0655555551").status_code == 429


def test_embed_is_frameable_only_by_allowed_sites(client, network, store_form):
    kiosk = client.get(kiosk_url(store_form))
    assert kiosk["X-Frame-Options"] == "DENY"
    config = leads.capture_settings(network.org.pk)
    config.frame_ancestors = "https://www.magasin-a.example"
    config.save()
    embed = client.get(embed_url(store_form))
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    # The page's own frame-ancestors, inside the application's policy (glocal.core.middleware).
    assert "frame-ancestors 'self' https://www.magasin-a.example" in embed["Content-Security-Policy"].split(
        "; "
    )


def test_embed_accepts_posts_without_csrf_cookie(network, store_form):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    assert _post(c, embed_url(store_form), mobile="0666666666").status_code == 302
    contact = Contact.unscoped.get(mobile="+33666666666")
    assert contact.owner_id == network.store_a.pk


def test_regenerate_kills_the_old_link(login, network, store_form):
    old = store_form.kiosk_token
    client = login(network, "store_a")
    page = client.get(reverse("targeting:lead_store", kwargs={"pk": network.store_a.pk}))
    assert page.status_code == 200 and old.encode() in page.content and b"<svg" in page.content
    client.post(reverse("targeting:lead_regenerate", kwargs={"pk": network.store_a.pk}), {"kind": "kiosk"})
    store_form.refresh_from_db()
    assert store_form.kiosk_token != old
    assert client.get(reverse("targeting:kiosk", kwargs={"token": old})).status_code == 404


def test_hq_sets_the_wording_and_the_form_shows_it(login, network, store_form):
    client = login(network, "hq_admin")
    response = client.post(
        reverse("targeting:lead_settings"),
        {
            "form_version": "v2",
            "email_wording": "Oui aux emails.",
            "sms_wording": "Oui aux SMS.",
            "frame_ancestors": "https://ok.example javascript:alert(1)",
            "min_fill_seconds": 3,
            "ip_limit_per_hour": 60,
            "token_limit_per_hour": 300,
        },
    )
    assert response.status_code == 200 and b"Not a site origin" in response.content
    response = client.post(
        reverse("targeting:lead_settings"),
        {
            "form_version": "v2",
            "email_wording": "Oui aux emails.",
            "sms_wording": "Oui aux SMS.",
            "frame_ancestors": "https://ok.example",
            "min_fill_seconds": 3,
            "ip_limit_per_hour": 60,
            "token_limit_per_hour": 300,
        },
    )
    assert response.status_code == 302
    client.logout()
    assert "Oui aux SMS." in client.get(kiosk_url(store_form)).content.decode()
    _post(client, kiosk_url(store_form), mobile="0677777777", consent_sms="on")
    event = ConsentEvent.unscoped.get(contact__mobile="+33677777777")
    assert (event.wording, event.form_version) == ("Oui aux SMS.", "v2 (kiosk)")
