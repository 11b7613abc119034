"""A URL configuration with unsafe webhooks mounted (the deploy check must name them): a plain view under
hooks/ and Anymail's own Postmark view (which accepts every call when its secret is unset)."""

from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_patterns


def open_hook(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


urlpatterns = [
    *project_patterns,
    path("hooks/open/", open_hook),
    path("anymail/postmark/raw/", PostmarkTrackingWebhookView.as_view()),
]
