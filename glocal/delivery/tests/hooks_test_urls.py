"""The project's URLs plus the provider webhooks at /hooks/ (until config.urls includes them) and
Anymail's Postmark tracking webhook, for the feedback tests (``settings.ROOT_URLCONF``)."""

from django.urls import URLResolver, include, path

from config.urls import urlpatterns as project_patterns
from glocal.delivery.hooks_views import PostmarkTracking

already = any(isinstance(p, URLResolver) and p.app_name == "hooks" for p in project_patterns)

urlpatterns = [
    *project_patterns,
    *([] if already else [path("hooks/", include("glocal.delivery.hooks_urls"))]),
    path(
        "anymail/postmark/tracking/",
        PostmarkTracking.as_view(),
        name="postmark_tracking_webhook",
    ),
]
