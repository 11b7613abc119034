"""Zone rules, pure: definitions and values are plain data; no ORM, no request.

A template version declares zones (a JSON list). HQ locks some; stores fill the editable ones. Every
write of zone values goes through :func:`validate_values`, which refuses locked zones, unknown keys,
zones the role may not edit, and values that break the zone's constraints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import nh3
from django.utils.translation import gettext_lazy as _

from .findings import ERROR, Finding

ZONE_TYPES = ("short_text", "rich_text", "image", "choice", "date", "price", "offer_code")
# The zone types by their names in the reader's language (the codes are the JSON's).
ZONE_TYPE_LABELS = {
    "short_text": _("Short text"),
    "rich_text": _("Formatted text"),
    "image": _("Image"),
    "choice": _("Choice"),
    "date": _("Date"),
    "price": _("Price"),
    "offer_code": _("Offer code"),
}
ROLES = ("hq_admin", "hq_marketer", "regional_manager", "local_manager", "local_staff")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OFFER_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# A zone's attributes besides its key and type, in the order the editor's help lists them.
ZONE_ATTRIBUTES = (
    "label",
    "required",
    "default",
    "help",
    "roles",
    "locked",
    "max_length",
    "choices",
    "tag",
    "allow_upload",
    "min",
    "max",
    "formats",
    "min_width",
    "max_kb",
)
ALLOWED_ATTRIBUTES = {"key", "type", *ZONE_ATTRIBUTES}
SHORT_TEXT_MAX = 500
# An image zone's allowed formats (``formats``), by code; their MIME types and names as people read them.
IMAGE_FORMATS = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
IMAGE_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}
MAX_MIN_WIDTH = 10_000  # pixels
MAX_MAX_KB = 50_000  # kilobytes
RICH_TEXT_MAX = 10_000

# Rich text allow-list: inline formatting, paragraphs, lists and links (http, https, mailto, tel).
RICH_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "a", "ul", "ol", "li"}
RICH_ATTRIBUTES = {"a": {"href", "title"}}
RICH_URL_SCHEMES = {"http", "https", "mailto", "tel"}


@dataclass(frozen=True)
class Zone:
    key: str
    type: str
    label: str = ""
    required: bool = False
    default: Any = ""
    help: str = ""
    roles: tuple[str, ...] = ()  # empty: every role that may personalise
    locked: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    tag: str = ""
    allow_upload: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    formats: tuple[str, ...] = ()  # image zones: the allowed formats (IMAGE_FORMATS codes); empty: any
    min_width: int | None = None  # image zones: the narrowest image accepted, in pixels
    max_kb: int | None = None  # image zones: the heaviest image accepted, in kilobytes (1 KB = 1024 bytes)
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def title(self) -> str:
        return self.label or self.key

    @property
    def type_label(self) -> str:
        return str(ZONE_TYPE_LABELS.get(self.type, self.type))

    @property
    def role_labels(self) -> list[str]:
        """The roles that may fill the zone, by their names."""
        from glocal.core.roles import Role

        return [str(Role(role).label) if role in Role.values else role for role in self.roles]

    @property
    def limit(self) -> int | None:
        if self.type == "short_text":
            return self.max_length or 100
        if self.type == "rich_text":
            return self.max_length or RICH_TEXT_MAX
        if self.type == "offer_code":
            return 40
        return None

    def editable_by(self, role: str) -> bool:
        return not self.locked and (not self.roles or role in self.roles)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "type": self.type}
        for name in ("label", "help", "tag"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        for name in ("required", "locked", "allow_upload"):
            if getattr(self, name):
                data[name] = True
        if self.default not in ("", None):
            data["default"] = self.default
        if self.roles:
            data["roles"] = list(self.roles)
        if self.max_length is not None:
            data["max_length"] = self.max_length
        if self.choices:
            data["choices"] = list(self.choices)
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                data[name] = str(getattr(self, name))
        data.update(self._image_rules_dict())
        return data

    def _image_rules_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"formats": list(self.formats)} if self.formats else {}
        for name in ("min_width", "max_kb"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data

    @property
    def has_image_rules(self) -> bool:
        return bool(self.formats) or self.min_width is not None or self.max_kb is not None


def sanitise_rich_text(html: str) -> str:
    """Allow-listed HTML only: no script, no style, no event handlers, no javascript:/data: URLs."""
    return nh3.clean(
        html,
        tags=RICH_TAGS,
        attributes=RICH_ATTRIBUTES,
        url_schemes=RICH_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def rich_text_to_plain(html: str) -> str:
    import html as htmllib

    spaced = re.sub(r"(?i)<(br|/p|/li)\s*/?>", "\n", html)
    return htmllib.unescape(nh3.clean(spaced, tags=set())).strip()


def _error(code: str, where: str, message: Any, **params: Any) -> Finding:
    return Finding(code=code, severity=ERROR, where=where, message=message, params=params)


def parse_zones(data: Any) -> tuple[list[Zone], list[Finding]]:
    """Validate zone definitions (the JSON HQ writes) and build :class:`Zone` objects."""
    if data in (None, ""):
        return [], []
    if not isinstance(data, list):
        return [], [_error("zones_not_list", "zones", _("Zone definitions must be a JSON list of objects."))]
    zones: list[Zone] = []
    errors: list[Finding] = []
    seen: set[str] = set()
    for index, item in enumerate(data, start=1):
        where = f"zones[{index}]"
        if not isinstance(item, dict):
            errors.append(_error("zone_not_object", where, _("Zone %(n)s is not an object."), n=index))
            continue
        key = item.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors.append(
                _error(
                    "zone_bad_key",
                    where,
                    _("Zone %(n)s: the key must be lowercase letters, digits or _ (at most 40)."),
                    n=index,
                )
            )
            continue
        where = key
        if key in seen:
            errors.append(_error("zone_duplicate", where, _("Zone “%(key)s” is defined twice."), key=key))
            continue
        seen.add(key)
        unknown = sorted(set(item) - ALLOWED_ATTRIBUTES)
        if unknown:
            errors.append(
                _error(
                    "zone_unknown_attribute",
                    where,
                    _("Zone “%(key)s”: unknown attribute(s) %(names)s."),
                    key=key,
                    names=", ".join(unknown),
                )
            )
            continue
        ztype = item.get("type")
        if ztype not in ZONE_TYPES:
            errors.append(
                _error(
                    "zone_bad_type",
                    where,
                    _("Zone “%(key)s”: the type must be one of %(types)s."),
                    key=key,
                    types=", ".join(ZONE_TYPES),
                )
            )
            continue
        problems = _check_definition(key, ztype, item)
        if problems:
            errors.extend(problems)
            continue
        zone = Zone(
            key=key,
            type=ztype,
            label=str(item.get("label", ""))[:120],
            required=bool(item.get("required", False)),
            default=item.get("default", ""),
            help=str(item.get("help", ""))[:300],
            roles=tuple(item.get("roles", ())),
            locked=bool(item.get("locked", False)),
            max_length=item.get("max_length"),
            choices=tuple(item.get("choices", ())),
            tag=str(item.get("tag", "")),
            allow_upload=bool(item.get("allow_upload", False)),
            min=Decimal(str(item["min"])) if "min" in item else None,
            max=Decimal(str(item["max"])) if "max" in item else None,
            formats=tuple(item.get("formats", ())),
            min_width=item.get("min_width"),
            max_kb=item.get("max_kb"),
        )
        if zone.default not in ("", None):
            value, problem = _clean_value(zone, zone.default)
            if problem is not None:
                errors.append(
                    _error(
                        "zone_bad_default",
                        key,
                        _("Zone “%(key)s”: the default value is invalid: %(problem)s"),
                        key=key,
                        problem=problem.text,
                    )
                )
                continue
            zone = Zone(**{**zone.__dict__, "default": value})
        zones.append(zone)
    return zones, errors


def _check_max_length(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    """max_length: text zones only, a whole number up to the type's cap."""
    max_length = item.get("max_length")
    if max_length is None:
        return []
    cap = RICH_TEXT_MAX if ztype == "rich_text" else SHORT_TEXT_MAX
    if (
        ztype not in ("short_text", "rich_text")
        or not isinstance(max_length, int)
        or isinstance(max_length, bool)
    ):
        return [
            _error(
                "zone_bad_max_length",
                key,
                _("Zone “%(key)s”: max_length applies to text zones and must be a whole number."),
                key=key,
            )
        ]
    if not 1 <= max_length <= cap:
        return [
            _error(
                "zone_bad_max_length",
                key,
                _("Zone “%(key)s”: max_length must be between 1 and %(cap)s."),
                key=key,
                cap=cap,
            )
        ]
    return []


