"""The block editor's document, pure: validation, compilation to MJML, and the zones it defines.

An HQ marketer builds an email from blocks (``static/creatives/blockeditor.js``); the document is JSON
stored on the version (``TemplateVersion.blocks``) and compiled on save (``services.version_save``) into
the version's MJML ``source`` and its ``zones`` list, which every other part of the platform (the
sandboxed render, the compliance checks, the stores' personalisation) reads as before.

The document::

    {"version": 1, "unsubscribe_label": "Se désabonner",
     "sections": [{"type": "section", "background": "#ffffff", "padding": 20,
                   "columns": [{"type": "column", "blocks": [{"type": "text", "html": "<p>…</p>"}]}]}]}

Content blocks: ``text``, ``image``, ``button``, ``product`` (a grid of 2–3 products), ``store`` (the
store's card from ``{{ store.* }}``), ``social`` (the store's Facebook / Instagram), ``spacer``,
``divider``. A text, image, button or product block with a ``zone`` object is editable by the stores:
it becomes one zone (several for a product grid) whose default is HQ's content; without one it is HQ's
locked content. An image chosen in the library is a locked image zone (its asset id is the default), so
that its URL is resolved when rendered, never frozen in the source.

Every compiled document ends with a locked footer: the store's name and postal address and the
unsubscribe link, which the email compliance checks require.
"""

from __future__ import annotations

import copy
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import zones as zonelib
from .findings import ERROR, Finding

DOC_VERSION = 1
CONTENT_TYPES = ("text", "image", "button", "product", "store", "social", "spacer", "divider")
BLOCK_TYPES = ("section", "column", *CONTENT_TYPES)
EDITABLE_TYPES = ("text", "image", "button", "product")
IMAGE_FORMATS = ("jpeg", "png", "webp", "gif")
ALIGNS = ("left", "center", "right")
BRAND_COLOURS = ("brand.primary", "brand.secondary", "brand.accent")
MAX_SECTIONS = 40
MAX_BLOCKS_PER_COLUMN = 30
MAX_DOCUMENT_BYTES = 300_000
MAX_TEXT = 20_000
COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ASSET_RE = re.compile(r"^[1-9][0-9]{0,11}$")
URL_RE = re.compile(r"^https?://[^\s\"'<>]+$")
# A link may also be one of the store's own addresses.
STORE_LINKS = ("website", "map_url", "facebook", "instagram")
STORE_LINK_RE = re.compile(r"^\{\{\s*store\.(" + "|".join(STORE_LINKS) + r")\s*\}\}$")

# The keys each type may hold (besides ``type`` and the editor's ``id``).
KEYS: dict[str, set[str]] = {
    "section": {"background", "padding", "columns"},
    "column": {"blocks"},
    "text": {"html", "align", "color", "size", "zone"},
    "image": {"asset", "src", "alt", "href", "width", "align", "zone"},
    "button": {"label", "href", "background", "color", "align", "zone"},
    "product": {"products", "zone"},
    "store": {"title", "map_label", "phone_label", "align"},
    "social": {"align"},
    "spacer": {"height"},
    "divider": {"color", "thickness"},
}
PRODUCT_KEYS = {"asset", "src", "name", "price", "href"}
ZONE_KEYS = {"key", "label", "roles", "required", "max_length", "formats", "min_width", "max_kb", "help"}
PRODUCT_IMAGE_STYLE = "width:100%;max-width:160px;height:auto;display:block;margin:0 auto"
TYPE_LABELS = {
    "section": _("Section"),
    "column": _("Column"),
    "text": _("Text"),
    "image": _("Image"),
    "button": _("Button"),
    "product": _("Product grid"),
    "store": _("Store card"),
    "social": _("Social links"),
    "spacer": _("Spacer"),
    "divider": _("Divider"),
}


class Problems(list[Finding]):
    """The problems of a document, each placed (section, column, block)."""

    def add(self, place: str, message: Any, **params: Any) -> None:
        self.append(
            Finding(
                code="block_invalid",
                severity=ERROR,
                where="blocks",
                message=_("%(place)s: %(problem)s"),
                params={"place": place, "problem": _Lazy(message, params)},
            )
        )


class _Lazy:
    """A message formatted with its parameters when shown (in the reader's language)."""

    def __init__(self, message: Any, params: dict[str, Any]) -> None:
        self.message, self.params = message, params

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


