"""Production settings refuse a loopback/http public URL and a sender domain that cannot pass DMARC;
``check --deploy`` flags the same; ``dns_records`` prints the SPF, DKIM and DMARC records to publish."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from glocal.core import checks
from glocal.delivery import checks as delivery_checks

ROOT = Path(__file__).resolve().parents[3]
KEYS = ROOT / "glocal" / "delivery" / "tests"


def _production(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GLOCAL_")}
    base.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 60 + "-check",
        ALLOWED_HOSTS="glocal.example",
        **env,
    )
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"GLOCAL_SENDER_DOMAIN": "mail.glocal.example"}, "GLOCAL_PUBLIC_URL must be the public https://"),
        (
            {"GLOCAL_PUBLIC_URL": "http://glocal.example", "GLOCAL_SENDER_DOMAIN": "mail.glocal.example"},
            "GLOCAL_PUBLIC_URL must be the public https://",
        ),
        (
            {"GLOCAL_PUBLIC_URL": "https://127.0.0.1:8000", "GLOCAL_SENDER_DOMAIN": "mail.glocal.example"},
            "GLOCAL_PUBLIC_URL must name a public host",
        ),
        ({"GLOCAL_PUBLIC_URL": "https://glocal.example"}, "GLOCAL_SENDER_DOMAIN must be a real domain"),
        (
            {"GLOCAL_PUBLIC_URL": "https://glocal.example", "GLOCAL_SENDER_DOMAIN": "glocal.localhost"},
            "GLOCAL_SENDER_DOMAIN must be a real domain",
        ),
    ],
)
def test_a_production_start_without_a_public_https_url_and_a_real_sender_domain_fails(env, reason):
    started = _production("check", **env)
    assert started.returncode != 0
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: " + reason)


def test_checks_flag_loopback_url_and_local_sender_domain(settings):
    settings.GLOCAL_PUBLIC_URL = "http://127.0.0.1:8000"
    settings.GLOCAL_SENDER_DOMAIN = "glocal.localhost"
    assert [m.id for m in checks.check_public_url()] == ["glocal.E001"]
    assert [m.id for m in checks.check_sender_domain()] == ["glocal.E002"]
    with pytest.raises(SystemCheckError) as failed:
        call_command("check", "--deploy", "--fail-level", "ERROR", stdout=io.StringIO())
    assert "glocal.E001" in str(failed.value) and "glocal.E002" in str(failed.value)
    settings.GLOCAL_PUBLIC_URL = "https://glocal.example"
    settings.GLOCAL_SENDER_DOMAIN = "mail.glocal.example"
    assert checks.check_public_url() == [] and checks.check_sender_domain() == []


def test_check_flags_an_unreadable_or_short_dkim_key(settings, tmp_path):
    settings.GLOCAL_DKIM_KEY_FILE = str(tmp_path / "absent.pem")
    assert [m.id for m in delivery_checks.check_dkim_key()] == ["glocal.E003"]
    settings.GLOCAL_DKIM_KEY_FILE = str(KEYS / "dkim_test_key.pem")
    settings.GLOCAL_DKIM_DOMAIN = ""
    assert [m.id for m in delivery_checks.check_dkim_key()] == ["glocal.E005"]
    settings.GLOCAL_DKIM_DOMAIN = "mail.glocal.example"
    assert delivery_checks.check_dkim_key() == []


def _records(text: str) -> dict[str, str]:
    """name → the TXT value (strings joined), from zone-file lines."""
    found = {}
    for line in text.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        name, _ttl, _in, kind, rest = line.split(None, 4)
        assert kind == "TXT"
        strings = re.findall(r'"([^"]*)"', rest)
        assert all(len(s) <= 255 for s in strings)
        found[name] = "".join(strings)
    return found


def test_dns_records_prints_spf_dkim_and_dmarc(settings):
    settings.GLOCAL_SENDER_DOMAIN = "mail.glocal.example"
    settings.GLOCAL_DKIM_KEY_FILE = str(KEYS / "dkim_test_key.pem")
    settings.GLOCAL_DKIM_DOMAIN = "mail.glocal.example"
    settings.GLOCAL_DKIM_SELECTOR = "glocal1"
    out = io.StringIO()
    call_command("dns_records", "--ip4", "203.0.113.25", "--include", "spf.relay.example", stdout=out)
    records = _records(out.getvalue())
    assert records["mail.glocal.example."] == "v=spf1 ip4:203.0.113.25 include:spf.relay.example -all"
    public = (KEYS / "dkim_test_key.pub.b64").read_text().strip()
    assert records["glocal1._domainkey.mail.glocal.example."] == f"v=DKIM1; k=rsa; p={public}"
    assert records["_dmarc.mail.glocal.example."] == (
        "v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc-reports@mail.glocal.example"
    )
    # the printed DKIM record verifies what the dispatcher's key signs
    import dkim

    from glocal.delivery.transports.email_smtp import DkimKey

    key = DkimKey("mail.glocal.example", "glocal1", (KEYS / "dkim_test_key.pem").read_bytes())
    message = b"From: a@mail.glocal.example\r\nTo: b@example.com\r\nSubject: x\r\n\r\nHello\r\n"
    signed = key.sign(message) + message
    txt = records["glocal1._domainkey.mail.glocal.example."].encode()
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: txt)
    assert base64.b64decode(public)  # the p= value is plain base64


def test_dns_records_refuses_a_local_domain_and_warns_on_unaligned_dkim(settings):
    settings.GLOCAL_SENDER_DOMAIN = "glocal.localhost"
    with pytest.raises(CommandError):
        call_command("dns_records", stdout=io.StringIO())
    settings.GLOCAL_DKIM_KEY_FILE = str(KEYS / "dkim_test_key.pem")
    settings.GLOCAL_DKIM_DOMAIN = "other.example"
    out = io.StringIO()
    call_command("dns_records", "--domain", "mail.glocal.example", "--policy", "reject", stdout=out)
    assert "not aligned" in out.getvalue()
    assert _records(out.getvalue())["_dmarc.mail.glocal.example."].startswith("v=DMARC1; p=reject;")
