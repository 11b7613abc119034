"""Sets the acting scope from the session's active membership for the whole request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from glocal.core.scope import activate, deactivate

SESSION_MEMBERSHIP_KEY = "glocal_membership_id"


def active_memberships(user_id: int) -> list:
    """The user's usable memberships (active, on an active entity). Runs before any scope exists,
    hence the explicit unscoped manager; it only ever reads the user's own rows."""
    from glocal.network.models import Membership

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
