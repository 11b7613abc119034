"""Webhook security: every inbound webhook refuses a call without valid credentials (fail closed when
its secret is not set), message references arriving in webhooks must be signed (or be the provider's
own id recorded at send), and production refuses to start — and ``check --deploy`` fails — with a
webhook mounted and no secret."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from glocal.audience.models import Contact
from glocal.delivery import checks, tracking
from glocal.delivery.models import Message
from glocal.delivery.tests import test_feedback as feedback_tests
from glocal.delivery.tests.test_feedback import DOMAIN, arf, dsn, fresh, post_report, snapshot
from glocal.delivery.tests.test_providers import SMS_HOOK_TOKEN, bearer

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
HOOK_AUTH = "postmark:a-long-webhook-secret"

# messages sent for real (local SMTP server, SMS capture), and the webhooks mounted with their secrets
sent_email = feedback_tests.sent_email
sent_sms = feedback_tests.sent_sms
hooks = feedback_tests.hooks


def basic(auth: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(auth.encode()).decode()}


def complaint(message: Message, *, glocal_id: str, message_id: str | None = None) -> dict[str, Any]:
    """A Postmark SpamComplaint as an attacker would forge it: our reference in Metadata."""
    return {
        "RecordType": "SpamComplaint",
        "MessageID": message_id or str(uuid.uuid4()),
        "MessageStream": "outbound",
        "Metadata": {"glocal_id": glocal_id},
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Email": message.to_address,
        "BouncedAt": "2026-12-01T09:00:02Z",
        "Details": "forged",
    }


def post_postmark(client: Client, payload: dict[str, Any], **headers: Any) -> Any:
    return client.post(
        "/hooks/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **headers
    )


# -- the email provider's tracking webhook (Anymail, Postmark) -----------------------------------------


@pytest.mark.parametrize("configured", [True, False])
@pytest.mark.parametrize("auth", [None, "postmark:wrong", "", HOOK_AUTH + "x"])
def test_the_postmark_hook_refuses_calls_without_valid_credentials(
    sent_email, hooks, settings, configured, auth
):
    settings.ANYMAIL = {"WEBHOOK_SECRET": HOOK_AUTH} if configured else {}
    message = next(iter(sent_email.values()))
    before = snapshot()
    headers = basic(auth) if auth is not None else {}
    forged = complaint(message, glocal_id=f"<{message.stable_id}@{DOMAIN}>")
    answer = post_postmark(hooks, forged, **headers)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Basic")
    assert snapshot() == before
    if not configured:  # no secret: even the "right" credentials are refused (fail closed)
        assert post_postmark(hooks, forged, **basic(HOOK_AUTH)).status_code == 401
        assert snapshot() == before


def test_a_guessable_reference_is_ignored_even_with_valid_credentials(sent_email, hooks, settings, caplog):
    settings.ANYMAIL = {"WEBHOOK_SECRET": HOOK_AUTH}
    message = next(iter(sent_email.values()))
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="glocal.delivery.feedback"):
        for glocal_id in (
            f"<{message.stable_id}@{DOMAIN}>",
            message.stable_id,
            f"{message.stable_id}.0123456789abcdef",
        ):
            answer = post_postmark(hooks, complaint(message, glocal_id=glocal_id), **basic(HOOK_AUTH))
            assert answer.status_code == 200
    assert snapshot() == before
    assert "unsigned" in caplog.text and "forged" in caplog.text


def test_the_reference_the_email_carries_is_signed_and_applied(sent_email, hooks, settings, smtp_server):
    settings.ANYMAIL = {"WEBHOOK_SECRET": HOOK_AUTH}
    # the Message-ID of what went out names the message with its MAC
    sent_ids = {str(mail["Message-ID"]) for _from, _rcpt, mail in smtp_server.messages}
    message = next(iter(sent_email.values()))
    signed = f"<{tracking.make_ref(message.stable_id)}@{DOMAIN}>"
    assert signed in sent_ids and f"<{message.stable_id}@{DOMAIN}>" not in sent_ids
    answer = post_postmark(hooks, complaint(message, glocal_id=signed), **basic(HOOK_AUTH))
    assert answer.status_code == 200
    assert Contact.unscoped.get(pk=message.contact_id).consent_email == "opt_out"


def test_a_provider_event_is_matched_by_the_provider_id_recorded_at_send(sent_email, hooks, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": HOOK_AUTH}
    message = next(iter(sent_email.values()))
    provider_id = str(uuid.uuid4())
    Message.unscoped.filter(pk=message.pk).update(provider_id=provider_id)
    payload = complaint(message, glocal_id="", message_id=provider_id)
    assert post_postmark(hooks, payload, **basic(HOOK_AUTH)).status_code == 200
    assert Contact.unscoped.get(pk=message.contact_id).consent_email == "opt_out"


# -- bounce and complaint reports ------------------------------------------------------------------


def _with_message_id(raw: bytes, message: Message, local: str) -> bytes:
    """The report with its copy of the original Message-ID (signed, as sent) replaced by ``local``."""
    signed = f"<{tracking.make_ref(message.stable_id)}@{DOMAIN}>".encode()
    assert signed in raw
    return raw.replace(signed, f"<{local}@{DOMAIN}>".encode())


def test_a_report_naming_an_unsigned_or_forged_reference_changes_nothing(sent_email, hooks, caplog):
    first, second, _third = sent_email.values()
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="glocal.delivery.feedback"):
        for local in (first.stable_id, f"{first.stable_id}.{'0' * 16}"):
            for raw in (dsn(first), arf(first)):
                answer = post_report(hooks, _with_message_id(raw, first, local))
                assert answer.status_code == 200 and answer.json() == {"matched": False, "recorded": []}
        # a valid MAC of another message does not name this one
        other = tracking.make_ref(second.stable_id).rpartition(".")[2]
        answer = post_report(hooks, _with_message_id(dsn(first), first, f"{first.stable_id}.{other}"))
        assert answer.json()["matched"] is False
    assert snapshot() == before
    assert "unsigned" in caplog.text and "forged" in caplog.text
    # the genuine reference is applied
    answer = post_report(hooks, _with_message_id(dsn(first), first, tracking.make_ref(first.stable_id)))
    assert answer.json() == {"matched": True, "recorded": ["bounced"]}
    assert fresh(first).status == "bounced"


# -- SMS receipts ----------------------------------------------------------------------------------


def test_an_sms_receipt_with_a_guessable_reference_is_ignored(sent_sms, hooks):
    message = next(iter(sent_sms.values()))
    before = snapshot()
    receipts = [
        {"id": "gw-unknown", "status": "failed", "error_code": "21211", "idempotency_key": message.stable_id},
        {
            "id": "gw-unknown-2",
            "status": "failed",
            "error_code": "21211",
            "idempotency_key": f"{message.stable_id}.{'a' * 16}",
        },
    ]
    answer = hooks.post(
        "/hooks/sms/json/receipt/", receipts, content_type="application/json", **bearer(SMS_HOOK_TOKEN)
    )
    assert answer.status_code == 200 and answer.json() == {"received": 2, "matched": 0}
    assert snapshot() == before
    signed = [{"id": "gw-x", "status": "delivered", "idempotency_key": tracking.make_ref(message.stable_id)}]
    answer = hooks.post(
        "/hooks/sms/json/receipt/", signed, content_type="application/json", **bearer(SMS_HOOK_TOKEN)
    )
    assert answer.json()["matched"] == 1 and fresh(message).status == "delivered"


# -- production settings and the deploy check -------------------------------------------------------

SECRETS = {
    "ANYMAIL_WEBHOOK_SECRET": "postmark:" + "s" * 32,
    "GLOCAL_SMS_WEBHOOK_TOKEN": "t" * 32,
    "GLOCAL_BOUNCE_WEBHOOK_TOKEN": "b" * 32,
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in SECRETS and not key.startswith(("ANYMAIL_", "TWILIO_", "GLOCAL_SMS_"))
    }
    base.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 60 + "-check",
        ALLOWED_HOSTS="glocal.example",
        GLOCAL_PUBLIC_URL="https://glocal.example",
        GLOCAL_SENDER_DOMAIN="mail.glocal.example",
        **env,
    )
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_the_webhook_secrets():
    refused = _manage("check", "--deploy")
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr
    for name in SECRETS:
        assert name in refused.stderr
    partial = _manage(
        "check", "--deploy", **{k: v for k, v in SECRETS.items() if k != "ANYMAIL_WEBHOOK_SECRET"}
    )
    assert partial.returncode != 0 and "ANYMAIL_WEBHOOK_SECRET" in partial.stderr
    twilio = _manage("check", "--deploy", GLOCAL_SMS_PROVIDER="twilio", **SECRETS)
    assert twilio.returncode != 0 and "TWILIO_AUTH_TOKEN" in twilio.stderr
    accepted = _manage("check", "--deploy", "--fail-level", "WARNING", **SECRETS)
    assert accepted.returncode == 0, accepted.stderr


def test_the_deploy_check_fails_with_a_webhook_mounted_and_no_secret(settings):
    settings.ANYMAIL = {}
    settings.GLOCAL_SMS_WEBHOOK_TOKEN = ""
    settings.GLOCAL_BOUNCE_WEBHOOK_TOKEN = "short"
    ids = {error.id for error in checks.webhook_secrets(None)}
    assert {"delivery.E001", "delivery.E002", "delivery.E003"} <= ids
    with pytest.raises(SystemCheckError) as failed:
        call_command("check", "--deploy", "--fail-level", "ERROR")
    for name in SECRETS:
        assert name in str(failed.value)
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRETS["ANYMAIL_WEBHOOK_SECRET"]}
    settings.GLOCAL_SMS_WEBHOOK_TOKEN = SECRETS["GLOCAL_SMS_WEBHOOK_TOKEN"]
    settings.GLOCAL_BOUNCE_WEBHOOK_TOKEN = SECRETS["GLOCAL_BOUNCE_WEBHOOK_TOKEN"]
    assert checks.webhook_secrets(None) == []


def test_the_deploy_check_fails_for_a_webhook_view_without_glocal_authentication(settings):
    settings.ROOT_URLCONF = "glocal.delivery.tests.hooks_open_urls"
    errors = checks.webhook_views(None)
    assert [error.id for error in errors] == ["delivery.E005", "delivery.E005"]
    assert {error.obj for error in errors} == {"hooks/open/", "anymail/postmark/raw/"}
