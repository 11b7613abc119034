"""``{% csp_remote_images %}``: the page shows emails as received (remote images included).

The email previews are sandboxed ``srcdoc`` frames: they run no script, but they inherit the page's
Content-Security-Policy, whose ``img-src`` is our own origin only. A template that shows such a
preview uses this tag, and ``SecurityHeadersMiddleware`` then allows https images on that page.
"""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def csp_remote_images(context: Any) -> str:
    request = context.get("request")
    if request is not None:
        request.csp_remote_images = True
    return ""