@dataclass
class Compiled:
    source: str
    zones: list[dict[str, Any]] = field(default_factory=list)


def blank_document() -> dict[str, Any]:
    return {"version": DOC_VERSION, "sections": []}


def parse(raw: str | None) -> tuple[Any, list[Finding]]:
    """The document from its JSON text (the editor's hidden field)."""
    problems = Problems()
    text = (raw or "").strip()
    if not text:
        return blank_document(), []
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        problems.add(
            gettext("Blocks"),
            _("the document is too large (at most %(n)s KB)."),
            n=MAX_DOCUMENT_BYTES // 1000,
        )
        return None, problems
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        problems.add(
            gettext("Blocks"),
            _("not valid JSON (line %(line)s, column %(col)s)."),
            line=exc.lineno,
            col=exc.colno,
        )
        return None, problems


# -- validation ----------------------------------------------------------------------------------


def _place(section: int, column: int | None = None, block: int | None = None, kind: str = "") -> str:
    parts = [gettext("Section %(n)s") % {"n": section}]
    if column is not None:
        parts.append(gettext("column %(n)s") % {"n": column})
    if block is not None:
        parts.append(gettext("block %(n)s") % {"n": block})
    label = ", ".join(parts)
    return f"{label} ({TYPE_LABELS[kind]})" if kind in TYPE_LABELS else label


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_keys(block: dict[str, Any], kind: str, place: str, problems: Problems) -> None:
    unknown = sorted(set(block) - KEYS[kind] - {"type", "id"})
    if unknown:
        problems.add(place, _("unknown attribute(s) %(names)s."), names=", ".join(unknown))


def _check_colour(block: dict[str, Any], name: str, place: str, problems: Problems) -> None:
    value = block.get(name, "")
    if value in ("", None) or value in BRAND_COLOURS or (isinstance(value, str) and COLOUR_RE.match(value)):
        return
    problems.add(
        place,
        _("the colour “%(value)s” must be like #1f5135 or one of %(brand)s."),
        value=str(value)[:20],
        brand=", ".join(BRAND_COLOURS),
    )


def _check_align(block: dict[str, Any], place: str, problems: Problems) -> None:
    if block.get("align", "") not in ("", *ALIGNS):
        problems.add(place, _("the alignment must be one of %(values)s."), values=", ".join(ALIGNS))


def _check_text(block: dict[str, Any], name: str, place: str, problems: Problems, limit: int = 300) -> None:
    value = block.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        problems.add(place, _("“%(name)s” must be a text of at most %(n)s characters."), name=name, n=limit)


def _check_link(value: Any, place: str, problems: Problems, *, required: bool) -> None:
    if value in ("", None) and not required:
        return
    if isinstance(value, str) and (URL_RE.match(value) or STORE_LINK_RE.match(value)):
        return
    problems.add(
        place,
        _("the link must start with https:// or http:// (or be one of %(store)s)."),
        store=", ".join(f"{{{{ store.{name} }}}}" for name in STORE_LINKS),
    )


def _check_image_source(item: dict[str, Any], place: str, problems: Problems) -> None:
    asset, src = item.get("asset", ""), item.get("src", "")
    if asset not in ("", None) and not (isinstance(asset, str) and ASSET_RE.match(asset)):
        problems.add(place, _("the image must be chosen in the library."))
    if src not in ("", None) and not (isinstance(src, str) and URL_RE.match(src)):
        problems.add(place, _("the image address must start with https:// or http://."))


