"""First user journey in a real browser: log in, see one's own network and nothing else, edit one's
store profile on a phone, switch language, use the login form with the keyboard only."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from conftest import Network

from .conftest import PASSWORD, email_of, field

LogIn = Callable[[Page, str], None]
Screenshot = Callable[[Page, str], None]

pytestmark = pytest.mark.browser


def tree_link(page: Page, name: str) -> Locator:
    return page.get_by_test_id("tree").get_by_role("link", name=name, exact=True)


def expand(page: Page, name: str) -> None:
    """Open a collapsed tree node by clicking its toggle (the summary beside the entity's link)."""
    details = tree_link(page, name).locator("xpath=following-sibling::details[1]")
    details.locator("xpath=./summary").click()
    expect(details).to_have_attribute("open", "")


def test_hq_admin_sees_the_whole_network_and_only_it(
    page: Page, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    log_in(page, "hq_admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Network overview — Maison Test")
    expect(page.get_by_test_id("organisation")).to_have_text("Maison Test")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Network", exact=True).click()
    expect(page).to_have_url(re.compile(r"/network/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Network")
    expand(page, "Région Nord")
    expand(page, "Région Sud")
    for name in ("Maison Test", "Région Nord", "Région Sud", "Magasin A", "Magasin A2", "Magasin B"):
        expect(tree_link(page, name)).to_be_visible()
    expect(page.get_by_text("Autre magasin")).to_have_count(0)
    expect(page.get_by_text("Autre", exact=True)).to_have_count(0)
    screenshot(page, "glocal_hq_network")

    # The search box filters the tree through htmx (no full page load).
    page.get_by_label("Search the network").fill("Nice")
    expect(tree_link(page, "Magasin A")).to_have_count(0)
    expect(tree_link(page, "Magasin B")).to_be_visible()
    expect(tree_link(page, "Magasin A2")).to_have_count(0)
    expect(tree_link(page, "Région Nord")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/network/$"))

    page.get_by_label("Search the network").fill("")
    expect(tree_link(page, "Région Nord")).to_be_visible()


def test_store_manager_on_a_phone_sees_only_their_store(
    phone_page: Page, personas: Network, log_in: LogIn, screenshot: Screenshot
) -> None:
    page = phone_page
    log_in(page, "store_a")
    expect(page.get_by_role("heading", level=1)).to_have_text("Magasin A")
    expect(page.get_by_role("heading", name="My store")).to_be_visible()
    screenshot(page, "glocal_store_phone_home")

    page.get_by_role("button", name="Menu", exact=True).click()  # the navigation is collapsed on a phone
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Network", exact=True).click()
    expect(tree_link(page, "Magasin A")).to_be_visible()
    for name in ("Magasin B", "Région Sud", "Région Nord", "Magasin A2", "Maison Test"):
        expect(tree_link(page, name)).to_have_count(0)
    expect(page.get_by_text("Magasin B")).to_have_count(0)

    # Another store's page, reached by URL, does not exist for this user.
    response = page.goto(f"/network/entities/{personas.store_b.pk}/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Page not found|Page introuvable"))
    expect(page.get_by_text("Magasin B")).to_have_count(0)

    # Their own profile: open, change the phone number, save, see it.
    page.goto("/")
    page.get_by_role("link", name="View and edit my profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Magasin A")
    page.get_by_role("link", name="Edit profile").click()
    expect(page).to_have_url(re.compile(rf"/network/entities/{personas.store_a.pk}/edit/$"))
    phone = field(page, "Phone")
    expect(phone).to_have_value("+33320000001")
    expect(field(page, "Name")).to_have_count(0)  # HQ-only fields are not offered
    phone.fill("+33 3 20 00 00 99")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/network/entities/{personas.store_a.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("The profile was saved.")
    expect(page.locator("dl.profile dt:has-text('Phone') + dd")).to_have_text("+33 3 20 00 00 99")

    personas.store_a.refresh_from_db()
    assert personas.store_a.phone == "+33 3 20 00 00 99"

    # The user menu opens on screen (the top bar wraps on a phone) and leads to the personal profile.
    page.locator(".usermenu summary").click()
    my_profile = page.get_by_role("link", name="My profile")
    expect(my_profile).to_be_in_viewport(ratio=1)
    my_profile.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My profile")
    expect(page.get_by_role("main")).to_contain_text(email_of("store_a"))
    expect(page.get_by_role("main")).to_contain_text("Local manager — Magasin A")


def test_language_switch(page: Page, personas: Network, log_in: LogIn) -> None:
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="FR", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("button", name="FR", exact=True)).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("button", name="Se connecter", exact=True)).to_be_visible()
    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    log_in(page, "hq_admin")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Network", exact=True)).to_be_visible()
    page.get_by_role("button", name="FR", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(nav.get_by_role("link", name="Réseau", exact=True)).to_be_visible()
    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Network", exact=True)).to_be_visible()


def test_login_with_the_keyboard_only(page: Page, personas: Network, live_server: LiveServer) -> None:
    page.goto("/accounts/login/")
    email = field(page, "Email")
    password = field(page, "Password")
    expect(email).to_be_focused()  # autofocus
    page.keyboard.type(email_of("store_a"))
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Magasin A")
