"""Deploy checks of the delivery app (``manage.py check --deploy``), registered in ``DeliveryConfig.ready``.

A provider webhook changes consent (a complaint or a STOP opts the person out, a hard bounce puts the
address on the opposition list), so a deployment must not expose one without a secret:

- ``delivery.E001``–``E004``: a mounted webhook whose secret is unset or too short (Anymail's basic auth,
  the SMS gateway's and the bounce forwarder's bearer tokens, Twilio's auth token when Twilio sends).
- ``delivery.E005``: a view mounted under ``hooks/`` without Glocal's authentication (``hooks_views``
  marks its views ``glocal_webhook_auth``), or an Anymail webhook view not wrapped in
  ``hooks_views.FailClosedAnymail`` (Anymail alone accepts every call when its secret is unset).

``config.settings.production`` refuses to start on the same missing secrets (ImproperlyConfigured);
these checks also cover any other settings module built on ``base``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver

MIN_SECRET_LENGTH = 16


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _is_anymail(pattern: URLPattern) -> bool:
    from anymail.webhooks.base import AnymailCoreWebhookView

    view_class = getattr(pattern.callback, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, AnymailCoreWebhookView)


def _authenticated(pattern: URLPattern) -> bool:
    view_class = getattr(pattern.callback, "view_class", None)
    return bool(getattr(pattern.callback, "glocal_webhook_auth", False)) or bool(
        getattr(view_class, "glocal_webhook_auth", False)
    )


def mounted_webhooks() -> list[tuple[str, URLPattern]]:
    """Every route under hooks/ and every Anymail webhook view, wherever it is mounted."""
    return [
        (route, pattern)
        for route, pattern in _routes(get_resolver().url_patterns)
        if route.startswith("hooks/") or _is_anymail(pattern)
    ]


def _weak(value: Any) -> bool:
    return len(str(value or "")) < MIN_SECRET_LENGTH


@register(Tags.security, deploy=True)
def webhook_secrets(app_configs: Any, **kwargs: Any) -> list[Error]:
    routes = mounted_webhooks()
    names = {pattern.name for _route, pattern in routes}
    errors: list[Error] = []
    anymail_secrets = (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET") or []
    if isinstance(anymail_secrets, str):
        anymail_secrets = [anymail_secrets]
    if any(_is_anymail(pattern) for _route, pattern in routes) and (
        not anymail_secrets or any(_weak(s) or ":" not in str(s) for s in anymail_secrets)
    ):
        errors.append(
            Error(
                "An email provider's webhook is mounted without a secret.",
                hint="Set ANYMAIL_WEBHOOK_SECRET to 'user:password' (at least 16 characters), the basic "
                "auth configured at the provider.",
                id="delivery.E001",
            )
        )
    if names & {"sms_json_receipt", "sms_json_inbound"} and _weak(
        getattr(settings, "GLOCAL_SMS_WEBHOOK_TOKEN", "")
    ):
        errors.append(
            Error(
                "The SMS gateway's webhooks are mounted without a token.",
                hint="Set GLOCAL_SMS_WEBHOOK_TOKEN (a random string of at least 16 characters).",
                id="delivery.E002",
            )
        )
    if "email_bounce" in names and _weak(getattr(settings, "GLOCAL_BOUNCE_WEBHOOK_TOKEN", "")):
        errors.append(
            Error(
                "The bounce webhook is mounted without a token.",
                hint="Set GLOCAL_BOUNCE_WEBHOOK_TOKEN (a random string of at least 16 characters).",
                id="delivery.E003",
            )
        )
    if getattr(settings, "GLOCAL_SMS_PROVIDER", "") == "twilio" and not getattr(
        settings, "TWILIO_AUTH_TOKEN", ""
    ):
        errors.append(
            Error(
                "SMS go through Twilio but its webhooks cannot be verified.",
                hint="Set TWILIO_AUTH_TOKEN (it signs the status and inbound webhooks).",
                id="delivery.E004",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def webhook_views(app_configs: Any, **kwargs: Any) -> list[Error]:
    return [
        Error(
            f"The webhook at /{route} has no Glocal authentication.",
            hint="Mount webhooks from glocal.delivery.hooks_views (bearer token, provider signature, or an "
            "Anymail view wrapped in FailClosedAnymail).",
            obj=route,
            id="delivery.E005",
        )
        for route, pattern in mounted_webhooks()
        if not _authenticated(pattern)
    ]


@register("deploy", deploy=True)
def check_dkim_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The DKIM private key is readable, 2048 bits or more, and has its domain (moved from the kernel's
    checks with its ids ``glocal.E003``–``E005``: it reads the key with the SMTP transport)."""
    path = getattr(settings, "GLOCAL_DKIM_KEY_FILE", "")
    if not path:
        return []
    from glocal.delivery.transports.email_smtp import dkim_public_key

    try:
        with open(path, "rb") as handle:
            _public, bits = dkim_public_key(handle.read())
    except (OSError, ValueError) as error:
        return [Error(f"GLOCAL_DKIM_KEY_FILE cannot be read as an RSA key: {error}", id="glocal.E003")]
    if bits < 2048:
        return [Error(f"the DKIM key has {bits} bits; use 2048 or more", id="glocal.E004")]
    if not getattr(settings, "GLOCAL_DKIM_DOMAIN", ""):
        return [Error("GLOCAL_DKIM_KEY_FILE is set but GLOCAL_DKIM_DOMAIN is not", id="glocal.E005")]
    return []