def _check_zone(block: dict[str, Any], kind: str, place: str, problems: Problems) -> None:
    zone = block.get("zone")
    if zone is None:
        return
    if kind not in EDITABLE_TYPES or not isinstance(zone, dict):
        problems.add(place, _("this block cannot be edited by the stores."))
        return
    unknown = sorted(set(zone) - ZONE_KEYS)
    if unknown:
        problems.add(place, _("unknown zone attribute(s) %(names)s."), names=", ".join(unknown))
    key = zone.get("key", "")
    if key and not (isinstance(key, str) and zonelib.KEY_RE.match(key) and len(key) <= 30):
        problems.add(
            place,
            _("the zone key must be lowercase letters, digits or _ (at most 30), starting with a letter."),
        )
    roles = zone.get("roles", [])
    if not isinstance(roles, list) or not all(r in zonelib.ROLES for r in roles):
        problems.add(place, _("who may edit must be among %(roles)s."), roles=", ".join(zonelib.ROLES))
    formats = zone.get("formats", [])
    if not isinstance(formats, list) or not all(f in IMAGE_FORMATS for f in formats):
        problems.add(
            place, _("the image formats must be among %(formats)s."), formats=", ".join(IMAGE_FORMATS)
        )
    for name, low, high in (("max_length", 1, 10_000), ("min_width", 1, 5000), ("max_kb", 1, 20_000)):
        if zone.get(name) not in (None, "") and not _int_in(zone.get(name), low, high):
            problems.add(
                place,
                _("%(name)s must be a whole number from %(low)s to %(high)s."),
                name=name,
                low=low,
                high=high,
            )
    if "required" in zone and not isinstance(zone["required"], bool):
        problems.add(place, _("“required” must be true or false."))
    _check_text(zone, "label", place, problems, 120)
    content = str(block.get("html", "")) + str(block.get("label", ""))
    if "{{" in content or "{%" in content:
        problems.add(
            place,
            _("the stores' content is printed as typed: use {{ … }} only in locked content (not editable)."),
        )


def _check_text_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    _check_text(block, "html", place, problems, MAX_TEXT)
    if block.get("size") not in (None, "") and not _int_in(block.get("size"), 8, 60):
        problems.add(place, _("the text size must be from 8 to 60 px."))


def _check_image_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    _check_image_source(block, place, problems)
    _check_text(block, "alt", place, problems)
    if not str(block.get("alt", "")).strip():
        problems.add(place, _("the image needs an alternative text (read when images are off)."))
    if not block.get("asset") and not block.get("src") and block.get("zone") is None:
        problems.add(place, _("choose an image, or let the stores choose it."))
    _check_link(block.get("href"), place, problems, required=False)
    if block.get("width") not in (None, "") and not _int_in(block.get("width"), 20, 600):
        problems.add(place, _("the width must be from 20 to 600 px."))


def _check_button_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    _check_text(block, "label", place, problems, 100)
    if not str(block.get("label", "")).strip():
        problems.add(place, _("the button needs a label."))
    _check_link(block.get("href"), place, problems, required=True)


def _check_product_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    products = block.get("products")
    if not isinstance(products, list) or not 2 <= len(products) <= 3:
        problems.add(place, _("a product grid holds 2 or 3 products."))
        return
    for number, item in enumerate(products, start=1):
        where = f"{place}, " + gettext("product %(n)s") % {"n": number}
        if not isinstance(item, dict) or set(item) - PRODUCT_KEYS:
            problems.add(where, _("a product has an image, a name, a price and a link."))
            continue
        _check_image_source(item, where, problems)
        for name in ("name", "price"):
            _check_text(item, name, where, problems, 120)
        price = str(item.get("price", "")).strip()
        if price and zonelib._parse_price(price) is None:
            problems.add(where, _("the price must be a number such as 19.90."))
        _check_link(item.get("href"), where, problems, required=False)


def _check_store_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    for name in ("title", "map_label", "phone_label"):
        _check_text(block, name, place, problems, 120)


def _check_spacer_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    if not _int_in(block.get("height", 20), 4, 200):
        problems.add(place, _("the height must be from 4 to 200 px."))


def _check_divider_block(block: dict[str, Any], place: str, problems: Problems) -> None:
    if not _int_in(block.get("thickness", 1), 1, 10):
        problems.add(place, _("the thickness must be from 1 to 10 px."))


CONTENT_CHECKS = {
    "text": _check_text_block,
    "image": _check_image_block,
    "button": _check_button_block,
    "product": _check_product_block,
    "store": _check_store_block,
    "spacer": _check_spacer_block,
    "divider": _check_divider_block,
}


def check_content(block: Any, place: str, problems: Problems) -> None:
    """One content block (text, image, …)."""
    if not isinstance(block, dict) or block.get("type") not in CONTENT_TYPES:
        problems.add(place, _("unknown block; the types are %(types)s."), types=", ".join(CONTENT_TYPES))
        return
    kind = block["type"]
    _check_keys(block, kind, place, problems)
    for name in ("color", "background"):
        if name in KEYS[kind]:
            _check_colour(block, name, place, problems)
    _check_align(block, place, problems)
    _check_zone(block, kind, place, problems)
    check = CONTENT_CHECKS.get(kind)
    if check is not None:
        check(block, place, problems)


