"""The public lead forms and their confirmations are in the store's language (else the organisation's),
never the visitor's browser's or the server's; the consent wording is per organisation and language, and
the ledger keeps the exact text shown."""

from __future__ import annotations

import html
import importlib
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import translation

from glocal.audience.models import ConsentEvent, Contact
from glocal.core.scope import activate
from glocal.targeting import leads
from glocal.targeting.models import LeadCaptureSettings, PendingOptIn

from .helpers import kiosk_url, post_entry, texted_code

pytestmark = pytest.mark.usefixtures("fresh_cache")

FRENCH_EMAIL = (
    "J'accepte de recevoir les actualités et offres de ce magasin par e-mail. "
    "Je peux me désabonner à tout moment grâce au lien présent dans chaque e-mail."
)
ENGLISH_EMAIL = (
    "I agree to receive news and offers from this store by email. "
    "I can unsubscribe at any time with the link in each email."
)


def shown_wording(page: str, name: str) -> str:
    """The consent box's label as the visitor reads it."""
    found = re.search(rf'data-testid="wording-{name}">(.*?)</label>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def test_a_french_stores_kiosk_is_french_and_the_proof_holds_the_text_shown(
    client, network, store_form, smtp_server, gateway
):
    # given a server whose active language is English and a visitor whose browser asks for English
    translation.activate("en")
    page = client.get(kiosk_url(store_form), HTTP_ACCEPT_LANGUAGE="en")
    # then the French store's kiosk is in French, its consent wording too
    text = page.content.decode()
    assert page["Content-Language"] == "fr" and '<html lang="fr">' in text
    assert "Restez en contact avec Magasin A" in text
    assert shown_wording(text, "consent_email") == FRENCH_EMAIL
    assert "I agree" not in text
    sms_shown = shown_wording(text, "consent_sms")
    assert sms_shown.startswith("J'accepte de recevoir les actualités et offres de ce magasin par SMS.")
    # when the visitor gives both consents
    answer = post_entry(
        client,
        kiosk_url(store_form),
        email="lea@example.test",
        mobile="06 12 34 56 70",
        consent_email="on",
        consent_sms="on",
        meta={"HTTP_ACCEPT_LANGUAGE": "en"},
    )
    # then the new prospect reads French, and both confirmations are in French
    contact = Contact.unscoped.get(email="lea@example.test")
    assert contact.language == "fr"
    (_from, _to, mail) = smtp_server.messages[0]
    assert mail["Subject"].strip() == "Merci de confirmer votre inscription auprès de Magasin A"
    body = mail.get_body(("plain",)).get_content()
    assert body.startswith("Bonjour") and FRENCH_EMAIL in body
    texts = [r["payload"]["text"] for r in gateway.requests]
    assert "est votre code pour confirmer les SMS de Magasin A" in texts[-1]
    # the code page goes on in French; once confirmed, the ledger holds exactly the text shown
    code_page = client.get(answer["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert code_page["Content-Language"] == "fr"
    client.post(answer["Location"], {"code": texted_code(gateway, "+33612345670")})
    assert ConsentEvent.unscoped.get(contact=contact, channel="sms").wording == sms_shown
    link = re.search(r"https?://[^/\s]+(/l/confirm/[^\s]+/)", mail.get_body(("plain",)).get_content())
    assert link is not None
    confirm_page = client.get(link.group(1), HTTP_ACCEPT_LANGUAGE="en")
    assert confirm_page["Content-Language"] == "fr"
    client.post(link.group(1))
    assert ConsentEvent.unscoped.get(contact=contact, channel="email").wording == FRENCH_EMAIL
    assert PendingOptIn.unscoped.get(contact=contact, channel="email").wording == FRENCH_EMAIL


def test_a_store_abroad_shows_the_wording_of_its_own_language(client, network):
    # given a store in the United Kingdom, in the French organisation
    store = network.store_b
    store.country = "GB"
    store.save(update_fields=["country"])
    form = leads.lead_form_create(entity=store)[0]
    with translation.override("fr"):  # a French server (or a French manager's request)
        page = client.get(kiosk_url(form), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert shown_wording(page, "consent_email") == ENGLISH_EMAIL
    assert "Stay in touch with Magasin B" in page


def test_hq_overrides_the_wording_per_language(client, network, login, store_form):
    abroad = network.store_b
    abroad.country = "GB"
    abroad.save(update_fields=["country"])
    english_form = leads.lead_form_create(entity=abroad)[0]
    hq = login(network, "hq_admin")
    settings_page = hq.get(reverse("targeting:lead_settings")).content.decode()
    # the settings show, per language, what readers of it see (the organisation's language first)
    assert settings_page.index('name="email_wording"') < settings_page.index('name="email_wording_en"')
    assert html.escape(FRENCH_EMAIL) in settings_page and ENGLISH_EMAIL in settings_page
    posted = {
        "form_version": "v2",
        "email_wording": FRENCH_EMAIL,  # left as the default: it stays the default
        "sms_wording": "Oui, je veux vos SMS.",
        "email_wording_en": "Yes, email me.",
        "sms_wording_en": "",
        "frame_ancestors": "",
        "min_fill_seconds": 3,
        "ip_limit_per_hour": 60,
        "token_limit_per_hour": 300,
    }
    assert hq.post(reverse("targeting:lead_settings"), posted).status_code == 302
    config = LeadCaptureSettings.unscoped.get(organisation=network.org)
    assert (config.email_wording, config.sms_wording) == ("", "Oui, je veux vos SMS.")
    assert config.wordings == {"en": {"email": "Yes, email me."}}
    hq.logout()
    french = client.get(kiosk_url(store_form)).content.decode()
    assert shown_wording(french, "consent_email") == FRENCH_EMAIL
    assert shown_wording(french, "consent_sms") == "Oui, je veux vos SMS."
    english = client.get(kiosk_url(english_form)).content.decode()
    assert shown_wording(english, "consent_email") == "Yes, email me."
    assert shown_wording(english, "consent_sms").startswith("I agree to receive news and offers")
    # a store's page shows its managers the wording its visitors read
    manager = login(network, "store_a")
    store_page = manager.get(reverse("targeting:lead_store", kwargs={"pk": network.store_a.pk}))
    assert "Oui, je veux vos SMS." in store_page.content.decode()


def test_the_migration_forgets_the_english_default_held_by_french_organisations(network):
    migration = importlib.import_module("glocal.targeting.migrations.0005_consent_wording_per_language")
    with activate(network.scope("hq_admin")):
        LeadCaptureSettings.unscoped.create(
            organisation=network.org, email_wording=ENGLISH_EMAIL, sms_wording="Oui aux SMS."
        )
    state = MigrationExecutor(connection).loader.project_state(
        ("targeting", migration.__name__.rpartition(".")[2])
    )
    migration.forget_stored_defaults(state.apps, None)  # the migration's own (historical) models
    config = LeadCaptureSettings.unscoped.get(organisation=network.org)
    assert (config.email_wording, config.sms_wording) == ("", "Oui aux SMS.")  # HQ's own text stays
    assert config.wording("email", "fr") == FRENCH_EMAIL
    assert config.wording("email", "en") == ENGLISH_EMAIL
