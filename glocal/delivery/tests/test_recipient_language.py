"""What a recipient reads is in their language (else their store's, else the organisation's), whatever the
language of the process rendering it: an English worker sends a French store's customers French, the
preview and the proof show the same bytes, and exclusion reasons are written in the reader's language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone, translation

from glocal.audience.models import Contact
from glocal.campaigns.models import Campaign, Proof
from glocal.campaigns.tests.conftest import add_contacts, in_days
from glocal.core.language import entity_language, recipient_language
from glocal.core.scope import activate
from glocal.creatives import selectors as creative_selectors
from glocal.delivery import dispatch, launch, tracking
from glocal.delivery.models import DeliverySettings, Exclusion, Message
from glocal.delivery.tests.test_engine import campaign_mail, scheduled_campaign

pytestmark = pytest.mark.django_db

# Where sending folds a long line: email_skeleton.ATTRIBUTE_GAP, the space become a line break.
FOLDED = re.compile(r"\n(?=[a-zA-Z][a-zA-Z0-9:-]*=\"[^\"<>]*\"[^<>]*>)")
HOURS = {"mon": "09:30-19:00", "tue": "09:30-19:00", "sun": ""}


@pytest.fixture
def smtp(settings, smtp_server):
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    return smtp_server


@pytest.fixture
def french_store(network):
    store = network.store_a
    store.opening_hours = HOURS
    store.save(update_fields=["opening_hours"])
    return store


def test_the_language_is_the_recipients_else_the_stores_else_the_organisations(network):
    store = network.store_a
    assert entity_language(store) == "fr"  # a store in France
    assert recipient_language({"language": "en"}, store) == "en"
    assert recipient_language({"language": "en-GB"}, store) == "en"
    assert recipient_language({"language": "xx"}, store) == "fr"  # not a language of the site: the store's
    assert recipient_language(None, store) == "fr"  # a visitor of the store's kiosk
    store.country = "GB"
    assert recipient_language(None, store) == "en"
    store.country = "DE"  # a language the site does not speak: the organisation's
    network.org.language = "en"
    assert recipient_language(None, store, network.org) == "en"


def test_an_english_worker_sends_a_french_stores_customers_french(network, templates, smtp, french_store):
    # given a French store's campaign with its opening hours in the footer, a customer who reads French
    # (the default) and one who reads English
    sink = smtp
    french = add_contacts(french_store, 1, first_name="Camille", prefix="fr")[0]
    english = add_contacts(french_store, 1, first_name="John", prefix="en", language="en")[0]
    campaign = scheduled_campaign(network, templates.email)
    # when a worker whose active language is English launches and sends it
    translation.activate("en")
    launch.launch_due()
    dispatch.drain("english-worker")
    assert translation.get_language() == "en"
    # then the French customer reads the days in French, the English one in English
    received = {m["To"].addresses[0].addr_spec: m for m in campaign_mail(sink, campaign)}
    html = received[french.email].get_body(("html",)).get_content()
    text = received[french.email].get_body(("plain",)).get_content()
    for part in (html, text):
        assert "Lundi: 09:30-19:00" in part and "Dimanche: fermé" in part
        assert "Monday" not in part and "closed" not in part
        assert "Offre valable dans la limite des stocks disponibles." in part  # the locked legal zone
    assert '<html lang="fr"' in html
    english_html = received[english.email].get_body(("html",)).get_content()
    assert "Monday: 09:30-19:00" in english_html and "Sunday: closed" in english_html
    assert '<html lang="en"' in english_html


def test_sms_and_other_channels_are_built_in_the_recipients_language(network, templates, french_store):
    # an English worker's SMS variant of a French store: the store's details in French
    add_contacts(french_store, 1)
    campaign = scheduled_campaign(network, templates.sms)
    translation.activate("en")
    worker = dispatch.Dispatcher("sms")
    language = worker._language(Message(campaign_id=campaign.pk), None)  # an unknown reader: the store's
    variant = worker._campaign_variant(campaign.pk, language)[1]
    assert variant.language == "fr" and "Lundi: 09:30-19:00" in variant.store["hours_text"]
    english = worker._campaign_variant(campaign.pk, "en")[1]
    assert "Monday: 09:30-19:00" in english.store["hours_text"]


def unfolded(html: str) -> str:
    """``html`` as written, before the transport's folding: SMTP lines end in CRLF and may not exceed 998
    octets, so sending folds long lines at the spaces between a tag's attributes (``fold_html``), which
    the per-recipient skeleton and the full render do at different moments. Undone here on both sides."""
    return FOLDED.sub(" ", html.replace("\r\n", "\n")).rstrip("\n")


def _sample_contact(store) -> Contact:
    """A customer with the fields of the preview's sample recipient ("camille"): the proof, made for the
    sample, and the message sent to this customer are for the same person."""
    sample = creative_selectors.rendering.sample_recipient("camille")
    return add_contacts(
        store, 1, first_name=sample["first_name"], city=sample["city"], attributes={"loyalty_points": "320"}
    )[0]


def test_the_proof_the_preview_and_the_sent_message_are_the_same_bytes(
    network, templates, smtp, french_store, monkeypatch
):
    # Click tokens are signed with a timestamp: one instant for the message and for the check below.
    stamp = signing.TimestampSigner().timestamp()
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: stamp)
    sink = smtp
    contact = _sample_contact(french_store)
    Contact.unscoped.filter(pk=contact.pk).update(last_name="Martin")
    contact.refresh_from_db()
    # the proof is made when the campaign is submitted — here by an English-speaking user
    campaign = scheduled_campaign(network, templates.email)
    proof = Proof.unscoped.filter(campaign=campaign).order_by("-round").first()
    assert proof is not None and "Lundi: 09:30-19:00" in proof.html
    # the English worker sends it
    translation.activate("en")
    launch.launch_due()
    dispatch.drain("english-worker")
    (message,) = campaign_mail(sink, campaign)
    sent_html = message.get_body(("html",)).get_content()
    # the message's own links (the per-send parts: its unsubscribe token, its tracking reference)
    stable_id = launch.stable_id(campaign.pk, contact.pk)
    ref = tracking.make_ref(stable_id)
    found = re.search(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"])
    assert found is not None
    unsubscribe_url = found.group(1)
    links = {"unsubscribe_url": unsubscribe_url, "view_online_url": f"http://testserver/v/{ref}/"}
    recipient = dispatch.recipient_context(
        Contact.unscoped.filter(pk=contact.pk).values(*dispatch.CONTACT_FIELDS).get()
    )
    recipient["language"] = contact.language
    # the preview of this customer's message, by a French-speaking and by an English-speaking editor
    previews = []
    for editor_language in ("fr", "en"):
        with translation.override(editor_language), activate(network.scope("store_a")):
            previews.append(
                creative_selectors.preview(
                    campaign.version, french_store, campaign.values, recipient=recipient, links=links
                ).rendered
            )
    assert previews[0].html == previews[1].html and previews[0].text == previews[1].text
    preview = previews[0]
    # the proof is the preview, the sample's links in place of the message's
    proof_html = proof.html.replace(
        creative_selectors.PREVIEW_UNSUBSCRIBE_URL, links["unsubscribe_url"]
    ).replace(creative_selectors.PREVIEW_VIEW_ONLINE_URL, links["view_online_url"])
    assert proof_html == preview.html
    # the message sent is the preview plus what sending adds to every message: its language attribute
    # and title, the tracking of its links, the open pixel (and headers: Date, To, Message-ID…)
    mail = dispatch.Dispatcher("check")._variant_mail(Message.unscoped.get(stable_id=stable_id), "fr")
    expected = mail.tracked_html(preview.html, ref, preview.subject)
    assert unfolded(sent_html) == unfolded(expected)
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP's line ends
    assert plain.strip() == preview.text.strip()
    assert message["Subject"] == preview.subject


def test_exclusions_launched_in_english_read_in_french(network, templates, smtp, client, login):
    # given HQ's cap "1 email per 7 days", a store's local campaign and HQ's operation due together
    people = add_contacts(network.store_a, 2)
    add_contacts(network.store_a, 1, consent="", prefix="noconsent")
    local = scheduled_campaign(network, templates.email, name="Week-end ensoleillé")
    central = scheduled_campaign(network, templates.email, name="Foire aux vins", when=in_days(2))
    DeliverySettings.unscoped.create(
        organisation=network.org, caps=[{"limit": 1, "days": 7, "channel": "email"}]
    )
    Campaign.unscoped.filter(pk=central.pk).update(
        kind=Campaign.Kind.OPERATION, scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    # when an English worker launches them
    translation.activate("en")
    launch.launch_due()
    stored = Exclusion.unscoped.filter(campaign=central, reason="pressure")
    assert stored.count() == len(people)
    # then the reason is stored as data, not as an English sentence
    row = stored.first()
    assert row is not None
    assert (row.detail_code, row.detail) == ("pressure_cap", "")
    assert row.params["count"] == 1 and row.params["campaigns"][0]["name"] == "Week-end ensoleillé"
    # and the store's manager, reading in French, sees it in French
    translation.deactivate()
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    # (French typography puts a no-break space before a colon: read here as a space)
    page = client.get(reverse("delivery:campaign", args=[central.pk])).content.decode().replace("\xa0", " ")
    expected = (
        "Exclu : déjà 1 e-mail sur les 7 derniers jours (limite 1), dont Week-end ensoleillé (Magasin A)."
    )
    assert expected in page
    assert "Excluded" not in page and "already in the last" not in page
    reasons = client.get(reverse("delivery:campaign", args=[local.pk])).content.decode()
    assert "Pas de consentement sur ce canal" in reasons
    # read in English, the same rows are in English
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("delivery:campaign", args=[central.pk])).content.decode().replace("\xa0", " ")
    assert (
        "Excluded: 1 email already in the last 7 days (limit 1), including Magasin A&#x27;s Week-end" in page
    )


def test_older_rows_keep_their_sentence_and_unknown_codes_fall_back(network, templates):
    add_contacts(network.store_a, 1)
    campaign = scheduled_campaign(network, templates.email)
    common = {"organisation": network.org, "entity_path": network.store_a.path, "campaign": campaign}
    old = Exclusion.unscoped.create(reason="pressure", detail="Excluded: as written in 2025.", **common)
    unknown = Exclusion.unscoped.create(
        reason="pressure", detail_code="later_rule", params={"x": 1}, **common
    )
    plain = Exclusion.unscoped.create(reason="no_consent", **common)
    with translation.override("fr"):
        assert old.explanation() == "Excluded: as written in 2025."
        assert unknown.explanation() == "Pression marketing"
        assert plain.explanation() == "Pas de consentement sur ce canal"


def test_the_preference_and_unsubscribe_pages_speak_the_recipients_language(network, client):
    # given a French store's customer, and another who reads English, each with their message's link
    from glocal.delivery import tokens

    french, english = add_contacts(network.store_a, 2)
    Contact.unscoped.filter(pk=english.pk).update(language="en")

    def link(contact):
        token = tokens.unsubscribe_token(
            contact_id=contact.pk, organisation_id=network.org.pk, channel="email", message_id="g1-1"
        )
        return reverse("recipient:unsubscribe", args=[token])

    # when they open it in a browser that asks for English (French) pages
    page = client.get(link(french), HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "fr"
    assert "Vos préférences" in page.content.decode() and '<html lang="fr"' in page.content.decode()
    page = client.get(link(english), HTTP_ACCEPT_LANGUAGE="fr")
    assert "Your preferences" in page.content.decode() and page["Content-Language"] == "en"
    done = client.post(link(french), {"List-Unsubscribe": "One-Click"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Votre désinscription est enregistrée" in done.content.decode()