def check_section(section: Any, number: int, problems: Problems) -> None:
    place = _place(number, kind="section")
    if not isinstance(section, dict) or section.get("type") != "section":
        problems.add(place, _("the page holds sections, each with 1 to 3 columns."))
        return
    _check_keys(section, "section", place, problems)
    _check_colour(section, "background", place, problems)
    if section.get("padding") not in (None, "") and not _int_in(section.get("padding"), 0, 80):
        problems.add(place, _("the padding must be from 0 to 80 px."))
    columns = section.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= 3:
        problems.add(place, _("a section holds 1 to 3 columns."))
        return
    for c, column in enumerate(columns, start=1):
        where = _place(number, c, kind="column")
        if (
            not isinstance(column, dict)
            or column.get("type") != "column"
            or not isinstance(column.get("blocks"), list)
        ):
            problems.add(where, _("a column holds a list of blocks."))
            continue
        _check_keys(column, "column", where, problems)
        if len(column["blocks"]) > MAX_BLOCKS_PER_COLUMN:
            problems.add(where, _("at most %(n)s blocks in a column."), n=MAX_BLOCKS_PER_COLUMN)
            continue
        for b, block in enumerate(column["blocks"], start=1):
            kind = block.get("type", "") if isinstance(block, dict) else ""
            check_content(block, _place(number, c, b, kind), problems)


def validate(doc: Any) -> list[Finding]:
    """Every problem of the document, each with its place; [] when it can be compiled."""
    problems = Problems()
    if (
        not isinstance(doc, dict)
        or doc.get("version") != DOC_VERSION
        or not isinstance(doc.get("sections"), list)
    ):
        problems.add(gettext("Blocks"), _("this is not a block document (version %(v)s)."), v=DOC_VERSION)
        return problems
    unknown = sorted(set(doc) - {"version", "sections", "unsubscribe_label"})
    if unknown:
        problems.add(gettext("Blocks"), _("unknown attribute(s) %(names)s."), names=", ".join(unknown))
    _check_text(doc, "unsubscribe_label", gettext("Footer"), problems, 100)
    if len(doc["sections"]) > MAX_SECTIONS:
        problems.add(gettext("Blocks"), _("at most %(n)s sections."), n=MAX_SECTIONS)
        return problems
    for number, section in enumerate(doc["sections"], start=1):
        check_section(section, number, problems)
    if not problems:
        problems.extend(_zone_problems(doc))
    return problems


def validate_block(block: Any) -> list[Finding]:
    """A saved block: a section or one content block."""
    problems = Problems()
    if isinstance(block, dict) and block.get("type") == "section":
        check_section(block, 1, problems)
    else:
        kind = block.get("type", "") if isinstance(block, dict) else ""
        check_content(block, str(TYPE_LABELS.get(kind, gettext("Block"))), problems)
    return problems


# -- zones ---------------------------------------------------------------------------------------


def slug(text: str, fallback: str = "zone") -> str:
    """A zone key from a label: ``"Titre de l'offre"`` → ``titre_de_l_offre`` (at most 30)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:30].strip("_")
    if not key or not key[0].isalpha():
        key = f"{fallback}_{key}".strip("_")[:30]
    return key


class _Keys:
    """Zone keys: each block's own (reserved first), else derived from its label, never twice."""

    def __init__(self, doc: dict[str, Any]) -> None:
        zones = [b.get("zone") for b in iter_blocks(doc)]
        self.reserved = {z["key"] for z in zones if isinstance(z, dict) and z.get("key")}
        self.taken: set[str] = set()

    def free(self, base: str) -> str:
        key, n = base, 2
        while key in self.taken or key in self.reserved:
            key = f"{base[:27]}_{n}"
            n += 1
        self.taken.add(key)
        return key

    def own(self, zone: dict[str, Any], fallback: str) -> str:
        if zone.get("key"):
            self.taken.add(zone["key"])  # a key typed twice is parse_zones' error
            return str(zone["key"])
        return self.free(slug(str(zone.get("label", "")), fallback))


def _zone_base(zone: dict[str, Any], key: str, ztype: str, label: str) -> dict[str, Any]:
    data: dict[str, Any] = {"key": key, "type": ztype, "label": label[:120]}
    if zone.get("roles"):
        data["roles"] = list(zone["roles"])
    if zone.get("required"):
        data["required"] = True
    if zone.get("help"):
        data["help"] = str(zone["help"])[:300]
    return data


