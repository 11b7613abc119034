"""The page walk: in French, on a phone (390×844), each persona of the demo opens every page its
navigation leads to and the main detail pages (an entity, a campaign, a template, a message, a lead
form, a prospect list…), and no page shows

(a) an English word or a raw code (``template.personalise``, ``short_text``, ``start_sending``) in its
    visible text — user data the demo seeds (names, addresses, messages) set aside
    (``tests/browser/french_rules.py``);
(b) a page wider than the phone (the phone-layout test's measure, ``test_phone_layout.overflow``);
(c) a critical or serious accessibility violation found by axe-core (``tests/browser/vendor/axe.min.js``,
    injected with Playwright's ``add_script_tag``).

The demo is the real one (``call_command("seed")``), plus what it does not make: a launched campaign's
messages, a prospect list and a segment.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Browser, Page
from pytest_django.live_server_helper import LiveServer

from .conftest import PHONE
from .french_rules import problems
from .test_phone_layout import overflow

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DEMO_PASSWORD = "glocal-demo"
DEMO_DOMAIN = "demo.glocal.test"
PERSONAS = ["admin", "marketer", "region", "store-a", "staff", "viewer"]

# The main detail pages: the first link of each shape found on the pages the navigation leads to.
DETAIL_PAGES = {
    "entity": r"^/network/entities/\d+/$",
    "campaign": r"^/campaigns/\d+/$",
    "operation": r"^/campaigns/operations/\d+/$",
    "budget": r"^/campaigns/budgets/\d+/$",
    "template": r"^/templates/\d+/$",
    "personalisation": r"^/templates/personalisations/\d+/$",
    "asset": r"^/library/assets/\d+/$",
    "customer": r"^/customers/\d+/$",
    "message": r"^/delivery/messages/\d+/$",
    "delivery report": r"^/delivery/campaigns/\d+/$",
    "lead form": r"^/leads/stores/\d+/$",
    "prospect list": r"^/prospect-lists/\d+/$",
    "segment": r"^/segments/\d+/$",
    "store kit": r"^/delivery/print/stores/\d+/$",
}
# Every template (a few): a store's personalisations hang from the one it personalised.
DETAILS_OF_A_KIND = {"template": 10}
# Pages answered by something else than a page (files, logout, the language switch).
NOT_PAGES = re.compile(
    r"\.(csv|zip|pdf|png|json|ics)$|/(file|thumbnail|download|logout)/|^/(i18n|ops|static)/"
)

# Visible text, as a reader sees it: every text node and the labels a screen reader reads, except code
# the user types as is (<code>, <textarea>), the scripts and what is marked translate="no".
VISIBLE_TEXT = """() => {
  const skip = "script, style, noscript, template, code, textarea, [translate='no']";
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(skip)) parts.push(node.textContent);
  }
  const labelled = "[aria-label], [title], [placeholder], [alt], input[type=submit]";
  for (const el of document.querySelectorAll(labelled)) {
    if (el.closest(skip)) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (el.getAttribute(name)) parts.push(el.getAttribute(name));
    }
    if (el.matches("input[type=submit]")) parts.push(el.value);
  }
  parts.push(document.title);
  return parts.join(" ").replace(/\\s+/g, " ");
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "critical" || v.impact === "serious")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " — " + n.failureSummary)}));
}"""


def _extras(org: Any) -> None:
    """What the demo does not make but the walk must see: a launched campaign's messages, a prospect
    list and a segment."""
    from glocal.campaigns.models import Campaign
    from glocal.core.scope import activate, system_scope
    from glocal.delivery import launch
    from glocal.network.models import Entity
    from glocal.targeting import prospects, segments

    with activate(system_scope(org.pk)):
        scheduled = Campaign.objects.filter(state="scheduled").order_by("pk").first()
        if scheduled is not None:
            launch.launch([scheduled], now=scheduled.scheduled_at)
        store = Entity.objects.filter(entity_type__code="store").order_by("path").first()
        prospects.upload_list(
            entity=store,
            name="Fichier partenaire printemps",
            campaign_ref="PRINTEMPS",
            purge_after=timezone.localdate() + dt.timedelta(days=30),
            data=b"email,first_name,last_name,postcode,city\nmarie.durand@exemple.fr,Marie,Durand,75011,Paris\n",
            filename="partenaire.csv",
        )
        segments.segment_save(
            name="Clients fidèles", criteria=[{"field": "purchase_count", "op": "gte", "value": 2}]
        )


def _known_names(org: Any) -> list[str]:
    """The user data the demo seeds (names of things and people), set aside before looking for English."""
    from glocal.accounts.models import User
    from glocal.audience.models import ConsentEvent, Contact
    from glocal.brand.models import Asset, Folder
    from glocal.campaigns.models import Campaign, Operation, OperationWave
    from glocal.creatives.models import ChannelTemplate
    from glocal.network.models import Entity, EntityGroup
    from glocal.targeting.models import ProspectList, Segment

    names: list[str] = []
    for model, fields in (
        (Entity, ["name", "legal_name", "city", "address_line1", "manager_name"]),
        (EntityGroup, ["name"]),
        (ChannelTemplate, ["name", "description"]),
        (Campaign, ["name"]),
        (Operation, ["name", "description"]),
        (OperationWave, ["name"]),
        (Asset, ["name", "alt_text"]),
        (Folder, ["name"]),
        (Segment, ["name"]),
        (ProspectList, ["name"]),
        (Contact, ["first_name", "last_name", "city"]),
        (ConsentEvent, ["wording"]),
    ):
        for row in model.unscoped.filter(organisation=org).values_list(*fields):
            names += [value for value in row if isinstance(value, str) and len(value) > 2]
    names += [name for name in User.objects.values_list("full_name", flat=True) if name]
    return sorted(set(names), key=len, reverse=True)


@pytest.fixture
def demo(live_server: LiveServer, transactional_db: None) -> list[str]:
    """The demo network, committed so that the live server sees it; the names it seeds."""
    from glocal.network.models import Organisation

    call_command("seed", stores=8, contacts=120, verbosity=0)
    org = Organisation.objects.get(slug="maison-verte")
    _extras(org)
    return _known_names(org)


def _log_in(page: Page, persona: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(f"{persona}@{DEMO_DOMAIN}")
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _links(page: Page, selector: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    found = []
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "tel:", "sms:", "http", "data:", "javascript:")):
            continue
        path = urlparse(href).path
        if path.startswith("/") and not NOT_PAGES.search(path) and path not in found:
            found.append(path)
    return found


def _check_page(page: Page, path: str, known: list[str]) -> list[str]:
    response = page.goto(path)
    found = []
    if response is None or response.status >= 400:
        return [f"HTTP {response.status if response else '?'}"]
    text = page.evaluate(VISIBLE_TEXT)
    found += problems(text, known)
    too_wide = overflow(page)
    if too_wide:
        found.append(f"wider than the phone: {too_wide}")
    page.add_script_tag(path=str(AXE))
    for violation in page.evaluate(AXE_RUN):
        found.append(
            f"axe {violation['impact']}: {violation['id']} ({violation['help']}) {violation['nodes']}"
        )
    return found


def test_every_page_is_french_and_accessible(
    browser: Browser, live_server: LiveServer, demo: list[str]
) -> None:
    """One demo for every persona (seeding it takes longer than a walk): each walk's problems are
    gathered, then reported together."""
    kinds: set[str] = set()
    failures = []
    for persona in PERSONAS:
        report, visited = _walk(browser, live_server, demo, persona)
        kinds |= visited
        if report:
            failures.append(report)
    assert failures == [], "\n\n".join(failures)
    assert kinds == set(DETAIL_PAGES), f"detail pages no persona reached: {set(DETAIL_PAGES) - kinds}"


def _walk(browser: Browser, live_server: LiveServer, demo: list[str], persona: str) -> tuple[str, set[str]]:
    """The persona's walk: what it found wrong (empty when nothing), and the kinds of detail pages seen."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
        extra_http_headers={"Accept-Language": "fr"},
        service_workers="block",
        # axe is injected as an inline script: the page's Content-Security-Policy would refuse it
        # (the journeys check the policy itself).
        bypass_csp=True,
    )
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "fr", "url": live_server.url}])
    page = context.new_page()
    try:
        _log_in(page, persona)
        report: dict[str, list[str]] = {}
        seen: list[str] = []
        details: dict[str, list[str]] = {}
        # the navigation's pages, then the pages they link to (sections, forms, settings: paths without
        # an id), then one detail page of each kind found on any of them
        queue = ["/", *_links(page, "nav.mainnav a")]
        sections = set(queue)
        while queue:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.append(path)
            found = _check_page(page, path, demo)
            if found:
                report[path] = found
            links = _links(page, "main a, nav.subnav a")
            for link in links:
                for kind, pattern in DETAIL_PAGES.items():
                    taken = details.setdefault(kind, [])
                    if (
                        len(taken) < DETAILS_OF_A_KIND.get(kind, 1)
                        and link not in taken
                        and re.match(pattern, link)
                    ):
                        taken.append(link)
                        queue.append(link)
            if path in sections:
                for link in links:
                    if not re.search(r"\d", link) and link not in sections:
                        sections.add(link)
                        queue.append(link)
        assert len(seen) > 5, (persona, seen)
        if not report:
            return "", {kind for kind, links in details.items() if links}
        return (
            f"{persona}, {len(seen)} pages walked, {len(report)} with problems:\n"
            + "\n".join(f"{path}: {found}" for path, found in report.items())
            + f"\nwalked: {seen}"
        ), {kind for kind, links in details.items() if links}
    finally:
        context.close()
