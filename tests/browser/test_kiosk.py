"""The store's kiosk in a real browser: the store's manager makes its links (a click on the store's lead
page), then at tablet size: fill, tick the SMS consent, send, type the code texted to the number (through
the local SMS gateway), thank-you, back to a blank form; the kiosk of a French store is in French whatever
the tablet's browser asks for, and the consent wording shown is the one the ledger stores. Also the
segment builder's live count (htmx) for a store manager."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, ViewportSize, expect

from conftest import Network
from glocal.audience.models import ConsentEvent, Contact
from glocal.delivery.tests import test_providers
from glocal.delivery.tests.test_providers import Provider
from glocal.targeting import leads

pytestmark = pytest.mark.browser

TABLET: ViewportSize = {"width": 820, "height": 1180}

gateway = test_providers.gateway  # the local SMS gateway (a real HTTP server on 127.0.0.1)


def field(page: Page, label: str) -> Any:
    """The form control labelled ``label`` (Django's labels end with a colon: " :" in French)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}\s*:?$"))


def texted_code(gateway: Provider, number: str) -> str:
    """The code in the last text the gateway received for ``number``: what the person reads."""
    texts = [r["payload"]["text"] for r in gateway.requests if r["payload"]["to"] == number]
    assert texts, f"no SMS to {number}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found is not None
    return found.group(1)


@pytest.fixture
def _fresh_limits(transactional_db: None) -> Iterator[None]:
    """Rate limits and form stamps live in the shared cache (the database's here), which a
    transactional test does not roll back: start and end with none."""
    cache.clear()
    yield
    cache.clear()


def test_kiosk_on_a_tablet_records_the_wording_shown(
    new_page: Callable[..., Page],
    personas: Network,
    gateway: Provider,
    log_in: Callable[[Page, str], None],
    _fresh_limits: None,
    screenshot: Callable[[Page, str], None],
) -> None:
    config = leads.capture_settings(personas.org.pk)
    # HQ's minimum fill time (3 s by default) lowered for the test: no waiting (it has its own unit test)
    config.min_fill_seconds = 0
    config.save()
    # the store's manager makes the store's links (the page offers them; showing it makes nothing)
    office = new_page()
    log_in(office, "store_a")
    office.goto("/leads/")
    office.get_by_role("link", name="Magasin A", exact=True).click()
    expect(office.get_by_test_id("no-lead-forms")).to_be_visible()
    assert leads.lead_form_of(personas.store_a) is None
    screenshot(office, "kiosk-no-links")
    office.get_by_role("button", name="Create the kiosk and web form links").click()
    expect(office.get_by_text("The kiosk and web form links were made.")).to_be_visible()
    link = office.get_by_test_id("kiosk-url")
    lead_form = leads.lead_form_of(personas.store_a)
    assert lead_form is not None and (link.get_attribute("href") or "").endswith(
        f"/l/k/{lead_form.kiosk_token}/"
    )
    screenshot(office, "kiosk-links")
    # the tablet at the counter opens the kiosk link: the store is in France, its kiosk in French
    page = new_page(TABLET, is_mobile=True)
    page.goto(urlsplit(link.get_attribute("href") or "").path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Restez en contact avec Magasin A")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("link")).to_have_count(0)  # nowhere to navigate to
    sms_wording, email_wording = config.wording("sms", "fr"), config.wording("email", "fr")
    sms_box = page.get_by_role("checkbox", name=sms_wording)
    email_box = page.get_by_role("checkbox", name=email_wording)
    expect(sms_box).not_to_be_checked()
    expect(email_box).not_to_be_checked()
    shown = page.get_by_test_id("wording-consent_sms").inner_text()

    field(page, "Prénom").fill("Camille")
    field(page, "Nom").fill("Durand")
    field(page, "Mobile").fill("06 12 34 56 78")
    sms_box.tap()
    expect(sms_box).to_be_checked()
    box = page.get_by_role("button", name="Envoyer").bounding_box()
    assert box is not None and box["height"] >= 44  # a comfortable touch target
    screenshot(page, "kiosk-filled")
    page.get_by_role("button", name="Envoyer").tap()

    # nothing is recorded until the person types the code texted to the number
    expect(page).to_have_url(re.compile(r"/l/sms/[^/]+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("SMS de Magasin A")
    contact = Contact.unscoped.get(mobile="+33612345678")
    assert contact.consent_sms == "" and not ConsentEvent.unscoped.filter(contact=contact).exists()
    code = field(page, "Code reçu par SMS")
    expect(code).to_have_attribute("inputmode", "numeric")  # the tablet shows its number pad
    code.fill(texted_code(gateway, "+33612345678"))
    screenshot(page, "kiosk-sms-code")
    page.get_by_role("button", name="Confirmer").tap()

    expect(page.get_by_test_id("thanks")).to_contain_text("Vos coordonnées ont été enregistrées.")
    expect(page.get_by_test_id("sms-confirmed")).to_be_visible()
    for label in ("Prénom", "Nom", "E-mail", "Mobile", "Code postal"):
        expect(field(page, label)).to_have_value("")
    expect(page.get_by_role("checkbox", name=sms_wording)).not_to_be_checked()
    screenshot(page, "kiosk-thanks")

    contact.refresh_from_db()
    assert contact.consent_sms == "opt_in"
    assert (contact.first_name, contact.owner_id, contact.kind) == (
        "Camille",
        personas.store_a.pk,
        "prospect",
    )
    event = ConsentEvent.unscoped.get(contact=contact)
    assert event.channel == "sms" and event.status == "opt_in" and event.source == "form"
    assert event.wording == shown == sms_wording


def test_segment_builder_live_count(
    page: Page, personas: Network, log_in: Callable[[Page, str], None]
) -> None:
    from glocal.audience import services as audience
    from glocal.core.scope import activate

    with activate(personas.scope("store_a")):
        for n, city in enumerate(("Lille", "Lille", "Roubaix")):
            audience.contact_create(fields={"last_name": f"C{n}", "city": city})
    with activate(personas.scope("store_b")):
        audience.contact_create(fields={"last_name": "B", "city": "Lille"})
    log_in(page, "store_a")
    page.goto("/segments/new/")
    expect(page.get_by_test_id("segment-total")).to_have_text("3")
    page.get_by_label("Field").select_option("city")
    # the field's change re-renders the criteria (htmx): type the value into the new row, not the old
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    expect(page.get_by_label("Condition")).to_have_value("eq")
    page.get_by_label("Value").fill("Lille")
    expect(page.get_by_label("Value")).to_have_value("Lille")
    page.get_by_label("Value").press("Tab")
    expect(page.get_by_test_id("segment-total")).to_have_text("2")
    page.get_by_role("button", name="Add a criterion").click()
    expect(page.get_by_test_id("criterion")).to_have_count(2)
