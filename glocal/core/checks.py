"""Deployment checks (``manage.py check --deploy``): settings that would make Glocal's mail unlawful or
undeliverable in production.

- ``GLOCAL_PUBLIC_URL`` is where every unsubscribe link, click redirect and lead form points: it must be
  a public ``https://`` address (not loopback, not a ``.localhost`` name).
- ``GLOCAL_SENDER_DOMAIN`` is the domain campaign mail comes from (From, Message-ID, the bounce address):
  it must be a real, resolvable domain, or SPF, DKIM and DMARC cannot pass.
- ``GLOCAL_DKIM_KEY_FILE``, when set, must be a readable RSA key of at least 2048 bits.

The two pure functions :func:`public_url_problem` and :func:`sender_domain_problem` are also what
``config/settings/production.py`` runs at start-up (a production start with such values fails). Each
check below is one small function, registered with the ``deploy`` tag (run by ``check --deploy`` only)
by ``CoreConfig.ready``.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".invalid", ".internal", ".home.arpa", ".lan")
LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def _is_local_host(host: str) -> bool:
    host = host.strip().lower().rstrip(".")
    if not host or host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host  # a bare host name ("glocal", "mailhost") is not a public domain
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be Glocal's public address in production, or None when it can."""
    parts = urlsplit(str(url or ""))
    if parts.scheme != "https" or not parts.hostname:
        return f"GLOCAL_PUBLIC_URL must be the public https:// address of Glocal (it is {url!r})"
    if _is_local_host(parts.hostname):
        return f"GLOCAL_PUBLIC_URL must name a public host, not {parts.hostname!r}"
    return None


def sender_domain_problem(domain: str) -> str | None:
    """Why ``domain`` cannot be the sender domain of campaign mail, or None when it can."""
    domain = str(domain or "").strip()
    if not domain or _is_local_host(domain) or "@" in domain or "/" in domain:
        return (
            f"GLOCAL_SENDER_DOMAIN must be a real domain with SPF, DKIM and DMARC records "
            f"(it is {domain!r}): see docs/email-domain.md"
        )
    return None


def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = public_url_problem(getattr(settings, "GLOCAL_PUBLIC_URL", ""))
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint="Unsubscribe links and click redirects would point there; set it to e.g. https://glocal.example.",
            id="glocal.E001",
        )
    ]


def check_sender_domain(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = sender_domain_problem(getattr(settings, "GLOCAL_SENDER_DOMAIN", ""))
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint="`manage.py dns_records` prints the SPF, DKIM and DMARC records to publish.",
            id="glocal.E002",
        )
    ]


# The DKIM key check is delivery's (glocal.delivery.checks.check_dkim_key): it reads the key with the
# SMTP transport's code, which the kernel does not import.
DEPLOY_CHECKS = [check_public_url, check_sender_domain]


def register() -> None:
    for check in DEPLOY_CHECKS:
        checks.register(check, "deploy", deploy=True)
