"""Every page of the demo fits a phone: logged in as each persona of the demo network (``seed``), at
390×844, each page reachable from the persona's navigation (the main menu, the user menu and the
sections' own navigation) and the detail pages stores open on a phone must not scroll sideways:
``document.documentElement.scrollWidth`` stays within the window. Wide tables scroll inside their own
box, long words wrap. The HQ calendar fits a 1,366 px laptop.

A failure names the page and the element that sticks out furthest (the widest one whose parent fits)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from .conftest import PHONE

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
DEMO_DOMAIN = "demo.glocal.test"
DEMO_PASSWORD = "glocal-demo"  # noqa: S105 - the demo's documented credential
# The demo's personas (``seed``): login → what they are.
PERSONAS = {
    "admin": "HQ admin",
    "marketer": "HQ marketer",
    "region": "regional manager",
    "store-a": "store manager",
    "staff": "store staff",
    "viewer": "viewer",
}
# Links that are not pages to lay out: downloads, the operators' admin, logging out.
SKIP = re.compile(r"(\.(zip|pdf|png|json|csv|xlsx)$)|^/ops/|^/accounts/logout/|^/i18n/|/download/$")

# The element sticking out furthest: among the elements whose right edge passes the window's and that
# no scrolling box of theirs clips, the widest; and the outermost such element (its parent fits).
OVERFLOW_JS = """
(viewport) => {
  const width = Math.min(window.innerWidth, viewport);
  const describe = (el) => {
    const r = el.getBoundingClientRect();
    let name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    if (el.classList.length) name += "." + [...el.classList].join(".");
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 60);
    return `${name} (${Math.round(r.width)} px wide, right edge at ${Math.round(r.right)} px) «${text}»`;
  };
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX !== "visible" && p.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  let widest = null, widestWidth = 0, outermost = null;
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1 || clipped(el)) continue;
    if (r.width > widestWidth) { widest = el; widestWidth = r.width; }
    const parent = el.parentElement;
    if (!outermost && parent && parent.getBoundingClientRect().right <= width + 1) outermost = el;
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    width: width,
    widest: widest ? describe(widest) : "",
    outermost: outermost ? describe(outermost) : "",
  };
}
"""


def overflow(page: Page) -> str:
    """'' when the page fits its window; else what sticks out. A phone (``is_mobile``) zooms out to
    show a page wider than the screen, which widens ``window.innerWidth`` to the page's width: the
    width compared with is the smaller of it and the viewport's."""
    viewport = page.viewport_size
    assert viewport is not None
    found: dict[str, Any] = page.evaluate(OVERFLOW_JS, viewport["width"])
    if found["scrollWidth"] <= found["width"]:
        return ""
    return (
        f"{found['scrollWidth']} px wide in a {found['width']} px window; "
        f"widest: {found['widest'] or '?'}; sticking out: {found['outermost'] or '?'}"
    )