def _check_choices(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    """A choice zone lists its choices (non-empty texts, at most 200 characters); no other zone has any."""
    choices = item.get("choices")
    if ztype != "choice":
        if choices is None:
            return []
        return [
            _error("zone_bad_choices", key, _("Zone “%(key)s”: only choice zones have choices."), key=key)
        ]
    if (
        not isinstance(choices, list)
        or not choices
        or not all(isinstance(c, str) and c.strip() and len(c) <= 200 for c in choices)
    ):
        return [
            _error(
                "zone_bad_choices",
                key,
                _("Zone “%(key)s”: choices must be a non-empty list of texts."),
                key=key,
            )
        ]
    return []


def _check_roles(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    roles = item.get("roles", [])
    if isinstance(roles, list) and all(r in ROLES for r in roles):
        return []
    return [
        _error(
            "zone_bad_roles",
            key,
            _("Zone “%(key)s”: roles must be a list among %(roles)s."),
            key=key,
            roles=", ".join(ROLES),
        )
    ]


def _check_flags(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    return [
        _error("zone_bad_flag", key, _("Zone “%(key)s”: %(name)s must be true or false."), key=key, name=name)
        for name in ("required", "locked", "allow_upload")
        if name in item and not isinstance(item[name], bool)
    ]


def _bound_problem(key: str, ztype: str, name: str, bound: Any) -> Finding | None:
    """A min or max: on a price zone only, and a number."""
    if ztype != "price":
        return _error(
            "zone_bad_bound", key, _("Zone “%(key)s”: %(name)s applies to price zones."), key=key, name=name
        )
    try:
        Decimal(str(bound))
    except InvalidOperation:
        return _error(
            "zone_bad_bound", key, _("Zone “%(key)s”: %(name)s must be a number."), key=key, name=name
        )
    return None


def _check_bounds(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    problems = (_bound_problem(key, ztype, name, item[name]) for name in ("min", "max") if name in item)
    return [problem for problem in problems if problem is not None]


def _check_texts(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    return [
        _error("zone_bad_text", key, _("Zone “%(key)s”: %(name)s must be text."), key=key, name=name)
        for name in ("label", "help", "tag")
        if name in item and not isinstance(item[name], str)
    ]


def _check_locked_default(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    """A locked, required zone must come with its value: no store can fill it."""
    if item.get("locked") and item.get("required") and item.get("default") in (None, ""):
        return [
            _error(
                "zone_locked_empty",
                key,
                _("Zone “%(key)s” is locked and required: give it a default value."),
                key=key,
            )
        ]
    return []


def _check_image_rules(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    """formats (a list among IMAGE_FORMATS), min_width and max_kb (whole numbers): image zones only."""
    names = [name for name in ("formats", "min_width", "max_kb") if name in item]
    if names and ztype != "image":
        return [
            _error(
                "zone_bad_image_rule",
                key,
                _("Zone “%(key)s”: %(name)s applies to image zones."),
                key=key,
                name=", ".join(names),
            )
        ]
    problems: list[Finding] = []
    formats = item.get("formats")
    if "formats" in item and (
        not isinstance(formats, list)
        or not formats
        or not all(f in IMAGE_FORMATS for f in formats)
        or len(set(formats)) != len(formats)
    ):
        problems.append(
            _error(
                "zone_bad_image_rule",
                key,
                _("Zone “%(key)s”: formats must be a list among %(formats)s."),
                key=key,
                formats=", ".join(IMAGE_FORMATS),
            )
        )
    for name, cap in (("min_width", MAX_MIN_WIDTH), ("max_kb", MAX_MAX_KB)):
        value = item.get(name)
        if name in item and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap):
            problems.append(
                _error(
                    "zone_bad_image_rule",
                    key,
                    _("Zone “%(key)s”: %(name)s must be a whole number between 1 and %(cap)s."),
                    key=key,
                    name=name,
                    cap=cap,
                )
            )
    return problems


DEFINITION_CHECKS = (
    _check_max_length,
    _check_choices,
    _check_roles,
    _check_flags,
    _check_bounds,
    _check_texts,
    _check_locked_default,
    _check_image_rules,
)


def _check_definition(key: str, ztype: str, item: dict[str, Any]) -> list[Finding]:
    """Every problem of one zone's attributes, in the order of :data:`DEFINITION_CHECKS`."""
    return [finding for check in DEFINITION_CHECKS for finding in check(key, ztype, item)]


def _too_long(zone: Zone, limit: int, count: int) -> tuple[None, Finding]:
    return None, _error(
        "too_long",
        zone.key,
        _("“%(zone)s” is limited to %(limit)s characters; %(count)s were typed."),
        zone=zone.title,
        limit=limit,
        count=count,
    )


def _clean_short_text(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """Control characters dropped; within the zone's limit."""
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", raw)
    limit = zone.limit or 0
    if len(value) > limit:
        return _too_long(zone, limit, len(value))
    return value, None


def _clean_rich_text(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """Allow-listed HTML; the limit counts the visible text (and the markup may be 4 times that)."""
    value = sanitise_rich_text(raw)
    limit = zone.limit or 0
    length = len(rich_text_to_plain(value))
    if length > limit or len(value) > 4 * limit:
        return _too_long(zone, limit, length)
    return value, None


def _clean_choice(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    if raw not in zone.choices:
        return None, _error(
            "bad_choice",
            zone.key,
            _("“%(zone)s” must be one of: %(choices)s."),
            zone=zone.title,
            choices=", ".join(zone.choices),
        )
    return raw, None


def _clean_date(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """YYYY-MM-DD, a real day."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError(raw)
        return date.fromisoformat(raw).isoformat(), None
    except ValueError:
        return None, _error(
            "bad_date", zone.key, _("“%(zone)s” must be a date (YYYY-MM-DD)."), zone=zone.title
        )


def _parse_price(raw: Any) -> Decimal | None:
    """``19,90 €``, ``1 234.5``… → a finite, non-negative amount with at most two decimals, else None."""
    text = str(raw).strip().replace(",", ".").replace("\u00a0", "").replace(" ", "").rstrip("€")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount


def _clean_price(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """A price within the zone's bounds (0 to 1,000,000 by default), as ``"19.90"``."""
    amount = _parse_price(raw)
    if amount is None:
        return None, _error(
            "bad_price", zone.key, _("“%(zone)s” must be a price such as 19.90."), zone=zone.title
        )
    if (
        amount > Decimal("1000000")
        or (zone.min is not None and amount < zone.min)
        or (zone.max is not None and amount > zone.max)
    ):
        return None, _error(
            "price_out_of_range",
            zone.key,
            _("“%(zone)s” must be between %(min)s and %(max)s."),
            zone=zone.title,
            min=zone.min if zone.min is not None else 0,
            max=zone.max if zone.max is not None else 1000000,
        )
    return str(amount.quantize(Decimal("0.01"))), None


def _clean_offer_code(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    if not OFFER_CODE_RE.match(raw):
        return None, _error(
            "bad_offer_code",
            zone.key,
            _("“%(zone)s” must be letters, digits, - or _ (at most 40)."),
            zone=zone.title,
        )
    return raw, None


def _clean_image(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """An image is the id of a library asset."""
    if not re.fullmatch(r"[1-9][0-9]{0,11}", raw):
        return None, _error(
            "bad_image", zone.key, _("“%(zone)s” must be an image of the library."), zone=zone.title
        )
    return raw, None


@dataclass(frozen=True)
class ImageInfo:
    """What an image zone's rules look at in a library image (its current version)."""

    format: str  # an IMAGE_FORMATS code ("jpeg"…), or "" when the type is another
    width: int | None  # pixels
    size_bytes: int

    @classmethod
    def from_content_type(cls, content_type: str, width: int | None, size_bytes: int) -> ImageInfo:
        by_type = {mime: code for code, mime in IMAGE_FORMATS.items()}
        return cls(format=by_type.get(content_type.lower(), ""), width=width, size_bytes=size_bytes)


def _or_list(items: list[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return _("%(items)s or %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}


def image_rules_text(zone: Zone) -> str:
    """The zone's image rules as one sentence in the active language, e.g. "This zone accepts JPEG or PNG
    images at least 600 px wide, at most 500 KB."; "" when it has none."""
    if not zone.has_image_rules:
        return ""
    what = (
        _("%(formats)s images") % {"formats": _or_list([IMAGE_FORMAT_NAMES[f] for f in zone.formats])}
        if zone.formats
        else str(_("images of any format"))
    )
    if zone.min_width is not None:
        what += " " + _("at least %(width)s px wide") % {"width": zone.min_width}
    if zone.max_kb is not None:
        what += ", " + _("at most %(kb)s KB") % {"kb": zone.max_kb}
    return _("This zone accepts %(what)s.") % {"what": what}


def image_fits(zone: Zone, info: ImageInfo) -> bool:
    """Does a library image meet the zone's format, width and weight rules?"""
    return (
        (not zone.formats or info.format in zone.formats)
        and (zone.min_width is None or (info.width or 0) >= zone.min_width)
        and (zone.max_kb is None or info.size_bytes <= zone.max_kb * 1024)
    )


def image_rule_problem(zone: Zone, info: ImageInfo) -> Finding | None:
    """An error naming the zone's rules when ``info`` does not meet them, else None."""
    if image_fits(zone, info):
        return None
    return _error(
        "image_rules", zone.key, _("“%(zone)s”: %(rules)s"), zone=zone.title, rules=image_rules_text(zone)
    )


VALUE_CLEANERS = {
    "short_text": _clean_short_text,
    "rich_text": _clean_rich_text,
    "choice": _clean_choice,
    "date": _clean_date,
    "price": _clean_price,
    "offer_code": _clean_offer_code,
    "image": _clean_image,
}
TEXT_VALUED = ("short_text", "rich_text", "choice", "date", "offer_code", "image")  # a price may be a number


def _clean_value(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """Normalise one value for ``zone``; returns (value, None) or (None, error). Empty is always fine
    here (whether the zone is required is the caller's rule)."""
    if raw is None:
        raw = ""
    if zone.type in TEXT_VALUED:
        if not isinstance(raw, str):
            return None, _error("bad_value", zone.key, _("“%(zone)s” must be text."), zone=zone.title)
        raw = raw.strip()
    if raw == "":
        return "", None
    cleaner = VALUE_CLEANERS.get(zone.type)
    if cleaner is None:
        return None, _error("bad_value", zone.key, _("“%(zone)s” has an unknown type."), zone=zone.title)
    return cleaner(zone, raw)


def clean_value(zone: Zone, raw: Any) -> tuple[Any, Finding | None]:
    """One value for ``zone``, normalised: (value, None) or (None, the problem)."""
    return _clean_value(zone, raw)


def editable_zones(zones: list[Zone], role: str) -> list[Zone]:
    return [z for z in zones if z.editable_by(role)]


def validate_values(
    zones: list[Zone], values: dict[str, Any], role: str
) -> tuple[dict[str, Any], list[Finding]]:
    """Check a write of zone values by ``role``. Returns (clean values, errors).

    Any write to a locked zone, to a zone the role may not edit, or to an unknown key is refused
    (an error, never silently dropped); so is a value that breaks its zone's constraints. The
    caller writes nothing when errors is not empty.
    """
    by_key = {z.key: z for z in zones}
    clean: dict[str, Any] = {}
    errors: list[Finding] = []
    if not isinstance(values, dict):
        return {}, [_error("bad_values", "zones", _("Zone values must be an object."))]
    for key, raw in values.items():
        zone = by_key.get(key)
        if zone is None:
            errors.append(
                _error(
                    "unknown_zone",
                    str(key)[:40],
                    _("“%(key)s” is not a zone of this template."),
                    key=str(key)[:40],
                )
            )
            continue
        if zone.locked:
            errors.append(
                _error(
                    "locked_zone",
                    key,
                    _("“%(zone)s” is locked by head office and cannot be changed."),
                    zone=zone.title,
                )
            )
            continue
        if not zone.editable_by(role):
            errors.append(
                _error("zone_not_editable", key, _("Your role may not edit “%(zone)s”."), zone=zone.title)
            )
            continue
        value, problem = _clean_value(zone, raw)
        if problem is not None:
            errors.append(problem)
            continue
        clean[key] = value
    for zone in zones:
        if zone.required and zone.editable_by(role) and key_missing(zone, clean, values):
            errors.append(_error("required", zone.key, _("“%(zone)s” is required."), zone=zone.title))
    return clean, errors


def key_missing(zone: Zone, clean: dict[str, Any], submitted: dict[str, Any]) -> bool:
    if zone.key in submitted and zone.key not in clean:
        return False  # already reported as invalid
    return clean.get(zone.key, zone.default) in ("", None)


def resolve(zones: list[Zone], stored: dict[str, Any]) -> dict[str, Any]:
    """The values a render uses: locked zones always take HQ's default; others the store's value
    (re-validated, so a value that became invalid falls back to the default) or the default."""
    resolved: dict[str, Any] = {}
    for zone in zones:
        value: Any = zone.default
        if not zone.locked and zone.key in stored:
            cleaned, problem = _clean_value(zone, stored[zone.key])
            if problem is None and cleaned not in ("", None):
                value = cleaned
        if zone.type == "rich_text" and value:
            value = sanitise_rich_text(str(value))
        resolved[zone.key] = "" if value is None else value
    return resolved
