"""Content-Security-Policy and Permissions-Policy on application and public pages; no inline script
anywhere in the templates (the policy would refuse it); the language cookie's flags."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
from django.template import engines
from django.test import RequestFactory

from glocal.core.middleware import SecurityHeadersMiddleware
from glocal.targeting import leads

ROOT = Path(__file__).resolve().parents[3]


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in policy.split(";")
        if part.strip()
    }


def assert_strict(policy: dict[str, str]) -> None:
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["img-src"] == "'self' data:"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"


@pytest.mark.django_db
def test_application_pages_carry_the_policy_and_cannot_be_framed(network, login):
    client = login(network, "hq_admin")
    for url in ("/", f"/network/entities/{network.store_a.pk}/"):
        response = client.get(url)
        assert response.status_code == 200
        policy = directives(response)
        assert_strict(policy)
        assert policy["frame-ancestors"] == "'none'"
        permissions = response["Permissions-Policy"]
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert f"{feature}=()" in permissions
    anonymous = client.__class__().get("/accounts/login/")
    assert_strict(directives(anonymous))
    assert directives(anonymous)["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_the_lead_web_form_stays_embeddable_by_the_allowed_sites_only(network, client):
    form = leads.lead_form_for(network.store_a)
    config = leads.capture_settings(network.org.pk)
    config.frame_ancestors = "https://www.magasin-a.example"
    config.save()
    embed = client.get(f"/l/f/{form.embed_token}/")
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    policy = directives(embed)
    assert_strict(policy)  # the public form gets the script rules too
    assert policy["frame-ancestors"] == "'self' https://www.magasin-a.example"
    kiosk = client.get(f"/l/k/{form.kiosk_token}/")
    assert directives(kiosk)["frame-ancestors"] == "'none'" and kiosk["X-Frame-Options"] == "DENY"


def test_a_complete_policy_set_by_a_view_is_kept_and_previews_may_show_remote_images():
    def served(request):
        from django.http import HttpResponse

        response = HttpResponse("file")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    request = RequestFactory().get("/")
    assert (
        SecurityHeadersMiddleware(served)(request)["Content-Security-Policy"] == "default-src 'none'; sandbox"
    )

    def preview(request):
        from django.http import HttpResponse

        page = engines["django"].from_string("{% load security %}{% csp_remote_images %}<iframe srcdoc=''>")
        return HttpResponse(page.render({}, request))

    policy = directives(SecurityHeadersMiddleware(preview)(RequestFactory().get("/")))
    assert policy["img-src"] == "'self' data: https:" and policy["script-src"] == "'self'"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"\shx-on", re.I), "hx-on attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_or_event_handlers():
    found = []
    for path in sorted((ROOT / "glocal").rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert found == []


@pytest.mark.django_db
def test_the_language_cookie_is_httponly_and_lax(network, client):
    response = client.post(
        "/accounts/login/", {"username": "store_a@example.test", "password": "pw-correct-horse"}
    )
    assert response.status_code == 302
    cookie = response.cookies["django_language"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_production_sends_the_language_cookie_over_https_only(monkeypatch):
    env = {
        "SECRET_KEY": "x" * 60,
        "GLOCAL_PUBLIC_URL": "https://glocal.example",
        "GLOCAL_SENDER_DOMAIN": "mail.glocal.example",
        "ANYMAIL_WEBHOOK_SECRET": "hooks:" + "s" * 20,
        "GLOCAL_SMS_WEBHOOK_TOKEN": "t" * 20,
        "GLOCAL_BOUNCE_WEBHOOK_TOKEN": "b" * 20,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "config.settings.production", raising=False)
    try:
        production = importlib.import_module("config.settings.production")
    finally:
        sys.modules.pop("config.settings.production", None)
    assert production.LANGUAGE_COOKIE_SECURE is True
    assert production.LANGUAGE_COOKIE_HTTPONLY is True and production.LANGUAGE_COOKIE_SAMESITE == "Lax"
    assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
