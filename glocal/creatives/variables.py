"""Unknown variables are errors at authoring: the names a template's source uses, read from Jinja2's AST
(``jinja2.meta.find_undeclared_variables`` for top-level names, ``Getattr``/``Getitem`` nodes for the
fields of the known objects), against the context every channel renders with.

Known: ``store`` (the store profile and its derived fields, :func:`rendering.store_context`), ``zones``
(the template's zone definitions), ``recipient`` (the per-recipient fields a send passes), ``brand`` (the
kit's names, registered by the brand library: :data:`hooks.BRAND_FIELDS`), the links
(``unsubscribe_url``, ``view_online_url``), ``organisation``, and the print channel's extras. A typo
(``{{ brand.primry }}``) would otherwise render empty with no error.
"""

from __future__ import annotations

import functools
from typing import Any

from django.utils.translation import gettext_lazy as _
from jinja2 import TemplateSyntaxError, meta, nodes

from . import hooks
from .findings import ERROR, Finding
from .zones import Zone

RECIPIENT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "city",
    "postcode",
    "loyalty_points",
    "address",
    "address_line2",
)
LINKS = ("unsubscribe_url", "view_online_url")
COMMON = ("store", "zones", "recipient", "brand", "organisation", *LINKS)
CHANNEL_EXTRAS = {"print": ("images", "qr", "qr_url", "page")}
# Names Jinja2 provides inside templates (a for loop's ``loop``, the environment's globals).
JINJA_NAMES = ("loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none")


@functools.cache
def store_fields() -> tuple[str, ...]:
    """The ``store`` names: an empty store's context gives every key (profile and derived fields)."""
    from glocal.network.models import Entity

    from .rendering import store_context

    return tuple(sorted(store_context(Entity())))


def known_fields(zones: list[Zone]) -> dict[str, tuple[str, ...]]:
    """The objects whose fields are checked, with their fields."""
    return {
        "store": store_fields(),
        "zones": tuple(sorted(z.key for z in zones)),
        "recipient": tuple(sorted(RECIPIENT_FIELDS)),
        "brand": tuple(sorted(hooks.BRAND_FIELDS)),
    }


def _field_uses(ast: nodes.Template, objects: set[str]) -> list[tuple[str, str]]:
    """(object, field) for each ``object.field`` / ``object["field"]`` of a checked object."""
    uses: list[tuple[str, str]] = []
    found: Any
    for found in ast.find_all((nodes.Getattr, nodes.Getitem)):
        node: Any = found
        base = node.node
        if not isinstance(base, nodes.Name) or base.name not in objects or base.ctx != "load":
            continue
        if isinstance(node, nodes.Getattr):
            uses.append((base.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            uses.append((base.name, node.arg.value))
    return uses


def _assigned(ast: nodes.Template) -> set[str]:
    """Names the template assigns itself ({% set %}, {% for %}, macros): their fields are its own."""
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}


def _unknown(name: str, known: list[str] | tuple[str, ...], where: str) -> Finding:
    return Finding(
        code="unknown_variable",
        severity=ERROR,
        where=where,
        message=_("Unknown variable %(name)s — known: %(known)s"),
        params={"name": name, "known": ", ".join(known)},
    )


def check_part(env: Any, source: str, where: str, channel: str, zones: list[Zone]) -> list[Finding]:
    """The unknown names of one part (a syntax error is reported by the compile check, not here)."""
    try:
        ast = env.parse(source)
    except TemplateSyntaxError:
        return []
    top = sorted({*COMMON, *CHANNEL_EXTRAS.get(channel, ())})
    fields = known_fields(zones)
    allowed = set(top) | set(JINJA_NAMES) | set(getattr(env, "globals", {}))
    findings = [_unknown(n, top, where) for n in sorted(meta.find_undeclared_variables(ast) - allowed)]
    objects = set(fields) - _assigned(ast)
    seen: set[tuple[str, str]] = set()
    for obj, attr in _field_uses(ast, objects):
        if attr in fields[obj] or (obj, attr) in seen:
            continue
        seen.add((obj, attr))
        findings.append(_unknown(f"{obj}.{attr}", [f"{obj}.{f}" for f in fields[obj]], where))
    return findings


def check_variables(env: Any, channel: str, parts: list[tuple[str, str]], zones: list[Zone]) -> list[Finding]:
    """Every part's unknown variables, as error findings."""
    return [f for where, text in parts if text for f in check_part(env, text, where, channel, zones)]


def check_version_variables(
    channel: str, source: str, subject: str, preheader: str, text: str, zone_data: Any
) -> list[Finding]:
    """A version's unknown variables (``services.version_save``): its source, and an email's other parts."""
    from .rendering import HTML_ENV
    from .zones import parse_zones

    zones, _findings = parse_zones(zone_data)
    parts = [("source", source)]
    if channel == "email":
        parts += [("subject", subject), ("preheader", preheader), ("text", text)]
    return check_variables(HTML_ENV, channel, parts, zones)
