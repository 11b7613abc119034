"""The results page's charts on a phone (390×844): Chart.js (vendored, no CDN) draws the daily chart and
the regions' click-rate bars inside the viewport, from the page's JSON block (no inline script: a CSP
violation fails the test), and each chart's numbers open in a table under it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conftest import Network
from glocal.delivery.models import MessageEvent
from glocal.reporting import rollup
from glocal.reporting.tests import factories as f

pytestmark = pytest.mark.browser

# How many pixels of a canvas carry ink (an undrawn canvas has none).
INK_JS = """
(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
  return ink;
}
"""


def _history(network: Network) -> None:
    today = timezone.localdate()
    for store, n, day in ((network.store_a, 6, 3), (network.store_b, 4, 2), (network.store_a, 3, 40)):
        camp = f.campaign(store, "email", name=f"Soldes {store.code} {day}")
        for i in range(n):
            person = f.contact(store, 100 * camp.pk + i)
            sent_at = f.at(today - dt.timedelta(days=day), 10)
            message = f.message(camp, person, sent_at=sent_at)
            f.event(message, MessageEvent.Kind.SENT, sent_at)
            if i % 2 == 0:
                f.event(message, MessageEvent.Kind.CLICKED, sent_at + dt.timedelta(hours=1))
    rollup.run(settle=0)


def test_the_charts_fit_a_phone_with_their_numbers(
    personas: Network,
    phone_page: Page,
    log_in: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], None],
) -> None:
    _history(personas)
    page = phone_page
    log_in(page, "hq_admin")
    page.goto("/reports/")
    width = page.viewport_size["width"] if page.viewport_size else 390
    for name in ("chart-daily", "chart-children"):
        canvas = page.locator(f"canvas#{name}")
        expect(canvas).to_have_attribute("data-drawn", "1")  # charts.js ran and Chart.js drew
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (name, box)
        assert box["width"] > width / 2 and box["height"] > 150, (name, box)
        assert canvas.evaluate(INK_JS) > 500, name
        assert canvas.get_attribute("aria-label")
        figure = page.locator(f"[data-testid={name}]")
        expect(figure.locator("figcaption")).to_be_visible()
        table = figure.locator(f"[data-testid={name}-table]")
        expect(table).to_be_hidden()  # closed until asked for (screen readers reach it in the details)
        figure.get_by_text("Numbers of this chart").click()
        expect(table).to_be_visible()
    expect(page.locator("[data-testid=chart-children-table]")).to_contain_text("Région Nord")
    expect(page.locator("[data-testid=chart-daily-table] tbody tr")).to_have_count(30)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
    expect(page.get_by_role("link", name="Download the tables (XLSX)")).to_be_visible()
    screenshot(page, "reports-charts-phone")