def _image_zone(zone: dict[str, Any], key: str, label: str, asset: str) -> dict[str, Any]:
    data = _zone_base(zone, key, "image", label)
    if asset:
        data["default"] = asset
    # Emitted only when set: zones.py checks them (formats among IMAGE_FORMATS, px, KB).
    for name in ("formats", "min_width", "max_kb"):
        if zone.get(name) not in (None, "", []):
            data[name] = zone[name]
    return data


def _locked_image(key: str, label: str, asset: str) -> dict[str, Any]:
    return {"key": key, "type": "image", "label": label[:120] or key, "locked": True, "default": asset}


@dataclass
class _Build:
    keys: _Keys
    zones: list[dict[str, Any]] = field(default_factory=list)

    def locked_key(self) -> str:
        return self.keys.free("hq_image")


def _zone_problems(doc: dict[str, Any]) -> list[Finding]:
    """The derived zones, checked as any zone list is (keys twice, invalid defaults…)."""
    try:
        compiled = compile_document(doc, checked=True)
    except ValueError:
        return []
    _zones, findings = zonelib.parse_zones(compiled.zones)
    return [
        Finding(code=f.code, severity=ERROR, where="blocks", message=f.message, params=f.params)
        for f in findings
    ]


# -- compilation ---------------------------------------------------------------------------------