def log_in(page: Page, live_server: LiveServer, login: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(f"{login}@{DEMO_DOMAIN}")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")


def _paths(page: Page, selector: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(selector, "links => links.map(a => a.href)")
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.scheme in ("http", "https") and not SKIP.search(parts.path):
            paths.append(path)
    return paths


def navigation_pages(page: Page) -> list[str]:
    """The pages the persona's navigation leads to: the main menu, the user menu, then each
    section's own navigation (``main nav``)."""
    page.goto("/")
    first = ["/", *_paths(page, "#mainnav a, .usermenu a")]
    pages = list(dict.fromkeys(first))
    for path in first:
        page.goto(path)
        pages += _paths(page, "main nav a")
    return list(dict.fromkeys(pages))


def detail_pages() -> list[str]:
    """The detail pages a phone shows, with the demo's objects (the persona may be refused some: the
    refusal page must fit too)."""
    from glocal.campaigns import services as campaign_services
    from glocal.campaigns.models import Campaign
    from glocal.core.scope import activate
    from glocal.creatives.models import ChannelTemplate
    from glocal.delivery.models import Message
    from glocal.network.models import Entity, Membership, Organisation

    org = Organisation.objects.get(slug="maison-verte")
    manager = (
        Membership.unscoped.select_related("entity")
        .filter(organisation=org, user__email=f"store-a@{DEMO_DOMAIN}")
        .order_by("entity__path")
        .first()
    )
    assert manager is not None
    store = manager.entity
    templates = ChannelTemplate.unscoped.filter(organisation=org, status="published").order_by("pk")
    email = templates.filter(channel="email").first()
    sms = templates.filter(channel="sms").first()
    poster = templates.filter(channel="print").first()
    assert email and sms and poster, "the demo has published email, SMS and print templates"
    with activate(manager.as_scope()):
        letter = campaign_services.campaign_create(
            entity=store, template=poster, name="Courrier de printemps"
        )
    message = Message.unscoped.filter(organisation=org).order_by("pk").first()
    assert message is not None, "the demo has sent messages"
    campaign = Campaign.unscoped.filter(organisation=org, entity=store).exclude(pk=letter.pk).first()
    assert campaign is not None
    region = Entity.unscoped.get(pk=store.parent_id)
    pages = [
        "/delivery/messages/",
        f"/delivery/messages/{message.pk}/",
        f"/network/entities/{store.pk}/",
        f"/network/entities/{region.pk}/",
        f"/leads/stores/{store.pk}/",
        f"/templates/{email.pk}/",
        f"/templates/{sms.pk}/",
        f"/templates/{email.pk}/personalise/?store={store.pk}",
        f"/templates/{sms.pk}/personalise/?store={store.pk}",
        f"/templates/{poster.pk}/personalise/?store={store.pk}",  # the print editor
        f"/delivery/print/campaigns/{letter.pk}/direct-mail/",
        f"/delivery/print/stores/{store.pk}/",
        f"/campaigns/{campaign.pk}/",
        f"/campaigns/{campaign.pk}/edit/",
        f"/campaigns/{letter.pk}/edit/",
        "/people/",
        "/prospect-lists/",
    ]
    if campaign.operation_id:
        pages.append(f"/campaigns/operations/{campaign.operation_id}/")
    return pages


@pytest.fixture
def demo(live_server: LiveServer, transactional_db: None) -> list[str]:
    call_command("seed", contacts=300, verbosity=0)
    from glocal.delivery import dispatch

    dispatch.tick()  # the demo's due campaign is launched (its messages queued), as the demo's worker does
    return detail_pages()


def test_every_page_fits_a_phone(
    new_page: NewPage, live_server: LiveServer, demo: list[str], screenshot: Callable[[Page, str], None]
) -> None:
    problems: list[str] = []
    visited = 0
    for login, persona in PERSONAS.items():
        page = new_page(PHONE, is_mobile=True)
        log_in(page, live_server, login)
        for path in [*navigation_pages(page), *demo]:
            page.goto(path)
            visited += 1
            found = overflow(page)
            if found:
                problems.append(f"{persona} ({login}) at {path}: {found}")
            if login == "store-a":  # GLOCAL_SCREENSHOTS=dir keeps them for a look
                screenshot(page, "phone" + re.sub(r"[^a-z0-9]+", "-", path).rstrip("-"))
        page.context.close()
    assert visited > 60
    assert not problems, "Pages wider than a 390 px phone:\n" + "\n".join(problems)


def test_hq_calendar_fits_a_laptop_and_scrolls_in_its_box_on_a_phone(
    new_page: NewPage, live_server: LiveServer, demo: list[str]
) -> None:
    problems = []
    for viewport in (LAPTOP, PHONE):
        page = new_page(viewport, is_mobile=viewport is PHONE)
        log_in(page, live_server, "admin")
        for path in ("/campaigns/calendar/", "/campaigns/calendar/?view=week"):
            page.goto(path)
            expect(page.get_by_test_id("calendar")).to_be_visible()
            found = overflow(page)
            if found:
                problems.append(f"HQ admin at {path}, {viewport['width']} px: {found}")
        page.context.close()
    assert not problems, "\n".join(problems)


def test_the_menu_collapses_on_a_phone_and_opens_from_the_keyboard(
    new_page: NewPage, live_server: LiveServer, demo: list[str]
) -> None:
    page = new_page(PHONE, is_mobile=True)
    log_in(page, live_server, "store-a")
    nav = page.locator("#mainnav")
    menu = page.locator("[data-menu-toggle]")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    header = page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] < 130, header  # no longer five rows of links
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    # On a laptop the menu is simply open, with no button.
    laptop = new_page(LAPTOP)
    log_in(laptop, live_server, "store-a")
    expect(laptop.locator("[data-menu-toggle]")).to_be_hidden()
    expect(laptop.locator("#mainnav")).to_be_visible()
