"""URLs of the error-page tests: the project's, plus views that fail on purpose."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_patterns


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def refused(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("bad input")


urlpatterns = [
    path("test-errors/500/", broken),
    path("test-errors/403/", refused),
    path("test-errors/400/", suspicious),
    *project_patterns,
]
