"""``{% test_send_form template as ts %}``: what the template editor's "Send a test" form needs (the
stores to render as, the remembered seed list), computed by delivery for the partial
``delivery/_test_send.html`` that creatives' editor includes by name (creatives never imports delivery)."""

from __future__ import annotations

from typing import Any

from django import template

from glocal.core.roles import Action, role_allows
from glocal.core.scope import current_scope
from glocal.creatives import selectors as creative_selectors

from .. import test_send

register = template.Library()


@register.simple_tag
def test_send_form(channel_template: Any, store: Any = None) -> dict[str, Any]:
    """The form's context; ``{"shown": False}`` for another channel or a role that may not send."""
    scope = current_scope()
    if (
        channel_template is None
        or getattr(channel_template, "channel", "") != "email"
        or scope is None
        or not role_allows(scope.role, Action.TEMPLATE_MANAGE)
    ):
        return {"shown": False}
    stores = list(creative_selectors.personalisable_stores(channel_template)[:500])
    return {
        "shown": bool(stores),
        "stores": stores,
        "store_id": getattr(store, "pk", None) or (stores[0].pk if stores else None),
        "addresses": "\n".join(test_send.seed_addresses()),
        "max": test_send.MAX_ADDRESSES,
    }
