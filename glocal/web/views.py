"""The home page: each persona's to-do list (a store's, a region's, HQ's), read by ``selectors.home``."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from glocal.core.http import ScopedRequest
from glocal.core.views_base import scoped

from . import selectors


@scoped()
def home(request: ScopedRequest) -> HttpResponse:
    """HQ, regional and store homes: one view, the membership's node decides which."""
    membership = request.membership
    return render(request, "web/home.html", selectors.home(membership.entity, role=membership.role))
