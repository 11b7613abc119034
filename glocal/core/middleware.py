"""Sets the acting scope from the session's active membership for the whole request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from glocal.core.scope import activate, deactivate

SESSION_MEMBERSHIP_KEY = "glocal_membership_id"


def active_memberships(user_id: int) -> list:
    """The user's usable memberships (active, on an active entity). Runs before any scope exists,
    hence the explicit unscoped manager; it only ever reads the user's own rows."""
    from django.apps import apps

    # By its app label: the kernel does not import the network app (see ARCHITECTURE.md, layers).
    Membership = apps.get_model("network", "Membership")
    return list(
        Membership.unscoped.filter(user_id=user_id, is_active=True, entity__is_active=True)
        .select_related("entity", "organisation", "entity__entity_type")
        .order_by("organisation__name", "entity__depth", "entity__name", "role")
    )


class ScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.scope = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.memberships = []  # type: ignore[attr-defined]
        user = request.user
        if user.is_authenticated and user.is_active:
            memberships = active_memberships(user.pk)
            wanted = request.session.get(SESSION_MEMBERSHIP_KEY)
            chosen = next((m for m in memberships if m.pk == wanted), memberships[0] if memberships else None)
            request.memberships = memberships  # type: ignore[attr-defined]
            if chosen is not None:
                request.membership = chosen  # type: ignore[attr-defined]
                request.scope = chosen.as_scope()  # type: ignore[attr-defined]
                with activate(request.scope):  # type: ignore[attr-defined]
                    return self.get_response(request)
        with deactivate():
            return self.get_response(request)


# --- Security headers -------------------------------------------------------------------------------

# Scripts only from our own static files (no inline script, no event-handler attribute, no eval);
# styles may be inline (style="" attributes, and the email previews, whose HTML is styled inline).
CONTENT_SECURITY_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Pages showing an email as its recipients will see it (sandboxed srcdoc frames, which inherit the
# page's policy) load the email's remote images: such a template says so with {% csp_remote_images %}.
REMOTE_IMAGES = "'self' data: https:"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
)


def content_security_policy(own: str = "", *, remote_images: bool = False) -> str:
    """Our policy, with the directives a view set itself (``own``) taking precedence: the lead web form
    names the sites that may frame it in its own ``frame-ancestors``."""
    directives = dict(CONTENT_SECURITY_POLICY)
    if remote_images:
        directives["img-src"] = REMOTE_IMAGES
    for part in own.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name.lower()] = value.strip()
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response.

    A response that already carries a complete policy (one with ``default-src``, e.g. library files
    served with ``default-src 'none'; sandbox``) keeps it as it is; a partial one (the lead form's
    ``frame-ancestors``) is completed with ours.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        own = response.get("Content-Security-Policy", "")
        if "default-src" not in own:
            remote = bool(getattr(request, "csp_remote_images", False))
            response["Content-Security-Policy"] = content_security_policy(own, remote_images=remote)
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = PERMISSIONS_POLICY
        return response
