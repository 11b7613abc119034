"""Health (healthz, livez, readyz, metrics), job progress, membership switch, web-app manifest."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from glocal.core import jobs, metrics
from glocal.core.http import ScopedRequest
from glocal.core.middleware import SESSION_MEMBERSHIP_KEY
from glocal.core.models import Job
from glocal.core.roles import sees_personal_data
from glocal.core.views_base import scoped


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


# --- Probes and metrics: no login, no session, no CSRF (GET and HEAD only) --------------------------


@csrf_exempt
@require_safe
@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No database, cache or file access."""
    return JsonResponse({"status": "ok"})


_migrations_applied = False  # once seen applied, they stay so for this process's life


def unapplied_migrations() -> list[str]:
    """The migrations the database still lacks ("app.name"), reading the migration files once."""
    global _migrations_applied
    if _migrations_applied:
        return []
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    missing = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    _migrations_applied = not missing
    return missing


def readiness() -> dict[str, Any]:
    """What ``/readyz`` answers: each dependency's state; ``ready`` only when all are fine."""
    state: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        state["database"] = "ok"
    except Exception as exc:  # reported, not raised: the probe's answer is the diagnosis
        state["database"] = f"unreachable: {type(exc).__name__}"
    if state["database"] == "ok":
        try:
            missing = unapplied_migrations()
            state["migrations"] = "ok" if not missing else f"{len(missing)} not applied (first: {missing[0]})"
        except Exception as exc:
            state["migrations"] = f"unknown: {type(exc).__name__}"
    try:
        cache.get("glocal:readyz")
        state["cache"] = "ok"
    except Exception as exc:
        state["cache"] = f"unreachable: {type(exc).__name__}"
    state["ready"] = all(value == "ok" for value in state.values())
    return state


@csrf_exempt
@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database reachable, migrations applied, cache reachable → 200, else 503 with the
    reason. Worker health is not part of it (a web process serves without a worker): see /healthz."""
    state = readiness()
    ready = state.pop("ready")
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", **state}, status=200 if ready else 503
    )


@csrf_exempt
@require_safe
@never_cache
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (``glocal.core.metrics``), for ``Authorization: Bearer <GLOCAL_METRICS_TOKEN>``.
    Without a configured token the endpoint does not exist (404)."""
    token = getattr(settings, "GLOCAL_METRICS_TOKEN", "")
    if not token:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        response = HttpResponse("Bearer token required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


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
