"""No inline script anywhere: the Content-Security-Policy (``script-src 'self'``, no 'unsafe-inline', no
'unsafe-eval') would refuse it, so a page relying on one would silently break.

Two checks: every template file under ``glocal/**/templates`` is scanned as written, and the pages
themselves are rendered (a crawl of the persona network's pages as HQ and as a store, following the links
of each page, plus the public pages): what tags, widgets and Python-built HTML add is scanned too.
Scripts come from our static files only; htmx attributes that evaluate code (``hx-on``, ``hx-vars``,
``js:``/``javascript:`` values) count as inline script.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]

EVENT_ATTRIBUTE = re.compile(r"^on[a-z]+$")
CODE_ATTRIBUTE = re.compile(r"^(data-)?hx-(on\b|on:|on-|vars$)")
CODE_VALUE = re.compile(r"^\s*(javascript|js|vbscript):", re.I)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


class InlineCode(HTMLParser):
    """Collects every inline script of one HTML document (with its line)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_inline_script: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        names = dict(attrs)
        if tag == "script":
            kind = (names.get("type") or "").lower()
            data_block = kind in ("application/json", "application/ld+json", "text/template")
            if not names.get("src") and not data_block:
                self._in_inline_script = line
            elif names.get("src") and urlsplit(str(names["src"])).netloc:
                self.found.append(f"line {line}: a script from another site ({names['src']})")
        for name, value in attrs:
            if EVENT_ATTRIBUTE.match(name):
                self.found.append(f"line {line}: {name}= event handler on <{tag}>")
            elif CODE_ATTRIBUTE.match(name):
                self.found.append(f"line {line}: {name} evaluates code on <{tag}>")
            elif value and CODE_VALUE.match(value) and (name in URL_ATTRIBUTES or name.startswith("hx-")):
                self.found.append(f"line {line}: {name}={value[:30]!r} on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_inline_script is not None:
            self.found.append(f"line {self._in_inline_script}: inline <script>")
            self._in_inline_script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def test_the_scanner_finds_each_kind_of_inline_code():
    page = """<p>
<script>alert(1)</script>
<script src="/static/glocal/glocal.js"></script>
<script type="application/json" id="data">{"a": 1}</script>
<button onclick="go()">x</button> <a href="javascript:go()">y</a> <a href="/ok">ok</a>
<div hx-on:click="go()"></div> <div hx-vals='js:{a: go()}'></div> <div hx-vars="a:1"></div>
<script src="https://cdn.example/x.js"></script>
</p>"""
    assert inline_code(page) == [
        "line 2: inline <script>",
        "line 5: onclick= event handler on <button>",
        "line 5: href='javascript:go()' on <a>",
        "line 6: hx-on:click evaluates code on <div>",
        "line 6: hx-vals='js:{a: go()}' on <div>",
        "line 6: hx-vars evaluates code on <div>",
        "line 7: a script from another site (https://cdn.example/x.js)",
    ]


def template_files() -> list[Path]:
    return sorted(
        p for p in (ROOT / "glocal").rglob("templates/**/*") if p.is_file() and p.suffix in (".html", ".svg")
    )


def test_no_template_file_has_inline_code():
    found = []
    files = template_files()
    assert len(files) > 100  # the scan does see the templates
    for path in files:
        text = re.sub(r"{#.*?#}", "", path.read_text(encoding="utf-8"), flags=re.S)  # Django comments
        found += [f"{path.relative_to(ROOT)} {problem}" for problem in inline_code(text)]
    assert found == []


def test_static_scripts_need_no_eval():
    """``script-src 'self'`` has no 'unsafe-eval': our own scripts never build code from strings."""
    pattern = re.compile(r"\beval\(|\bnew Function\(|setTimeout\(\s*['\"]|setInterval\(\s*['\"]")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "glocal").rglob("static/**/*.js"))
        if "vendor" not in path.parts
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --- the rendered pages ---------------------------------------------------------------------------------

SKIP = ("/accounts/logout", "/static/", "/media/", "/i18n/", "/sw.js", "/manifest.webmanifest")
MAX_PAGES = 120


def crawl(client, start: list[str]) -> tuple[int, list[str]]:
    """GET pages from ``start``, following same-site links (GET writes nothing: test_get_writes_nothing),
    up to MAX_PAGES; returns how many HTML pages were scanned and what was found."""
    queue, seen, found, pages = deque(start), set(start), [], 0
    while queue and pages < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        assert (
            "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        )
        html = response.content.decode()
        found += [f"{url} {problem}" for problem in inline_code(html)]
        for href in re.findall(r'href="([^"#]+)', html):
            link = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(link)
            if parts.netloc or not link.startswith("/") or link.startswith(SKIP) or "export" in link:
                continue
            key = parts.path + ("?" + parts.query if parts.query else "")
            if key not in seen:
                seen.add(key)
                queue.append(key)
    return pages, found


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["hq_admin", "store_a"])
def test_rendered_pages_have_no_inline_code(persona, network, login):
    pages, found = crawl(login(network, persona), ["/"])
    assert pages >= 15  # the crawl did go through the application
    assert found == []


@pytest.mark.django_db
def test_public_pages_have_no_inline_code(network, client):
    from glocal.targeting import leads

    form = leads.lead_form_for(network.store_a)
    pages, found = crawl(
        client,
        [
            "/accounts/login/",
            "/accounts/password-reset/",
            f"/l/k/{form.kiosk_token}/",
            f"/l/f/{form.embed_token}/",
        ],
    )
    assert pages >= 3
    assert found == []
