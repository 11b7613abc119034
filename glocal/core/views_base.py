"""Decorators every tenant view goes through."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from glocal.core.roles import Action, role_allows


def scoped(
    action: Action | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Require a logged-in user with an active membership, and (optionally) a role that allows
    ``action``. Objects outside the scope are already invisible to the view's querysets (404)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            scope = getattr(request, "scope", None)
            if scope is None:
                return render(request, "core/no_access.html", status=403)
            if action is not None and not role_allows(scope.role, action):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
