"""Production hardening: HSTS and secure cookies as sent, secrets only from the environment (the development
key and missing webhook secrets refused), the admin on the path the environment names."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import clear_url_caches, reverse

GOOD_ENV = {
    "SECRET_KEY": "k9-" + "abcdefghij" * 6,
    "GLOCAL_PUBLIC_URL": "https://glocal.example",
    "GLOCAL_SENDER_DOMAIN": "mail.glocal.example",
    "ANYMAIL_WEBHOOK_SECRET": "hooks:" + "s" * 20,
    "GLOCAL_SMS_WEBHOOK_TOKEN": "t" * 20,
    "GLOCAL_BOUNCE_WEBHOOK_TOKEN": "b" * 20,
}


def fresh(module: str):
    sys.modules.pop(module, None)
    try:
        return importlib.import_module(module)
    finally:
        sys.modules.pop(module, None)


@pytest.fixture
def production_env(monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    yield monkeypatch


def test_production_is_https_only_with_secure_cookies_and_a_year_of_hsts(production_env):
    production = fresh("config.settings.production")
    assert production.SECURE_HSTS_SECONDS >= 31_536_000
    assert production.SECURE_HSTS_INCLUDE_SUBDOMAINS and production.SECURE_HSTS_PRELOAD
    assert production.SECURE_SSL_REDIRECT is True
    assert production.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert (
        production.SESSION_COOKIE_SECURE
        and production.CSRF_COOKIE_SECURE
        and production.LANGUAGE_COOKIE_SECURE
    )
    assert production.SESSION_COOKIE_HTTPONLY and production.SESSION_COOKIE_SAMESITE == "Lax"
    assert production.DEBUG is False


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SECRET_KEY", None, "SECRET_KEY"),
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("SECRET_KEY", "glocal-insecure-development-key-change-me-0123456789", "a default"),
        (
            "SECRET_KEY",
            "change-me-to-a-long-random-string-of-at-least-fifty-characters-0123456789",
            "example",
        ),
        ("GLOCAL_SMS_WEBHOOK_TOKEN", "change-me-sms-webhook-token-0123456789", "GLOCAL_SMS_WEBHOOK_TOKEN"),
        ("GLOCAL_SMS_WEBHOOK_TOKEN", None, "GLOCAL_SMS_WEBHOOK_TOKEN"),
        ("GLOCAL_BOUNCE_WEBHOOK_TOKEN", "too-short", "GLOCAL_BOUNCE_WEBHOOK_TOKEN"),
        ("ANYMAIL_WEBHOOK_SECRET", "no-colon-in-this-secret", "user:password"),
    ],
)
def test_production_refuses_to_start_with_a_default_or_missing_secret(production_env, name, value, says):
    if value is None:
        production_env.delenv(name)
    else:
        production_env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=says):
        fresh("config.settings.production")


def test_development_falls_back_to_a_marked_key_that_production_refuses(production_env):
    production_env.delenv("SECRET_KEY")
    base = fresh_base()
    assert base.SECRET_KEY == base.DEVELOPMENT_SECRET_KEY and "insecure" in base.SECRET_KEY
    production_env.setenv("SECRET_KEY", GOOD_ENV["SECRET_KEY"])
    assert GOOD_ENV["SECRET_KEY"] == fresh("config.settings.production").SECRET_KEY


@override_settings(
    SECURE_HSTS_SECONDS=31_536_000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
    LANGUAGE_COOKIE_SECURE=True,
)
@pytest.mark.django_db
def test_https_responses_carry_hsts_and_every_cookie_is_secure(network, client):
    page = client.get("/accounts/login/", secure=True)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page.cookies["csrftoken"]["secure"]
    response = client.post(
        "/accounts/login/",
        {"username": "store_a@example.test", "password": "pw-correct-horse"},
        secure=True,
    )
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken", "django_language"):
        if name in response.cookies:
            assert response.cookies[name]["secure"], name
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]


def test_the_admin_path_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GLOCAL_ADMIN_PATH", "/backstage-7f3")
    assert fresh_base().GLOCAL_ADMIN_PATH == "backstage-7f3/"
    monkeypatch.setenv("GLOCAL_ADMIN_PATH", "/")
    assert fresh_base().GLOCAL_ADMIN_PATH == "ops/"
    monkeypatch.delenv("GLOCAL_ADMIN_PATH")
    assert fresh_base().GLOCAL_ADMIN_PATH == "ops/"


def fresh_base():
    """config.settings.base read again (then put back as it was: the running settings stay)."""
    kept = sys.modules.pop("config.settings.base")
    try:
        return importlib.import_module("config.settings.base")
    finally:
        sys.modules["config.settings.base"] = kept


@pytest.mark.django_db
def test_the_admin_answers_on_its_own_path_only(settings, client):
    import config.urls

    settings.GLOCAL_ADMIN_PATH = "backstage-7f3/"
    try:
        importlib.reload(config.urls)
        clear_url_caches()
        assert reverse("admin:index") == "/backstage-7f3/"
        moved = client.get("/backstage-7f3/")
        assert moved.status_code == 302 and moved["Location"].startswith("/backstage-7f3/login/")
        assert client.get("/ops/").status_code == 404
    finally:
        settings.GLOCAL_ADMIN_PATH = "ops/"
        importlib.reload(config.urls)
        clear_url_caches()
    assert reverse("admin:index") == "/ops/"
