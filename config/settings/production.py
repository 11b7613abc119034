"""Production: every secret from the environment, HTTPS only, strict cookies."""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from glocal.core.checks import public_url_problem, sender_domain_problem

from .base import *  # noqa: F403
from .base import DEVELOPMENT_SECRET_KEY, env_bool, env_list

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("Set SECRET_KEY to a random string of at least 50 characters.")


def _placeholder(value: str) -> bool:
    """A default or an example's value (the development key, deploy/glocal.env.example's "change-me…")."""
    return value == DEVELOPMENT_SECRET_KEY or any(word in value.lower() for word in ("insecure", "change-me"))


if _placeholder(SECRET_KEY):
    raise ImproperlyConfigured("SECRET_KEY is a default or an example's: set a random one of your own.")
# Unsubscribe links point to GLOCAL_PUBLIC_URL; mail comes from GLOCAL_SENDER_DOMAIN (SPF, DKIM, DMARC).
GLOCAL_PUBLIC_URL = os.environ.get("GLOCAL_PUBLIC_URL", "")
GLOCAL_SENDER_DOMAIN = os.environ.get("GLOCAL_SENDER_DOMAIN", "")
for _problem in (public_url_problem(GLOCAL_PUBLIC_URL), sender_domain_problem(GLOCAL_SENDER_DOMAIN)):
    if _problem:
        raise ImproperlyConfigured(_problem + ".")
# The public URL's host and origin are accepted unless ALLOWED_HOSTS / CSRF_TRUSTED_ORIGINS say otherwise.
_public = urlsplit(GLOCAL_PUBLIC_URL)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", _public.hostname or "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", f"{_public.scheme}://{_public.netloc}")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True  # hardening: every cookie over https only

# Provider webhooks change consent: each mounted one needs its secret (glocal.delivery.checks too).
_WEBHOOK_SECRETS = {
    "ANYMAIL_WEBHOOK_SECRET": "'user:password' of the email provider's webhook (basic auth)",
    "GLOCAL_SMS_WEBHOOK_TOKEN": "bearer token of the SMS gateway's webhooks",
    "GLOCAL_BOUNCE_WEBHOOK_TOKEN": "bearer token of the bounce webhook",
}
_missing = [
    f"{name} ({what})"
    for name, what in _WEBHOOK_SECRETS.items()
    if len(os.environ.get(name, "")) < 16 or _placeholder(os.environ.get(name, ""))
]
if ":" not in os.environ.get("ANYMAIL_WEBHOOK_SECRET", ":"):
    _missing.append("ANYMAIL_WEBHOOK_SECRET (must be 'user:password')")
if os.environ.get("GLOCAL_SMS_PROVIDER") == "twilio" and not os.environ.get("TWILIO_AUTH_TOKEN"):
    _missing.append("TWILIO_AUTH_TOKEN (verifies Twilio's webhooks)")
if _missing:
    raise ImproperlyConfigured(
        "Webhooks are mounted without a secret of at least 16 characters (not an example's); set: "
        + "; ".join(_missing)
    )
