"""The provider send rates (GLOCAL_SMTP_RATE, GLOCAL_SMS_RATE) hold for every sending process together:
two processes sending through the dispatcher's SMTP transport to one server share one rate."""

from __future__ import annotations

from collections import Counter

import pytest

from glocal.core.ratelimit import SharedRateLimiter
from glocal.core.tests.shared_process import cache_env, database_env, run_together
from glocal.delivery.dispatch import providers
from glocal.delivery.transports.email_smtp import rate_limiter


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache_kind", ["database", "redis"])
def test_two_sending_processes_share_the_smtp_rate(cache_kind, faulty_smtp, tmp_path):
    """8 messages each at GLOCAL_SMTP_RATE=5 (windows of 1 s holding 5 sends): every message arrives, and
    no window granted more than 5 sends to the two processes together (each alone would take 5)."""
    env = {
        **database_env(tmp_path),
        **cache_env(cache_kind),
        "GLOCAL_SMTP_RATE": "5",
        "GLOCAL_SMTP_HOST": "127.0.0.1",
        "GLOCAL_SMTP_PORT": str(faulty_smtp.port),
        "GLOCAL_EMAIL_PROVIDER": "",
    }
    (first,), (second,) = run_together("smtp", [{"n": 8, "tag": "one"}, {"n": 8, "tag": "two"}], env)
    assert len(faulty_smtp.received) == 16
    per_window = Counter(first + second)
    assert sum(per_window.values()) == 16
    assert max(per_window.values()) <= 5
    assert len(per_window) >= 4


def test_email_and_sms_transports_take_the_shared_limiter_of_their_account(settings):
    settings.GLOCAL_EMAIL_PROVIDER = ""
    settings.GLOCAL_SMTP_RATE = 7.0
    settings.GLOCAL_SMS_PROVIDER, settings.GLOCAL_SMS_RATE = "json", 2.0
    settings.GLOCAL_SMS_URL, settings.GLOCAL_SMS_TOKEN = "https://sms.example/send", "t" * 20
    email = providers.email_transport().limiter  # type: ignore[attr-defined]
    sms = providers.sms_transport().limiter  # type: ignore[attr-defined]
    assert isinstance(email, SharedRateLimiter) and isinstance(sms, SharedRateLimiter)
    assert (email.rate, email.burst, sms.rate, sms.burst) == (7.0, 7, 2.0, 2)
    assert email.key.startswith("send:smtp:") and sms.key == "send:sms:json"
    assert rate_limiter("sms:json", 2.0, 2) is sms  # one per account in a process
