"""Home dashboards, health, job progress, membership switch, web-app manifest."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from glocal.core import jobs
from glocal.core.http import ScopedRequest
from glocal.core.middleware import SESSION_MEMBERSHIP_KEY
from glocal.core.models import AuditEvent, Job
from glocal.core.views_base import scoped
from glocal.network import selectors
from glocal.network.models import Entity, Membership
from glocal.network.roles import Role, sees_personal_data


@scoped()
def home(request: ScopedRequest) -> HttpResponse:
    """HQ, regional and store homes: one view, the scope decides what it covers."""
    membership = request.membership
    entity = membership.entity
    role = membership.role
    if role in {Role.HQ_ADMIN, Role.HQ_MARKETER} and entity.parent_id is None:
        kind = "hq"
    elif entity.entity_type.is_local:
        kind = "store"
    else:
        kind = "region"
    context: dict = {"kind": kind, "entity": entity, "stats": selectors.network_stats()}
    if kind in {"hq", "region"}:
        # Direct children with the number of active local entities below each (one query).
        children = Entity.objects.filter(parent=entity, is_active=True).order_by("name")
        nodes = {node.entity.pk: node for root in selectors.entity_tree() for node in _walk(root)}
        context["children"] = [
            (child, nodes[child.pk].local_count if child.pk in nodes else 0) for child in children
        ]
        context["people"] = Membership.objects.filter(is_active=True).count()
    else:
        context["team"] = Membership.objects.filter(entity=entity, is_active=True).select_related("user")
    context["recent"] = AuditEvent.objects.select_related("actor", "entity")[:8]
    return render(request, "core/home.html", context)


def _walk(node: selectors.TreeNode) -> Iterator[selectors.TreeNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


@require_POST
@scoped()
def switch_membership(request: ScopedRequest) -> HttpResponse:
    try:
        wanted = int(request.POST.get("membership", ""))
    except ValueError:
        raise Http404 from None
    if wanted not in {m.pk for m in request.memberships}:
        raise Http404
    request.session[SESSION_MEMBERSHIP_KEY] = wanted
    return redirect("core:home")


@scoped()
def job_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    """A job's progress and report. A report's rows quote the file (emails, phones, names): only roles
    that may see contacts get them; the others see the counts and the row numbers."""
    job = get_object_or_404(Job, pk=pk)
    template = "core/_job_status.html" if request.htmx else "core/job.html"
    return render(request, template, {"job": job, "personal": sees_personal_data(request.scope.role)})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # any database failure is reported, not raised
        database = f"error: {type(exc).__name__}"
    worker = jobs.worker_status() if database == "ok" else {"status": "unknown"}
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "error",
            "database": database,
            "worker": worker,
            "engine": connection.vendor,
        },
        status=status,
    )


def manifest(request: HttpRequest) -> JsonResponse:
    data = {
        "name": "Glocal",
        "short_name": "Glocal",
        "description": _("Local marketing for your network"),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f5135",
        "icons": [
            {"src": static("glocal/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {
                "src": static("glocal/icon-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any maskable",
            },
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")


def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the root so its scope covers the whole site (needed to be installable)."""
    body = render(request, "core/sw.js", {"offline_url": "/offline/", "version": settings.STATIC_URL})
    body["Content-Type"] = "application/javascript"
    body["Service-Worker-Allowed"] = "/"
    return body


def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "core/offline.html")
