"""Rendering channel templates: a channel → renderer mapping over plain-dict contexts.

Email is two-stage so that MJML is compiled once per template version × store variant, never per
recipient:

1. *Variant* (cached by version id + digest of source, store details and zone values): the MJML
   source is rendered in the sandbox with ``store`` and ``zones``; every ``{{ … }}`` that needs a
   recipient (``recipient``, ``unsubscribe_url``…) is kept verbatim for stage 2; every value printed
   in stage 1 has its braces turned into HTML entities, so a value can never become template source
   in stage 2. The result is compiled by mjml-python, and the HTML compiled once more as a Jinja
   template.
2. *Recipient*: that compiled template is rendered per recipient (a small, fast sandboxed render).

Zone values are always data in the context: a store typing ``{{ ''.__class__ }}`` gets those
characters printed, never evaluated. Other channels (print, social) register their renderer in
:data:`RENDERERS` through :func:`glocal.creatives.hooks.register_channel`.

Language: a variant is built in its reader's language (``Variant.language``: the recipient's, else the
store's, else the organisation's — :mod:`glocal.core.language`), and every renderer runs inside that
language, never the process's (an English worker and a French editor render the same bytes).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import mjml
from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from markupsafe import Markup, escape

from glocal.core.language import speaking

from . import hooks
from . import sms as smslib
from .sandbox import Literal, RenderError, SafeEnvironment, compile_source, render
from .zones import Zone, rich_text_to_plain

# Names only known per recipient: expressions using them are rendered in stage 2.
DEFERRED_NAMES = frozenset({"recipient", "unsubscribe_url", "view_online_url"})
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}


# -- filters -------------------------------------------------------------------------------------


def fallback(value: Any, default: Any = "") -> Any:
    """``{{ recipient.first_name|fallback("cher client") }}``: the default when the value is empty."""
    if value is None or str(value).strip() == "":
        return default
    return value


# The symbol of the currencies a price may be shown in (an ISO code; any other code is printed as is).
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "CAD": "$", "JPY": "¥"}
DEFAULT_CURRENCY = "EUR"


def price(value: Any, currency: str = DEFAULT_CURRENCY) -> str:
    """``{{ 9.9|price }}``: an amount as the active language writes it — "9,90 €" in French, "€9.90" in
    English — in ``currency`` (an ISO code such as "EUR", or a symbol such as "€"). A value that is no
    amount (a text, an already formatted price) is printed unchanged."""
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    digits = number_format(abs(amount), decimal_pos=2, use_l10n=True, force_grouping=True)
    code = str(currency or DEFAULT_CURRENCY).strip()
    symbol = CURRENCY_SYMBOLS.get(code.upper(), code)
    # The position of the sign is the money pattern's (core.money): "€%(amount)s", "%(amount)s\u00a0€"…
    text = pgettext("money", "€%(amount)s").replace("€", "\x00") % {"amount": digits}
    text = text.replace("\x00", symbol)
    return f"-{text}" if amount < 0 else text


def format_date(value: Any) -> str:
    """A date zone's value (``YYYY-MM-DD``) written out in the active language: "30 avril 2027" in
    French, "30 April 2027" in English; any other value unchanged."""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError:
        return str(value)
    # Day, month's name, year in every language the site speaks (Django's month names per locale).
    return date_format(day, "j F Y", use_l10n=True)


def _hours_lines(hours: Any) -> list[str]:
    """Lines like "Monday: 09:30-19:00", one per day the store gave, in the active language (the caller's
    ``translation.override``: the reader's)."""
    if not isinstance(hours, dict):
        return []
    closed = str(_("closed"))
    return [f"{DAY_LABELS[d]}: {hours.get(d) or closed}" for d in DAY_KEYS if d in hours]


def _html_env() -> SafeEnvironment:
    env = SafeEnvironment(autoescape=True)
    env.add_filter("fallback", fallback)
    env.add_filter("price", price)
    env.add_filter("nl2br", lambda v: Markup("<br>").join(escape(str(v or "")).split("\n")))
    return env


def _text_env() -> SafeEnvironment:
    env = SafeEnvironment(autoescape=False)
    env.add_filter("fallback", fallback)
    env.add_filter("price", price)
    env.add_filter("nl2br", lambda v: str(v or ""))
    return env


def _neutralise(value: Any) -> Markup:
    """Stage-1 finalize: escape, then turn braces into entities (rendered identically by mail
    clients) so that no printed value can open a ``{{``, ``{%`` or ``{#`` for stage 2."""
    if value is None:
        return Markup("")
    if isinstance(value, Literal):  # the template's own text (HQ's), kept as written
        return value
    text = str(value if isinstance(value, Markup) else escape(value))
    # Safe: ``text`` is escaped (or already-sanitised markup); only braces are replaced.
    return Markup(text.replace("{", "&#123;").replace("}", "&#125;"))  # noqa: S704


def _neutralise_text(value: Any) -> str:
    """Stage-1 finalize for text parts: a printed ``{`` becomes ``{{ '{' }}``, which stage 2 prints
    back as ``{``; the template's own text (HQ's) is kept as written."""
    if value is None:
        return ""
    if isinstance(value, Literal):
        return str(value)
    return str(value).replace("{", "{{ '{' }}")


HTML_ENV = _html_env()
TEXT_ENV = _text_env()
STAGE1_ENV = _html_env()
STAGE1_ENV.finalize = _neutralise
TEXT_STAGE1_ENV = _text_env()
TEXT_STAGE1_ENV.finalize = _neutralise_text


# -- contexts ------------------------------------------------------------------------------------


def store_context(entity: Any, language: str | None = None) -> dict[str, Any]:
    """The ``store`` variables: the entity's profile as a plain dict, plus derived fields; the opening
    hours are written in ``language`` (default: the active one), kept as ``store.language``."""
    with speaking(language):
        return _store_context(entity)


def _store_context(entity: Any) -> dict[str, Any]:
    data = entity.profile_context()
    lat, lon = getattr(entity, "latitude", None), getattr(entity, "longitude", None)
    full_address = ", ".join(p for p in [data["address"], f"{data['postcode']} {data['city']}".strip()] if p)
    if lat is not None and lon is not None:
        map_url = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
    else:
        from urllib.parse import quote

        map_url = f"https://www.openstreetmap.org/search?query={quote(full_address or data['name'])}"
    data["full_address"] = full_address
    data["map_url"] = map_url
    data["hours_lines"] = _hours_lines(data.get("opening_hours"))
    data["hours_text"] = "\n".join(data["hours_lines"])
    data["facebook"] = data.get("social_links", {}).get("facebook", "")
    data["instagram"] = data.get("social_links", {}).get("instagram", "")
    data["language"] = translation.get_language() or ""
    return data


SAMPLE_RECIPIENTS = {
    "camille": {
        "first_name": "Camille",
        "last_name": "Martin",
        "email": "camille.martin@example.test",
        "city": "Lille",
        "loyalty_points": "320",
    },
    "anonymous": {
        "first_name": "",
        "last_name": "",
        "email": "client@example.test",
        "city": "",
        "loyalty_points": "",
    },
    "long": {
        "first_name": "Marie-Geneviève-Élisabeth",
        "last_name": "de La Tour d'Auvergne-Lauraguais",
        "email": "marie.delatour@example.test",
        "city": "Saint-Rémy-de-Provence",
        "loyalty_points": "12850",
    },
}


def sample_recipient(key: str = "camille") -> dict[str, Any]:
    return dict(SAMPLE_RECIPIENTS.get(key, SAMPLE_RECIPIENTS["camille"]))


def image_url(asset_id: str, zone: Zone) -> str:
    """An image zone's value (an asset id) as a URL the channel can load: the image library registered
    in :mod:`glocal.creatives.hooks` (the brand library) resolves it; "" without one, or if unknown."""
    library = hooks.image_library()
    return library.url(asset_id, zone) if library is not None else ""


def zone_context(
    zones: list[Zone], values: dict[str, Any], *, html: bool, currency: str = DEFAULT_CURRENCY
) -> dict[str, Any]:
    """Zone values as template data. Rich text (already sanitised) is markup in HTML, plain text
    elsewhere; an image zone is its asset's URL; a price or a date is written as the active language
    writes it (the variant's: "9,90 €", "30 avril 2027"), its stored value kept as ``<key>_raw``
    ("9.90", "2027-04-30") for templates that compute with it; every other value is a plain string,
    escaped by autoescape."""
    context: dict[str, Any] = {}
    raws: dict[str, str] = {}
    for zone in zones:
        value = values.get(zone.key, "")
        if zone.type == "image":
            context[zone.key] = image_url(str(value), zone) if value else ""
        elif zone.type == "rich_text":
            # Safe: rich text was sanitised by nh3 (zones.resolve) before reaching the context.
            context[zone.key] = Markup(value) if html else rich_text_to_plain(str(value))  # noqa: S704
        elif zone.type in ("price", "date") and value not in ("", None):
            raws[f"{zone.key}_raw"] = str(value)
            context[zone.key] = price(value, currency) if zone.type == "price" else format_date(value)
        else:
            context[zone.key] = "" if value is None else str(value)
        if zone.type in ("price", "date"):
            raws.setdefault(f"{zone.key}_raw", "")
    for key, raw in raws.items():
        context.setdefault(key, raw)  # a zone really named ``<key>_raw`` keeps its own value
    return context


# -- variants and results ------------------------------------------------------------------------


@dataclass
class Variant:
    """One template version for one store with its zone values: everything but the recipient."""

    channel: str
    source: str
    zones: list[Zone]
    values: dict[str, Any]
    store: dict[str, Any]
    version_id: int | None = None
    subject: str = ""
    preheader: str = ""
    text: str = ""
    organisation: dict[str, Any] = field(default_factory=dict)
    language: str = ""  # the reader's: every render of this variant runs in it ("": the active one)

    @functools.cached_property
    def brand(self) -> dict[str, Any]:
        """The store's brand kit (through :func:`glocal.creatives.hooks.brand_kit`), once per variant."""
        return hooks.brand_kit(self.store)

    @functools.cached_property
    def key(self) -> tuple[int | None, str]:
        """Version id + digest of everything but the recipient (computed once per variant)."""
        # An image zone's value is an asset id whose current version may change: the URL of the
        # version the library serves now is part of the key, so a new upload reaches the next render.
        images = {z.key: image_url(str(self.values[z.key]), z) for z in self.zones if self._has_image(z)}
        payload = json.dumps(
            [self.channel, self.source, self.subject, self.preheader, self.text, self.values, self.store]
            + [self.language, images, self.brand],
            sort_keys=True,
            default=str,
        )
        return self.version_id, hashlib.sha256(payload.encode()).hexdigest()

    def _has_image(self, zone: Zone) -> bool:
        return zone.type == "image" and bool(self.values.get(zone.key))

    def context(self, *, html: bool) -> dict[str, Any]:
        """The store-level context (cached: the same for every recipient of this variant)."""
        cache = self.__dict__.setdefault("_contexts", {})
        if html not in cache:
            with speaking(self.language):  # prices and dates are written in the variant's language
                zone_values = zone_context(
                    self.zones, self.values, html=html, currency=self.organisation.get("currency") or "EUR"
                )
            cache[html] = {
                "store": self.store,
                "zones": zone_values,
                "organisation": self.organisation,
                "brand": self.brand,
            }
        return cache[html]


@dataclass
class Rendered:
    channel: str
    html: str = ""
    text: str = ""
    subject: str = ""
    preheader: str = ""
    sms: smslib.SmsInfo | None = None
    errors: list[RenderError] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


# -- email ---------------------------------------------------------------------------------------


def defer_recipient_expressions(source: str, env: SafeEnvironment = STAGE1_ENV) -> str:
    """Wrap each ``{{ … }}`` that uses a per-recipient name in ``{% raw %}`` for stage 1.

    Per-recipient names inside ``{% … %}`` tags are refused: stage 1 cannot evaluate them.
    """
    from jinja2 import TemplateSyntaxError

    out: list[str] = []
    span: list[str] = []
    names: set[str] = set()
    kind = None
    try:
        for lineno, ttype, value in env.lex(source):
            if ttype in ("variable_begin", "block_begin"):
                kind, span, names = ttype, [value], set()
                continue
            if kind is None:
                out.append(value)
                continue
            span.append(value)
            if ttype == "name":
                names.add(value)
            if ttype in ("variable_end", "block_end"):
                deferred = names & DEFERRED_NAMES
                text = "".join(span)
                if deferred and kind == "block_begin":
                    raise RenderError(
                        "recipient_in_tag",
                        _(
                            "Line %(line)s: per-recipient fields (%(names)s) can only be printed with "
                            "{{ … }}, not used in {%% … %%} tags; use the fallback filter instead."
                        ),
                        line=lineno,
                        names=", ".join(sorted(deferred)),
                    )
                out.append(f"{{% raw %}}{text}{{% endraw %}}" if deferred else text)
                kind = None
    except TemplateSyntaxError as exc:
        raise RenderError(
            "syntax",
            _("Template error on line %(line)s: %(detail)s"),
            line=exc.lineno or "?",
            detail=exc.message or str(exc),
        ) from None
    return "".join(out) + "".join(span if kind else [])


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


_variant_cache = _LRU(512)
_source_cache = _LRU(512)
stats = {"mjml_compiles": 0}


def _refuse_include(path: str) -> str:
    raise ValueError("mj-include is not allowed")


def compile_mjml(mjml_source: str) -> str:
    stats["mjml_compiles"] += 1
    try:
        return mjml.mjml2html(mjml_source, disable_comments=True, fonts={}, include_loader=_refuse_include)
    except (ValueError, RuntimeError) as exc:
        raise RenderError(
            "mjml", _("The MJML could not be compiled: %(detail)s"), detail=str(exc)[:200]
        ) from None


def email_variant_template(variant: Variant) -> Any:
    """Stage 1 (cached by version id + variant digest): the compiled HTML as a Jinja template."""
    key = ("email",) + variant.key
    cached = _variant_cache.get(key)
    if cached is not None:
        return cached
    stage1 = compile_source(STAGE1_ENV, defer_recipient_expressions(variant.source))
    mjml_source = render(stage1, variant.context(html=True))
    html = compile_mjml(mjml_source)
    template = compile_source(HTML_ENV, html)
    _variant_cache.put(key, template)
    return template


def _compiled(env: SafeEnvironment, source: str) -> Any:
    key = (id(env), source)
    template = _source_cache.get(key)
    if template is None:
        template = compile_source(env, source)
        _source_cache.put(key, template)
    return template


def _recipient_context(variant: Variant, recipient: dict[str, Any], links: dict[str, str], *, html: bool):
    return {**variant.context(html=html), "recipient": recipient, **links}


def _text_part(variant: Variant, part: str) -> Any:
    """Stage 1 of a text part (subject, preheader, plain text), cached per variant: a plain string
    when nothing depends on the recipient, else a compiled template for stage 2."""
    key = ("text", part, *variant.key)
    cached = _variant_cache.get(key)
    if cached is None:
        stage1 = compile_source(TEXT_STAGE1_ENV, defer_recipient_expressions(getattr(variant, part)))
        output = render(stage1, variant.context(html=False), max_output=200_000)
        cached = output if "{" not in output else compile_source(TEXT_ENV, output)
        _variant_cache.put(key, cached)
    return cached


def _finish(cached: Any, context: dict[str, Any], **limits: Any) -> str:
    return cached if isinstance(cached, str) else render(cached, context, **limits)


def render_email(variant: Variant, recipient: dict[str, Any], links: dict[str, str]) -> Rendered:
    """The email for one recipient, in the variant's language."""
    with speaking(variant.language):
        return _render_email(variant, recipient, links)


def _render_email(variant: Variant, recipient: dict[str, Any], links: dict[str, str]) -> Rendered:
    result = Rendered(channel="email", links=dict(links))
    text_ctx = _recipient_context(variant, recipient, links, html=False)
    for part in ("subject", "preheader"):
        try:
            value = _finish(_text_part(variant, part), text_ctx, max_output=1000)
            setattr(result, part, " ".join(value.split()))
        except RenderError as exc:
            result.errors.append(exc)
    try:
        template = email_variant_template(variant)
        html = render(template, _recipient_context(variant, recipient, links, html=True))
        if result.preheader:
            hidden = (
                '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">'
                f"{escape(result.preheader)}</div>"
            )
            start = html.find("<body")
            end = html.find(">", start) + 1 if start >= 0 else 0
            html = html[:end] + hidden + html[end:] if end else html
        result.html = html
    except RenderError as exc:
        result.errors.append(exc)
    try:
        if variant.text.strip():
            result.text = _finish(_text_part(variant, "text"), text_ctx).strip()
        elif result.html:
            result.text = html_to_text(result.html)
    except RenderError as exc:
        result.errors.append(exc)
    return result


def html_to_text(html: str) -> str:
    body = re.sub(r"(?is)<(head|style|title)[^>]*>.*?</\1>", "", html)
    body = re.sub(r"(?i)<(br|/p|/div|/tr|/h[1-6]|/li)\s*/?>", "\n", body)
    text = rich_text_to_plain(body)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# -- SMS -----------------------------------------------------------------------------------------


def render_sms(variant: Variant, recipient: dict[str, Any], links: dict[str, str]) -> Rendered:
    """The SMS for one recipient, in the variant's language."""
    with speaking(variant.language):
        return _render_sms(variant, recipient, links)


def _render_sms(variant: Variant, recipient: dict[str, Any], links: dict[str, str]) -> Rendered:
    result = Rendered(channel="sms", links=dict(links))
    price_per_segment = variant.organisation.get("sms_price_per_segment", "0")
    try:
        text = render(
            _compiled(TEXT_ENV, variant.source),
            _recipient_context(variant, recipient, links, html=False),
            max_output=5000,
        )
        result.text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    except RenderError as exc:
        result.errors.append(exc)
    result.sms = smslib.analyse(result.text, price_per_segment)
    return result


Renderer = Callable[[Variant, dict[str, Any], dict[str, str]], Rendered]
RENDERERS: dict[str, Renderer] = {"email": render_email, "sms": render_sms}


def render_variant(
    variant: Variant, recipient: dict[str, Any], links: dict[str, str] | None = None
) -> Rendered:
    """Render ``variant`` for ``recipient`` with its channel's renderer, in the variant's language."""
    renderer = RENDERERS.get(variant.channel)
    if renderer is None:
        result = Rendered(channel=variant.channel)
        result.errors.append(
            RenderError(
                "no_renderer", _("This channel has no renderer yet (%(channel)s)."), channel=variant.channel
            )
        )
        return result
    with speaking(variant.language):
        return renderer(variant, recipient, links or {})


def clear_caches() -> None:
    _variant_cache.clear()
    _source_cache.clear()