def _attr(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    return html.escape(str(value), quote=False)


def _colour(value: Any, default: str) -> str:
    if value in BRAND_COLOURS:
        return "{{ " + str(value) + " or '" + default + "' }}"
    return str(value) if value else default


def _link(value: Any) -> str:
    return _attr(value) if value else ""


def _align(block: dict[str, Any], default: str = "left") -> str:
    return str(block.get("align") or default)


def _text_mjml(block: dict[str, Any], build: _Build) -> str:
    content = zonelib.sanitise_rich_text(str(block.get("html", "")))
    zone = block.get("zone")
    if zone is not None:
        key = build.keys.own(zone, "text")
        data = _zone_base(zone, key, "rich_text", str(zone.get("label") or key))
        if zone.get("max_length"):
            data["max_length"] = zone["max_length"]
        if content:
            data["default"] = content
        build.zones.append(data)
        content = "{{ zones." + key + " }}"
    size = block.get("size") or 16
    return (
        f'<mj-text align="{_align(block)}" color="{_colour(block.get("color"), "#1c1c1c")}" '
        f'font-size="{size}px" line-height="1.5">{content}</mj-text>'
    )


def _image_tag(src: str, alt: str, block: dict[str, Any]) -> str:
    attrs = f'src="{src}" alt="{_attr(alt)}" align="{_align(block, "center")}"'
    if block.get("width"):
        attrs += f' width="{int(block["width"])}px"'
    if block.get("href"):
        attrs += f' href="{_link(block["href"])}"'
    return f"<mj-image {attrs} />"


def _image_choice(
    item: dict[str, Any], zone: dict[str, Any] | None, key: str, label: str, build: _Build
) -> tuple[str, str]:
    """(the ``zones`` key that holds the image, the fixed address used when it is empty)."""
    asset, src = str(item.get("asset") or ""), str(item.get("src") or "")
    if zone is not None:
        build.zones.append(_image_zone(zone, key, label, asset))
        return key, _attr(src)
    if asset:
        locked = build.locked_key()
        build.zones.append(_locked_image(locked, label, asset))
        return locked, ""
    return "", _attr(src)


def _either(key: str, fixed: str, make: Any) -> str:
    """The markup for a zone's image, else the fixed address, else nothing."""
    if key and fixed:
        return (
            "{% if zones."
            + key
            + " %}"
            + make("{{ zones." + key + " }}")
            + "{% else %}"
            + make(fixed)
            + "{% endif %}"
        )
    if key:
        return "{% if zones." + key + " %}" + make("{{ zones." + key + " }}") + "{% endif %}"
    return make(fixed) if fixed else ""


def _image_mjml(block: dict[str, Any], build: _Build) -> str:
    zone = block.get("zone")
    alt = str(block.get("alt", ""))
    key = build.keys.own(zone, "image") if zone is not None else ""
    label = str((zone or {}).get("label") or alt or key)
    key, fixed = _image_choice(block, zone, key, label, build)
    return _either(key, fixed, lambda src: _image_tag(src, alt, block))


def _button_mjml(block: dict[str, Any], build: _Build) -> str:
    label = _text(block.get("label", ""))
    zone = block.get("zone")
    if zone is not None:
        key = build.keys.own(zone, "button")
        data = _zone_base(zone, key, "short_text", str(zone.get("label") or key))
        data["max_length"] = zone.get("max_length") or 40
        data["default"] = str(block.get("label", ""))[: data["max_length"]]
        build.zones.append(data)
        label = "{{ zones." + key + " }}"
    return (
        f'<mj-button href="{_link(block.get("href"))}" align="{_align(block, "center")}" '
        f'background-color="{_colour(block.get("background"), "#1f5135")}" '
        f'color="{_colour(block.get("color"), "#ffffff")}" font-size="16px" inner-padding="12px 24px">'
        f"{label}</mj-button>"
    )


def _product_cell(item: dict[str, Any], number: int, block: dict[str, Any], build: _Build, base: str) -> str:
    zone = block.get("zone")
    name, price = _text(item.get("name", "")), _text(item.get("price", ""))
    label = str((zone or {}).get("label") or base)
    image_key = f"{base}_{number}_image"
    if zone is not None:
        amount = zonelib._parse_price(str(item.get("price", "")).strip() or "x")
        defaults = {
            "name": str(item.get("name", ""))[:60],
            "price": f"{amount:.2f}" if amount is not None else "",
        }
        name_zone = _zone_base(
            zone, f"{base}_{number}_name", "short_text", f"{label} {number} · {gettext('name')}"
        )
        name_zone.update(max_length=60, default=defaults["name"])
        price_zone = _zone_base(
            zone, f"{base}_{number}_price", "price", f"{label} {number} · {gettext('price')}"
        )
        if defaults["price"]:
            price_zone["default"] = defaults["price"]
        build.zones += [name_zone, price_zone]
        name, price = "{{ zones." + name_zone["key"] + " }}", "{{ zones." + price_zone["key"] + " }}"
    key, fixed = _image_choice(item, zone, image_key, f"{label} {number} · {gettext('image')}", build)
    alt = _attr(item.get("name", ""))
    href = _link(item.get("href"))

    def picture(src: str) -> str:
        img = f'<img src="{src}" alt="{alt}" width="160" style="{PRODUCT_IMAGE_STYLE}">'
        return f'<a href="{href}">{img}</a>' if href else img

    title = f'<a href="{href}" style="color:inherit">{name}</a>' if href else name
    return (
        '<td style="width:33%;padding:6px;vertical-align:top;text-align:center">'
        f"{_either(key, fixed, picture)}"
        f'<p style="margin:8px 0 2px;font-weight:700">{title}</p><p style="margin:0">{price}</p></td>'
    )


def _product_mjml(block: dict[str, Any], build: _Build) -> str:
    zone = block.get("zone")
    base = build.keys.own(zone, "product") if zone is not None else ""
    cells = "".join(
        _product_cell(item, n, block, build, base)
        for n, item in enumerate(block.get("products", []), start=1)
    )
    return f'<mj-table table-layout="fixed" width="100%"><tr>{cells}</tr></mj-table>'


def _store_mjml(block: dict[str, Any], build: _Build) -> str:
    title = _text(block.get("title", ""))
    map_label = _text(block.get("map_label") or gettext("Directions"))
    phone_label = _text(block.get("phone_label") or gettext("Phone:"))
    heading = f'<p style="margin:0 0 6px;font-weight:700">{title}</p>' if title else ""
    return (
        f'<mj-text align="{_align(block)}" font-size="15px" line-height="1.5" color="#1c1c1c">{heading}'
        '<p style="margin:0 0 6px"><strong>{{ store.name }}</strong><br>{{ store.full_address }}</p>'
        '{% if store.hours_lines %}<p style="margin:0 0 6px">'
        "{% for line in store.hours_lines %}{{ line }}<br>{% endfor %}</p>{% endif %}"
        '{% if store.phone %}<p style="margin:0 0 6px">' + phone_label + " {{ store.phone }}</p>{% endif %}"
        '<p style="margin:0"><a href="{{ store.map_url }}">' + map_label + "</a></p></mj-text>"
    )


def _social_mjml(block: dict[str, Any], build: _Build) -> str:
    elements = "".join(
        "{% if store." + name + " %}"
        f'<mj-social-element name="{name}" href="{{{{ store.{name} }}}}" alt="{label}">'
        f"{label}</mj-social-element>"
        "{% endif %}"
        for name, label in (("facebook", "Facebook"), ("instagram", "Instagram"))
    )
    return (
        "{% if store.facebook or store.instagram %}"
        f'<mj-social mode="horizontal" align="{_align(block, "center")}" font-size="14px">'
        f"{elements}</mj-social>"
        "{% endif %}"
    )


def _spacer_mjml(block: dict[str, Any], build: _Build) -> str:
    return f'<mj-spacer height="{int(block.get("height") or 20)}px" />'


def _divider_mjml(block: dict[str, Any], build: _Build) -> str:
    return (
        f'<mj-divider border-color="{_colour(block.get("color"), "#d6d6d6")}" '
        f'border-width="{int(block.get("thickness") or 1)}px" />'
    )


COMPILERS = {
    "text": _text_mjml,
    "image": _image_mjml,
    "button": _button_mjml,
    "product": _product_mjml,
    "store": _store_mjml,
    "social": _social_mjml,
    "spacer": _spacer_mjml,
    "divider": _divider_mjml,
}


def _section_mjml(section: dict[str, Any], build: _Build) -> str:
    padding = section.get("padding")
    padding = 20 if padding in (None, "") else int(padding)
    columns = []
    for column in section["columns"]:
        inner = "\n".join("        " + COMPILERS[b["type"]](b, build) for b in column["blocks"])
        columns.append(
            f"      <mj-column>\n{inner}\n      </mj-column>" if inner else "      <mj-column></mj-column>"
        )
    body = "\n".join(columns)
    return (
        f'    <mj-section background-color="{_colour(section.get("background"), "#ffffff")}" '
        f'padding="{padding}px 0">\n{body}\n    </mj-section>'
    )


def footer_mjml(unsubscribe_label: str) -> str:
    """The locked footer every block document ends with: what the email compliance checks require."""
    label = _text(unsubscribe_label or gettext("Unsubscribe"))
    return (
        '    <mj-section padding="12px 0">\n      <mj-column>\n'
        '        <mj-divider border-color="#d6d6d6" border-width="1px" />\n'
        '        <mj-text align="center" font-size="12px" line-height="1.5" color="#555555">'
        "{{ store.name }} — {{ store.full_address }}<br>"
        '<a href="{{ unsubscribe_url }}" style="color:#555555">' + label + "</a></mj-text>\n"
        "      </mj-column>\n    </mj-section>"
    )


def compile_document(doc: dict[str, Any], *, checked: bool = False) -> Compiled:
    """The MJML source and the zones of a document :func:`validate` accepted (``checked``: by the
    caller; else it is validated here and a ValueError raised on the first problem)."""
    if not checked:
        problems = validate(doc)
        if problems:
            raise ValueError(problems[0].text)
    build = _Build(keys=_Keys(doc))
    sections = [_section_mjml(section, build) for section in doc["sections"]]
    sections.append(footer_mjml(str(doc.get("unsubscribe_label", ""))))
    source = (
        '<mjml>\n  <mj-head>\n    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" />'
        '</mj-attributes>\n  </mj-head>\n  <mj-body background-color="#f4f4f4">\n'
        + "\n".join(sections)
        + "\n  </mj-body>\n</mjml>\n"
    )
    return Compiled(source=source, zones=build.zones)


def iter_blocks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every content block of the document, in order."""
    return [
        block
        for section in doc.get("sections", [])
        for column in section.get("columns", [])
        for block in column.get("blocks", [])
    ]


def compile_json(raw: str | None) -> tuple[Compiled | None, Any, list[Finding]]:
    """(compiled, document, problems) from the editor's JSON text."""
    doc, problems = parse(raw)
    if problems:
        return None, None, problems
    problems = validate(doc)
    if problems:
        return None, doc, problems
    return compile_document(doc, checked=True), doc, []


def duplicate(block: dict[str, Any]) -> dict[str, Any]:
    """A copy of a block whose zone keys will be derived afresh (a saved block inserted twice)."""
    copied = copy.deepcopy(block)
    for inner in [copied, *[b for c in copied.get("columns", []) for b in c.get("blocks", [])]]:
        if isinstance(inner.get("zone"), dict):
            inner["zone"].pop("key", None)
    return copied
