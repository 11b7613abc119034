"""``glocal dns_records``: the SPF, DKIM and DMARC TXT records to publish for the sender domain, in zone
file syntax (see docs/email-domain.md).

- SPF on the sender domain (the bounce address ``bounces@DOMAIN`` is the envelope sender): the relay's
  addresses (``--ip4``, ``--ip6``) and the provider's ``--include``, then ``-all``;
- DKIM at ``SELECTOR._domainkey.DKIM_DOMAIN``: the public half of ``GLOCAL_DKIM_KEY_FILE`` — the key the
  dispatcher signs with (``dispatch.dkim_key``), cut into 255-character strings;
- DMARC at ``_dmarc.DOMAIN``: ``--policy`` (default ``quarantine``), relaxed alignment, aggregate reports
  to ``--rua`` (default ``dmarc-reports@DOMAIN``).

Exits 1 (nothing printed) when the domain or the key cannot be used.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from glocal.core.checks import sender_domain_problem
from glocal.delivery.transports.email_smtp import dkim_public_key

TTL = 3600


def txt(name: str, value: str) -> str:
    """One TXT record; values over 255 characters split into several strings (RFC 7208 §3.3)."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    strings = " ".join(f'"{chunk}"' for chunk in chunks)
    if len(chunks) > 1:
        strings = "( " + strings + " )"
    return f"{name}. {TTL} IN TXT {strings}"


def aligned(dkim_domain: str, domain: str) -> bool:
    """DMARC relaxed alignment: the DKIM domain is the From domain, or one shares the other's parent."""
    a, b = dkim_domain.lower().rstrip("."), domain.lower().rstrip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


class Command(BaseCommand):
    help = "Print the SPF, DKIM and DMARC DNS records to publish for the sender domain."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--domain", help="the sender domain (default: GLOCAL_SENDER_DOMAIN)")
        parser.add_argument("--ip4", action="append", default=[], help="a relay IPv4 address or range")
        parser.add_argument("--ip6", action="append", default=[], help="a relay IPv6 address or range")
        parser.add_argument("--include", action="append", default=[], help="a provider's SPF domain")
        parser.add_argument("--policy", choices=("none", "quarantine", "reject"), default="quarantine")
        parser.add_argument("--rua", help="where aggregate DMARC reports go (default: dmarc-reports@DOMAIN)")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = (options["domain"] or settings.GLOCAL_SENDER_DOMAIN).strip().lower().rstrip(".")
        problem = sender_domain_problem(domain)
        if problem:
            raise CommandError(problem, returncode=1)
        mechanisms = [f"ip4:{v}" for v in options["ip4"]] + [f"ip6:{v}" for v in options["ip6"]]
        mechanisms += [f"include:{v}" for v in options["include"]]
        lines = [f"; SPF: the servers allowed to send mail for {domain} (envelope sender bounces@{domain})"]
        lines.append(txt(domain, " ".join(["v=spf1", *(mechanisms or ["mx"]), "-all"])))

        key_file = getattr(settings, "GLOCAL_DKIM_KEY_FILE", "")
        if key_file:
            try:
                with open(key_file, "rb") as handle:
                    public, bits = dkim_public_key(handle.read())
            except (OSError, ValueError) as error:
                raise CommandError(f"GLOCAL_DKIM_KEY_FILE: {error}", returncode=1) from None
            dkim_domain = (settings.GLOCAL_DKIM_DOMAIN or domain).lower().rstrip(".")
            selector = settings.GLOCAL_DKIM_SELECTOR
            lines.append(f"; DKIM: the public half of GLOCAL_DKIM_KEY_FILE (RSA, {bits} bits)")
            if not aligned(dkim_domain, domain):
                lines.append(f"; WARNING: d={dkim_domain} is not aligned with {domain}: DMARC will fail")
            lines.append(txt(f"{selector}._domainkey.{dkim_domain}", f"v=DKIM1; k=rsa; p={public}"))
        else:
            lines.append("; DKIM: no GLOCAL_DKIM_KEY_FILE, Glocal does not sign (your provider must)")
        rua = options["rua"] or f"dmarc-reports@{domain}"
        lines.append("; DMARC: what receivers do with mail that passes neither aligned SPF nor DKIM")
        lines.append(
            txt(f"_dmarc.{domain}", f"v=DMARC1; p={options['policy']}; adkim=r; aspf=r; rua=mailto:{rua}")
        )
        self.stdout.write("\n".join(lines))
