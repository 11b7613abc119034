"""The request as Glocal's views see it, for type checking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from glocal.accounts.models import User
    from glocal.core.scope import Scope
    from glocal.network.models import Membership


class ScopedRequest(HttpRequest):
    """A request that went through ScopeMiddleware and the ``scoped`` decorator."""

    scope: Scope
    membership: Membership
    memberships: list[Membership]
    htmx: HtmxDetails
    user: User
