"""Health, job progress, membership switch, web-app manifest."""

from __future__ import annotations

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
