"""The print render cache: the same document, for the same renderer and store, is laid out once; any
change (content, options, scope, store) is a new render; the cache is bounded and its copies are
the caller's own. Tests run with it off (config.settings.test); these turn it on."""

from __future__ import annotations

import pytest

from glocal.brand import printing, render_cache
from glocal.core.scope import activate
from glocal.creatives import rendering
from glocal.creatives.zones import Zone

SOURCE = "{# print: format=a5 bleed=3 marks=yes #}<h1>{{ zones.headline }}</h1><p>{{ store.name }}</p>"


def variant(headline: str = "Portes ouvertes", code: str = "S-A") -> rendering.Variant:
    return rendering.Variant(
        channel="print",
        source=SOURCE,
        zones=[Zone(key="headline", type="short_text")],
        values={"headline": headline},
        store={"name": "Magasin A", "code": code},
    )


@pytest.fixture
def layouts(settings, monkeypatch):
    """The cache on and empty; counts WeasyPrint layouts."""
    settings.GLOCAL_PRINT_RENDER_CACHE = True
    render_cache.clear()
    calls: list[str] = []
    real = printing._lay_out

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(printing, "_lay_out", counting)
    yield calls
    render_cache.clear()


def test_the_same_document_is_laid_out_once(layouts):
    first = printing.render_print(variant(), {})
    again = printing.render_print(variant(), {})
    assert len(layouts) == 1 and again.pdf == first.pdf and again.page_count == first.page_count
    again.refused.append("mine")  # the caller's own copy
    assert printing.render_print(variant(), {}).refused == []
    printing.render_print(variant("Soldes"), {})  # other content
    printing.render_print(variant(), {}, bleed=False)  # other options
    printing.render_print(variant(code="S-B"), {})  # another store
    assert len(layouts) == 4


def test_who_renders_is_part_of_the_key(layouts, network):
    with activate(network.scope("store_a")):
        printing.render_print(variant(), {})
        printing.render_print(variant(), {})
    with activate(network.scope("store_b")):
        printing.render_print(variant(), {})
    assert len(layouts) == 2


def test_page_images_are_rasterised_once(layouts, monkeypatch):
    if printing.shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed")
    pdf = printing.render_print(variant(), {}).pdf
    runs: list[object] = []
    real = printing._rasterise

    def counted(*a):
        runs.append(a)
        return real(*a)

    monkeypatch.setattr(printing, "_rasterise", counted)
    pages = printing.pdf_pages_png(pdf)
    assert pages and printing.pdf_pages_png(pdf) == pages and len(runs) == 1


def test_off_in_tests_by_default(monkeypatch):
    render_cache.clear()
    calls = []
    real = printing._lay_out

    def counted(*a):
        calls.append(1)
        return real(*a)

    monkeypatch.setattr(printing, "_lay_out", counted)
    printing.render_print(variant(), {})
    printing.render_print(variant(), {})
    assert len(calls) == 2 and len(render_cache.RENDERS) == 0


def test_the_cache_is_bounded_by_items_bytes_and_age(monkeypatch):
    cache = render_cache.BoundedCache(max_items=2, max_bytes=100, ttl=60)
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3, 10)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    cache.put("big", 4, 95)  # over the bytes: the oldest go
    assert cache.get("a") is None and cache.get("c") is None and cache.get("big") == 4
    cache.put("huge", 5, 101)  # larger than the whole cache: not kept
    assert cache.get("huge") is None
    now = render_cache.time.monotonic()
    monkeypatch.setattr(render_cache.time, "monotonic", lambda: now + 61)
    assert cache.get("big") is None and len(cache) == 0
