from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from glocal.accounts.urls import people_patterns
from glocal.core import views as core_views
from glocal.delivery.hooks_views import PostmarkTracking
from glocal.web import views as web_views

core_patterns = (
    [
        path("", web_views.home, name="home"),
        path("switch/", core_views.switch_membership, name="switch"),
        path("jobs/<int:pk>/", core_views.job_detail, name="job"),
    ],
    "core",
)

urlpatterns = [
    path("", include(core_patterns)),
    path("healthz", core_views.healthz, name="healthz"),
    path("livez", core_views.livez, name="livez"),  # probes and metrics: docs/operations.md
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.prometheus_metrics, name="metrics"),  # 404 unless GLOCAL_METRICS_TOKEN
    path("manifest.webmanifest", core_views.manifest, name="manifest"),
    path("sw.js", core_views.service_worker, name="service_worker"),
    path("offline/", core_views.offline, name="offline"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("glocal.accounts.urls")),
    path("people/", include((people_patterns, "people"))),
    path("network/", include("glocal.network.urls")),
    path("templates/", include("glocal.creatives.urls")),
    path("library/", include("glocal.brand.urls")),
    path("customers/", include("glocal.audience.urls")),
    path("", include("glocal.targeting.urls")),  # l/ (public forms), leads/, segments/, prospect-lists/
    path("campaigns/", include("glocal.campaigns.urls")),
    path("reports/", include("glocal.reporting.urls")),
    path("delivery/print/", include("glocal.delivery.print_urls")),  # print kits, direct mail, social export
    path("delivery/", include("glocal.delivery.urls")),
    path("hooks/", include("glocal.delivery.hooks_urls")),  # provider webhooks: SMS receipts, STOP, bounces
    # Anymail's Postmark tracking webhook (bounces, complaints, deliveries) → glocal.delivery.signals;
    # basic auth with ANYMAIL["WEBHOOK_SECRET"], fail closed (hooks_views.FailClosedAnymail). Other providers
    # mount theirs the same way, wrapped in FailClosedAnymail (the deploy check refuses a bare Anymail view).
    path(
        "hooks/anymail/postmark/tracking/",
        PostmarkTracking.as_view(),
        name="anymail_postmark_tracking",
    ),
    path("", include("glocal.delivery.public_urls")),  # u/ (unsubscribe), c/ (click), o/ (open pixel)
    path(settings.GLOCAL_ADMIN_PATH, admin.site.urls),  # GLOCAL_ADMIN_PATH, default "ops/"
]
