"""Lead capture: kiosk and web form, consent proof, double opt-in over real SMTP, dedupe, anti-abuse."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from glocal.audience import services as audience
from glocal.audience.models import Channel, ConsentEvent, ConsentSource, Contact, Suppression
from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.targeting import leads
from glocal.targeting.models import LeadForm, PendingOptIn

from .helpers import answer_shape, embed_url, kiosk_url, post_entry, texted_code

pytestmark = pytest.mark.usefixtures("fresh_cache")


def test_kiosk_creates_a_prospect_of_the_store_with_sms_consent_proof(client, network, store_form, gateway):
    page = client.get(kiosk_url(store_form))
    assert page.status_code == 200
    html = page.content.decode()
    # a French store's kiosk is in French, its consent wording too (the default, translated)
    wording = leads.capture_settings(network.org.pk).wording("sms", "fr")
    assert wording.startswith("J'accepte de recevoir") and escape(wording) in html
    assert '<html lang="fr">' in html and page["Content-Language"] == "fr"
    assert 'name="consent_sms"' in html and "checked" not in html  # unticked
    response = post_entry(client, kiosk_url(store_form), mobile="06 12 34 56 78", consent_sms="on")
    # the consent waits for the code texted to the number (through the SMS transport)
    assert response.status_code == 302 and response["Location"].startswith("/l/sms/")
    contact = Contact.unscoped.get(mobile="+33612345678")
    assert contact.kind == Contact.Kind.PROSPECT and contact.owner_id == network.store_a.pk
    assert contact.consent_sms == "" and not ConsentEvent.unscoped.filter(contact=contact).exists()
    code_page = client.get(response["Location"])
    assert code_page.status_code == 200 and b'name="code"' in code_page.content
    code = texted_code(gateway, "+33612345678")
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(response["Location"], {"code": wrong}).status_code == 400
    assert Contact.unscoped.get(pk=contact.pk).consent_sms == ""
    confirmed = client.post(response["Location"], {"code": code})
    assert confirmed.status_code == 302 and confirmed["Location"] == kiosk_url(store_form) + "?thanks=1&sms=1"
    contact.refresh_from_db()
    assert contact.consent_sms == "opt_in" and contact.consent_email == ""
    event = ConsentEvent.unscoped.get(contact=contact)
    assert event.wording == wording and event.source == ConsentSource.FORM
    assert event.form_version == "v1 (kiosk), SMS code confirmed" and event.ip == "127.0.0.1"
    thanks = client.get(confirmed["Location"])
    assert b'data-testid="thanks"' in thanks.content and b'value="Martin"' not in thanks.content
    assert b'data-testid="sms-confirmed"' in thanks.content


def test_email_consent_waits_for_the_double_opt_in(client, network, store_form, smtp_server):
    response = post_entry(client, kiosk_url(store_form), email="Lea@Example.test", consent_email="on")
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
    assert event.wording == leads.capture_settings(network.org.pk).wording("email", "fr")
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
    response = post_entry(
        client, kiosk_url(store_form), last_name="Intrus", mobile="+33611111111", consent_sms="on"
    )
    assert response.status_code == 302
    assert Contact.unscoped.filter(mobile="+33611111111").count() == 1
    existing.refresh_from_db()
    assert existing.owner_id == network.store_b.pk and existing.last_name == "Dupont"
    assert existing.consent_sms == ""  # nothing until the person confirms with the texted code


def test_a_form_alone_never_re_enables_an_opposed_person(client, network, store_form, smtp_server, gateway):
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
    post_entry(
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
    # the confirmations went to the person, who alone may lift the objection by confirming
    # (test_lead_objections.py); until then nothing is re-enabled
    assert [rcpt for _f, rcpt, _m in smtp_server.messages] == [["gone@example.test"]]
    assert [r["payload"]["to"] for r in gateway.requests] == ["+33622222222"]


def test_bad_input_is_refused_and_kept(client, store_form):
    response = post_entry(client, kiosk_url(store_form), email="not-an-email", consent_sms="on")
    assert response.status_code == 200
    html = response.content.decode()
    assert "pas une adresse e-mail valide" in html and 'value="Martin"' in html  # the store's French
    assert not Contact.unscoped.exists()
    response = post_entry(client, kiosk_url(store_form), email="a@example.test", consent_sms="on")
    assert "Indiquez votre numéro de mobile pour recevoir des SMS." in response.content.decode()
    assert not Contact.unscoped.exists()


def test_honeypot_and_fill_time(client, store_form):
    bot = post_entry(client, kiosk_url(store_form), mobile="0633333333", website="http://spam.example")
    assert bot.status_code == 302 and not Contact.unscoped.exists()  # answered like a success
    fast = post_entry(client, kiosk_url(store_form), mobile="0633333333", rendered=leads.render_stamp())
    assert fast.status_code == 200 and "trop vite" in fast.content.decode() and not Contact.unscoped.exists()
    forged = post_entry(client, kiosk_url(store_form), mobile="0633333333", rendered="123")
    assert forged.status_code == 400 and not Contact.unscoped.exists()


def test_rate_limits_per_ip_and_per_token(client, network, store_form):
    config = leads.capture_settings(network.org.pk)
    config.ip_limit_per_hour = 2
    config.save()
    for n in range(2):
        assert post_entry(client, embed_url(store_form), mobile=f"064444444{n}").status_code == 302
    limited = post_entry(client, embed_url(store_form), mobile="0644444449")
    assert limited.status_code == 429 and b"pour le moment" in limited.content
    assert Contact.unscoped.count() == 2
    cache.clear()
    config.ip_limit_per_hour, config.token_limit_per_hour = 100, 1
    config.save()
    assert post_entry(client, embed_url(store_form), mobile="0655555550").status_code == 302
    assert post_entry(client, embed_url(store_form), mobile="0655555551").status_code == 429


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
    assert post_entry(c, embed_url(store_form), mobile="0666666666").status_code == 302
    contact = Contact.unscoped.get(mobile="+33666666666")
    assert contact.owner_id == network.store_a.pk


def test_a_stores_links_are_made_by_a_click_never_by_showing_its_page(login, network):
    store = network.store_a
    page_url = reverse("targeting:lead_store", kwargs={"pk": store.pk})
    client = login(network, "store_a")
    # the page of a store without links offers to make them, and makes nothing
    page = client.get(page_url)
    assert page.status_code == 200 and b'data-testid="no-lead-forms"' in page.content
    assert b"Create the kiosk and web form links" in page.content and b"<svg" not in page.content
    assert leads.lead_form_of(store) is None and not LeadForm.unscoped.exists()
    assert not AuditEvent.unscoped.filter(action="leads.create").exists()
    # the button makes them (audited, on the store, by its manager), then the page shows them
    response = client.post(page_url)
    assert response.status_code == 302 and response["Location"] == page_url
    made = leads.lead_form_of(store)
    assert made is not None
    event = AuditEvent.unscoped.get(action="leads.create")
    assert (event.entity_id, event.actor_id) == (store.pk, network.users["store_a"].pk)
    page = client.get(page_url)
    assert made.kiosk_token.encode() in page.content and b"<svg" in page.content
    assert b'data-testid="no-lead-forms"' not in page.content
    # a second click (or a second manager) gets the same links
    client.post(page_url)
    assert list(LeadForm.unscoped.values_list("pk", "kiosk_token")) == [(made.pk, made.kiosk_token)]
    assert AuditEvent.unscoped.filter(action="leads.create").count() == 1
    # "make a new link" on a store that has none makes its first ones (store A2, by its region)
    regional = login(network, "regional")
    regional.post(reverse("targeting:lead_regenerate", kwargs={"pk": network.store_a2.pk}), {"kind": "kiosk"})
    assert leads.lead_form_of(network.store_a2) is not None


def test_regenerate_kills_the_old_link(login, network, store_form):
    old = store_form.kiosk_token
    client = login(network, "store_a")
    page = client.get(reverse("targeting:lead_store", kwargs={"pk": network.store_a.pk}))
    assert page.status_code == 200 and old.encode() in page.content and b"<svg" in page.content
    client.post(reverse("targeting:lead_regenerate", kwargs={"pk": network.store_a.pk}), {"kind": "kiosk"})
    store_form.refresh_from_db()
    assert store_form.kiosk_token != old
    assert client.get(reverse("targeting:kiosk", kwargs={"token": old})).status_code == 404


def test_hq_sets_the_wording_and_the_form_shows_it(login, network, store_form, gateway):
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
    response = post_entry(client, kiosk_url(store_form), mobile="0677777777", consent_sms="on")
    client.post(response["Location"], {"code": texted_code(gateway, "+33677777777")})
    event = ConsentEvent.unscoped.get(contact__mobile="+33677777777")
    assert (event.wording, event.form_version) == ("Oui aux SMS.", "v2 (kiosk), SMS code confirmed")


# -- abuse of the public form ------------------------------------------------------------------------


def _state(contact: Contact) -> tuple:
    contact.refresh_from_db()
    return (
        contact.owner_id, contact.last_name, contact.first_name, contact.consent_sms, contact.consent_email,
        contact.last_activity_at, ConsentEvent.unscoped.filter(contact=contact).count(),
    )  # fmt: skip


def test_another_stores_customer_is_neither_revealed_nor_changed(
    client,
    network,
    store_form,
    gateway,
    smtp_server,
):
    # given store B's customer, opted in by SMS and email, and a number on the opposition list
    with activate(network.scope("store_b")):
        known = audience.contact_create(
            fields={
                "first_name": "Jean",
                "last_name": "Dupont",
                "mobile": "0611111111",
                "email": "jd@example.test",
            }
        ).contact
        assert known is not None
        for channel in (Channel.SMS, Channel.EMAIL):
            audience.consent_record(
                contact=known, channel=channel, status="opt_in", source=ConsentSource.IMPORT, wording="Oui"
            )
    with activate(network.scope("hq_admin")):
        audience.suppress(
            organisation_id=network.org.pk, channel=Channel.SMS,
            hashes=[audience.hash_value("+33622222222")], reason=Suppression.Reason.OPT_OUT,
        )  # fmt: skip
    before = _state(known)
    # when someone types their details on store A's kiosk, then a new number, then the opposed one
    answers = [
        post_entry(client, kiosk_url(store_form), last_name="Intrus", mobile=number, email=email,
                   consent_sms="on", consent_email="on")
        for number, email in (("0611111111", "jd@example.test"), ("0633333333", "new@example.test"),
                              ("0622222222", "opp@example.test"))
    ]  # fmt: skip
    # then the three answers look alike (nothing tells a known, a new and an opposed person apart)
    assert len({answer_shape(answer) for answer in answers}) == 1
    pages = [client.get(answer["Location"]) for answer in answers]
    assert (
        len({(page.status_code, re.sub(rb"csrfmiddlewaretoken[^>]*", b"", page.content)) for page in pages})
        == 1
    )
    # the known customer is untouched: owner, profile, activity, consents, ledger
    assert _state(known) == before
    assert Contact.unscoped.filter(mobile="+33611111111").count() == 1
    # each number got its code (the known and the opposed person may confirm it themselves, only they)
    assert {r["payload"]["to"] for r in gateway.requests} == {"+33611111111", "+33622222222", "+33633333333"}
    wrong = f"{(int(texted_code(gateway, '+33622222222')) + 1) % 10**6:06d}"
    opposed = client.post(answers[2]["Location"], {"code": wrong})
    assert opposed.status_code == 400
    assert Contact.unscoped.get(mobile="+33622222222").consent_sms == ""
    assert audience.is_suppressed(organisation_id=network.org.pk, channel="sms", mobile="+33622222222")
    # the person holding the known number confirms: their own act, recorded on their contact
    client.post(answers[0]["Location"], {"code": texted_code(gateway, "+33611111111")})
    known.refresh_from_db()
    assert known.owner_id == network.store_b.pk and known.last_name == "Dupont"
    assert ConsentEvent.unscoped.filter(contact=known, channel="sms").count() == 2


def test_a_texted_code_dies_after_five_wrong_entries_and_after_its_time(
    client,
    network,
    store_form,
    gateway,
):
    response = post_entry(client, kiosk_url(store_form), mobile="0644444444", consent_sms="on")
    code = texted_code(gateway, "+33644444444")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(leads.SMS_CODE_ATTEMPTS):
        assert client.post(response["Location"], {"code": wrong}).status_code == 400
    assert client.post(response["Location"], {"code": code}).status_code == 400  # too late: exhausted
    assert Contact.unscoped.get(mobile="+33644444444").consent_sms == ""
    # a fresh code, but entered after its 15 minutes
    cache.clear()
    response = post_entry(client, kiosk_url(store_form), mobile="0655555555", consent_sms="on")
    code = texted_code(gateway, "+33655555555")
    PendingOptIn.unscoped.filter(mobile="+33655555555").update(
        code_sent_at=timezone.now() - dt.timedelta(seconds=leads.SMS_CODE_MAX_AGE + 1)
    )
    assert client.post(response["Location"], {"code": code}).status_code == 400
    assert Contact.unscoped.get(mobile="+33655555555").consent_sms == ""
    assert client.get(reverse("targeting:confirm_sms", kwargs={"token": "forged"})).status_code == 404


def test_a_form_stamp_is_single_use_and_expires(client, network, store_form):
    # one rendered stamp posted 130 times (the replay measured against the old form): one entry only
    stamp = leads.render_stamp(time.time() - 30)
    statuses = [
        post_entry(client, embed_url(store_form), mobile=f"06{n:08d}", rendered=stamp).status_code
        for n in range(130)
    ]
    assert statuses.count(302) == 1 and statuses.count(400) == 59  # replays refused
    assert statuses.count(429) == 70  # and the 60 per hour per address hold
    cache.clear()  # a new hour
    assert Contact.unscoped.count() == 1
    # a stamp older than GLOCAL_LEAD_STAMP_MAX_AGE is refused, and so is one never issued here
    old = leads.render_stamp(time.time() - leads.stamp_max_age() - 1)
    assert post_entry(client, embed_url(store_form), mobile="0677777770", rendered=old).status_code == 400
    from django.core import signing

    unissued = signing.dumps(["made-up-nonce", time.time() - 30], salt=leads.RENDER_SALT)
    assert (
        post_entry(client, embed_url(store_form), mobile="0677777771", rendered=unissued).status_code == 400
    )
    assert Contact.unscoped.count() == 1
    # the form a visitor gets carries a stamp that works once, after the minimum fill time
    page = client.get(embed_url(store_form)).content.decode()
    rendered = re.search(r'name="rendered" value="([^"]+)"', page)
    assert rendered is not None
    assert leads.stamp_problem(rendered.group(1), 3) == leads.StampProblem.TOO_FAST
    assert leads.stamp_problem(rendered.group(1), 3, now=time.time() + 5) is None
    assert leads.stamp_problem(rendered.group(1), 3, now=time.time() + 6) == leads.StampProblem.USED


def test_confirmation_messages_are_limited_per_address_and_per_client(
    client,
    network,
    store_form,
    gateway,
    smtp_server,
    settings,
):
    settings.GLOCAL_LEAD_SENDS_PER_ADDRESS = 2
    for _ in range(4):
        post_entry(client, kiosk_url(store_form), mobile="0688888888", consent_sms="on")
        post_entry(client, kiosk_url(store_form), email="victim@example.test", consent_email="on")
    assert len([r for r in gateway.requests if r["payload"]["to"] == "+33688888888"]) == 2
    assert len(smtp_server.messages) == 2
    cache.clear()
    settings.GLOCAL_LEAD_SENDS_PER_ADDRESS, settings.GLOCAL_LEAD_SENDS_PER_IP = 5, 3
    before = len(gateway.requests)
    for n in range(5):
        post_entry(client, kiosk_url(store_form), mobile=f"069999999{n}", consent_sms="on")
    assert len(gateway.requests) - before == 3
    from django.test import Client

    other = Client(REMOTE_ADDR="203.0.113.9")  # another client still gets its code
    post_entry(other, kiosk_url(store_form), mobile="0690000009", consent_sms="on")
    assert len(gateway.requests) - before == 4


def test_limits_live_in_a_shared_cache(settings):
    from django.core.cache import caches
    from django.db import connection

    backend = settings.CACHES["default"]["BACKEND"]
    assert backend in {
        "django.core.cache.backends.db.DatabaseCache",
        "django.core.cache.backends.redis.RedisCache",
    }
    if backend.endswith("DatabaseCache"):
        assert settings.CACHES["default"]["LOCATION"] in connection.introspection.table_names()
    # what one process writes, another cache connection (another worker) reads
    stamp = leads.render_stamp(time.time() - 30)
    other = caches.create_connection("default")
    from django.core import signing

    nonce = signing.loads(stamp, salt=leads.RENDER_SALT)[0]
    assert other.get(f"leads:stamp:{nonce}") == 1


def test_the_cache_is_redis_when_a_url_is_given_else_the_database():
    import json
    import os
    import subprocess
    import sys

    def caches_with(**env: str) -> dict:
        clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CACHE_URL"}}
        code = "import json, config.settings.base as b; print(json.dumps(b.CACHES['default']))"
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)

    assert caches_with()["BACKEND"].endswith("DatabaseCache")
    assert caches_with(REDIS_URL="redis://127.0.0.1:6379/1") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1",
    }  # fmt: skip
    assert caches_with(CACHE_URL="rediss://cache.example:6380/0")["BACKEND"].endswith("RedisCache")
