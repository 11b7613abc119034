"""Without DEBUG, every error is one of Glocal's pages, branded and in the reader's language — never
Django's debug or plain pages; the 500 and 400 pages render with no request and no database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

DJANGO_PAGES = (
    "Traceback",
    "DEBUG = True",
    "Django",
    "Server Error (500)",
    "Bad Request (400)",
    "CSRF verification failed",
)


@pytest.fixture
def production_errors(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "glocal.core.tests.error_urls"


def _french(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


def _check(response, status: int, texts: list[str]) -> str:
    assert response.status_code == status
    html = response.content.decode()
    assert '<html lang="fr"' in html
    assert ">Glocal</a>" in html  # the brand bar
    for text in texts:
        assert text in html, text
    for text in DJANGO_PAGES:
        assert text not in html, text
    return html


@pytest.mark.django_db
def test_not_found_page_is_glocal_s_in_french(production_errors) -> None:
    response = _french(Client()).get("/no/such/page/")
    _check(response, 404, ["Page introuvable", "Retour à l'accueil"])


@pytest.mark.django_db
def test_refused_page_is_glocal_s_in_french(production_errors) -> None:
    response = _french(Client()).get("/test-errors/403/")
    _check(response, 403, ["Accès refusé", "Votre rôle ne permet pas cette action."])


@pytest.mark.django_db
def test_server_error_page_is_glocal_s_in_french(production_errors) -> None:
    client = _french(Client(raise_request_exception=False))
    _check(client.get("/test-errors/500/"), 500, ["Une erreur s'est produite"])


@pytest.mark.django_db
def test_bad_request_page_is_glocal_s_in_french(production_errors) -> None:
    _check(_french(Client()).get("/test-errors/400/"), 400, ["Requête incorrecte"])


@pytest.mark.django_db
def test_expired_form_page_is_glocal_s_in_french(production_errors) -> None:
    client = _french(Client(enforce_csrf_checks=True))
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    _check(response, 403, ["Le formulaire a expiré"])


def test_the_500_and_400_pages_need_no_request_nor_database() -> None:
    """No django_db mark: a query would fail the test."""
    with translation.override("en"):
        for name, title in (("500.html", "Something went wrong"), ("400.html", "Bad request")):
            html = render_to_string(name)
            assert title in html and "/static/" in html


def test_the_demo_runs_without_debug_unless_asked() -> None:
    """``glocal demo`` uses config.settings.local: DEBUG off; DEBUG=1 is the explicit development switch."""
    code = "import django, os; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
    env["DEBUG"] = "1"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
