"""The delivery engine against local servers that speak each provider's protocol — a generic JSON SMS
gateway, Twilio's Messages API, Postmark's email API (through django-anymail) — and the feedback those
providers send back through the webhooks: receipts, inbound STOP, bounces and complaints.

The servers are ``http.server`` instances on 127.0.0.1 (port 0), each in a thread; their socket listens
from construction, so no request can be lost before the thread runs (no sleeps needed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from glocal.audience.models import ConsentEvent, Contact, Suppression, hash_value
from glocal.campaigns.models import Campaign
from glocal.campaigns.tests.conftest import add_contacts
from glocal.delivery import dispatch, launch, tracking
from glocal.delivery import signals as delivery_signals
from glocal.delivery.models import DeliverySettings, Exclusion, Message, MessageEvent
from glocal.delivery.tests.test_engine import scheduled_campaign

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)  # a Tuesday morning: inside the French SMS window
GATEWAY_TOKEN = "gw-token"
SMS_HOOK_TOKEN = "sms-hook-secret"
BOUNCE_HOOK_TOKEN = "bounce-hook-secret"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token"
POSTMARK_TOKEN = "pm-server-token"
POSTMARK_HOOK_AUTH = "postmark:hook-secret"

assert delivery_signals.DISPATCH_UID  # imported: the anymail receiver is connected, as in apps.ready()


# -- the providers ------------------------------------------------------------------------------------


class Provider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, str] = {}  # idempotency key → provider id
        self.answers: dict[str, str] = {}  # recipient → "unsubscribed" | "rate_limited"
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Provider

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output quiet
        pass

    def reply(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def record(self, payload: Any) -> None:
        with self.server.lock:
            self.server.requests.append(
                {"path": self.path, "headers": dict(self.headers), "payload": payload}
            )


class GatewayHandler(Handler):
    """A generic SMS gateway: bearer token, Idempotency-Key (a repeated key is the same message)."""

    def do_POST(self) -> None:  # noqa: N802
        raw = self.body()
        if self.path != "/v1/sms":
            return self.reply(404, {"error": "not found"})
        if self.headers.get("Authorization") != f"Bearer {GATEWAY_TOKEN}":
            return self.reply(401, {"error": "unauthorized"})
        data = json.loads(raw)
        key = self.headers.get("Idempotency-Key")
        if not key or key != data.get("idempotency_key") or not {"to", "from", "text"} <= set(data):
            return self.reply(400, {"error": "missing field or idempotency key"})
        self.record(data)
        with self.server.lock:
            provider_id = self.server.accepted.setdefault(key, f"gw-{len(self.server.accepted) + 1}")
        return self.reply(202, {"id": provider_id, "status": "queued"})


class TwilioHandler(Handler):
    """Twilio's Messages API: form POST, basic auth, Twilio's JSON answers and error codes."""

    def do_POST(self) -> None:  # noqa: N802
        raw = self.body()
        if self.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return self.reply(
                404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            )
        credentials = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {credentials}":
            return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
        self.record(form)
        answer = self.server.answers.get(form.get("To", ""))
        if answer == "unsubscribed":
            return self.reply(
                400,
                {
                    "code": 21610,
                    "message": "Attempt to send to unsubscribed recipient",
                    "more_info": "https://www.twilio.com/docs/errors/21610",
                    "status": 400,
                },
            )
        if answer == "rate_limited":
            return self.reply(
                429,
                {
                    "code": 20429,
                    "message": "Too Many Requests",
                    "more_info": "https://www.twilio.com/docs/errors/20429",
                    "status": 429,
                },
            )
        sid = "SM" + hashlib.sha256(f"{form['To']}{form['Body']}".encode()).hexdigest()[:32]
        return self.reply(
            201,
            {
                "sid": sid,
                "account_sid": TWILIO_SID,
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "error_code": None,
                "api_version": "2010-04-01",
            },
        )


class PostmarkHandler(Handler):
    """Postmark's /email API: X-Postmark-Server-Token, JSON in, {"MessageID", "ErrorCode": 0} out."""

    def do_POST(self) -> None:  # noqa: N802
        raw = self.body()
        if self.path != "/email":
            return self.reply(404, {"ErrorCode": 404, "Message": "not found"})
        if self.headers.get("X-Postmark-Server-Token") != POSTMARK_TOKEN:
            return self.reply(
                401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied"}
            )
        data = json.loads(raw)
        self.record(data)
        return self.reply(
            200,
            {
                "To": data["To"],
                "SubmittedAt": "2026-12-08T09:00:00.0000000Z",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            },
        )


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[Provider]:
    server = Provider(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def gateway(settings) -> Iterator[Provider]:
    with serving(GatewayHandler) as server:
        settings.GLOCAL_SMS_PROVIDER = "json"
        settings.GLOCAL_SMS_URL = f"{server.url}/v1/sms"
        settings.GLOCAL_SMS_TOKEN = GATEWAY_TOKEN
        yield server


@pytest.fixture
def twilio(settings) -> Iterator[Provider]:
    with serving(TwilioHandler) as server:
        settings.GLOCAL_SMS_PROVIDER = "twilio"
        settings.TWILIO_ACCOUNT_SID = TWILIO_SID
        settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
        settings.TWILIO_API_URL = server.url
        yield server


@pytest.fixture
def postmark(settings) -> Iterator[Provider]:
    with serving(PostmarkHandler) as server:
        settings.GLOCAL_EMAIL_PROVIDER = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {
            "POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN,
            "POSTMARK_API_URL": f"{server.url}/",
            "WEBHOOK_SECRET": POSTMARK_HOOK_AUTH,
        }
        yield server


def use_hooks(settings: Any) -> Client:
    """The webhooks mounted at /hooks/, their secrets set; a client without cookies or CSRF token."""
    settings.ROOT_URLCONF = "glocal.delivery.tests.hooks_test_urls"
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    settings.GLOCAL_SMS_WEBHOOK_TOKEN = SMS_HOOK_TOKEN
    settings.GLOCAL_BOUNCE_WEBHOOK_TOKEN = BOUNCE_HOOK_TOKEN
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def hooks(settings) -> Client:
    return use_hooks(settings)


@pytest.fixture
def roomy_caps(network) -> DeliverySettings:
    """Pressure caps wide enough that a second campaign the same week reaches everyone still reachable."""
    return DeliverySettings.unscoped.create(organisation=network.org, caps=[{"limit": 10, "days": 7}])


# -- helpers ------------------------------------------------------------------------------------------


def send_sms_at(now: dt.datetime) -> dispatch.Outcome:
    """One dispatcher pass at ``now`` (inside the SMS window), through the configured provider."""
    worker = dispatch.Dispatcher("provider-test")
    outcome = worker.run_once(now=now)
    worker.close()
    return outcome


def by_contact(campaign: Campaign) -> dict[int, Message]:
    return {m.contact_id: m for m in Message.unscoped.filter(campaign=campaign) if m.contact_id}


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """Twilio's algorithm, written out here independently of the code under test: base64 HMAC-SHA1 of
    the full URL followed by every POST field name and value, sorted by name."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def twilio_post(client: Client, url: str, params: dict[str, str], signature: str | None = None) -> Any:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.post(
        path,
        params,
        HTTP_X_TWILIO_SIGNATURE=signature if signature is not None else twilio_signature(url, params),
    )


def kinds(message: Message) -> list[str]:
    return list(MessageEvent.unscoped.filter(message=message).values_list("kind", flat=True))


def second_campaign(network: Any, template: Any, *, now: dt.datetime) -> Campaign:
    campaign = scheduled_campaign(
        network, template, name="Deuxième vague", when=now - dt.timedelta(minutes=1)
    )
    launch.launch_due(now=now)
    return campaign


def excluded_reason(campaign: Campaign, contact: Contact) -> str | None:
    row = Exclusion.unscoped.filter(campaign=campaign, contact=contact).first()
    return row.reason if row is not None else None


# -- SMS through the generic JSON gateway -------------------------------------------------------------


def test_sms_through_a_json_gateway_then_its_receipts_and_a_stop_reply(
    network, templates, gateway, hooks, roomy_caps
):
    # given three consenting contacts and a store's SMS campaign, launched and sent in the SMS window
    delivered, unknown, stopper = add_contacts(network.store_a, 3, prefix="sms")
    campaign = scheduled_campaign(network, templates.sms, when=NOW - dt.timedelta(minutes=1))
    launch.launch_due(now=NOW)
    assert send_sms_at(NOW).sent == 3
    # then the gateway got each message once, authenticated, the stable id as the idempotency key
    rows = by_contact(campaign)
    assert len(gateway.requests) == 3
    for request in gateway.requests:
        row = next(m for m in rows.values() if m.to_address == request["payload"]["to"])
        assert request["headers"]["Authorization"] == f"Bearer {GATEWAY_TOKEN}"
        assert request["headers"]["Idempotency-Key"] == row.stable_id == request["payload"]["idempotency_key"]
        assert "STOP" in request["payload"]["text"]
        assert row.status == "sent" and row.provider_id == gateway.accepted[row.stable_id]

    # when the gateway reports the first message delivered (its own id; the bare stable id is not trusted)
    receipt = {
        "id": rows[delivered.pk].provider_id,
        "status": "delivered",
        "idempotency_key": rows[delivered.pk].stable_id,
    }
    for _ in range(2):
        answer = hooks.post(
            "/hooks/sms/json/receipt/", receipt, content_type="application/json", **bearer(SMS_HOOK_TOKEN)
        )
        assert answer.status_code == 200 and answer.json() == {"received": 1, "matched": 1}
    # then it is delivered, recorded once
    row = Message.unscoped.get(pk=rows[delivered.pk].pk)
    assert row.status == "delivered" and kinds(row).count("delivered") == 1

    # when the second one fails as an unknown number (30005), the receipt naming only the provider id
    failed = {"id": rows[unknown.pk].provider_id, "status": "undelivered", "error_code": 30005}
    answer = hooks.post(
        "/hooks/sms/json/receipt/", [failed], content_type="application/json", **bearer(SMS_HOOK_TOKEN)
    )
    assert answer.status_code == 200 and answer.json()["matched"] == 1
    # then it failed and the number is on the opposition list (a hard bounce; hash only)
    row = Message.unscoped.get(pk=rows[unknown.pk].pk)
    assert row.status == "failed" and row.enhanced_code == "30005"
    assert Suppression.unscoped.filter(
        organisation=network.org, channel="sms", value_hash=hash_value(unknown.mobile), reason="bounce"
    ).exists()

    # when the third recipient answers "Arrêt !"
    inbound = {"from": stopper.mobile, "to": "36111", "text": "Arrêt !"}
    answer = hooks.post(
        "/hooks/sms/json/inbound/", inbound, content_type="application/json", **bearer(SMS_HOOK_TOKEN)
    )
    assert answer.status_code == 200 and answer.json() == {"received": 1, "opted_out": 1}
    # then they are opted out on SMS, with the proof, and their number is on the opposition list
    stopper.refresh_from_db()
    assert stopper.consent_sms == "opt_out" and stopper.consent_email == "opt_in"
    proof = ConsentEvent.unscoped.get(contact=stopper, channel="sms", status="opt_out")
    assert (proof.source, proof.wording) == ("form", "SMS STOP reply")
    assert Suppression.unscoped.filter(
        organisation=network.org, channel="sms", value_hash=stopper.mobile_hash
    ).exists()
    assert kinds(rows[stopper.pk]).count("unsubscribed") == 1

    # and the store's next SMS campaign reaches only the one still reachable
    later = second_campaign(network, templates.sms, now=NOW + dt.timedelta(hours=1))
    assert set(by_contact(later)) == {delivered.pk}
    assert excluded_reason(later, stopper) == "no_consent"
    assert excluded_reason(later, unknown) == "opposition"


# -- SMS through Twilio -------------------------------------------------------------------------------


def test_sms_through_twilio_a_rate_limit_retries_later_then_a_signed_receipt_and_stop(
    network, templates, twilio, hooks, roomy_caps
):
    # given two contacts; Twilio answers 429 (error 20429) for the second
    ok, limited = add_contacts(network.store_a, 2, prefix="tw")
    twilio.answers[limited.mobile] = "rate_limited"
    campaign = scheduled_campaign(network, templates.sms, when=NOW - dt.timedelta(minutes=1))
    launch.launch_due(now=NOW)
    # when the dispatcher sends them
    outcome = send_sms_at(NOW)
    assert (outcome.sent, outcome.retried, outcome.failed) == (1, 1, 0)
    rows = by_contact(campaign)
    # then Twilio got form posts with basic auth, and our signed reference in the status callback URL
    sent = next(r["payload"] for r in twilio.requests if r["payload"]["To"] == ok.mobile)
    callback = sent["StatusCallback"]
    assert (
        callback == f"http://testserver/hooks/sms/twilio/status/?m={tracking.make_ref(rows[ok.pk].stable_id)}"
    )
    assert rows[ok.pk].status == "sent" and rows[ok.pk].provider_id.startswith("SM")
    # the rate-limited one waits for a later retry (temporary), it is neither failed nor dropped
    retry = rows[limited.pk]
    event = MessageEvent.unscoped.get(message=retry, kind="retry")
    assert retry.status == "queued" and retry.attempts == 1 and "failed" not in kinds(retry)
    assert event.detail["code"] == 429 and retry.not_before - event.at >= dt.timedelta(minutes=5)

    # when Twilio calls the status callback, signed — a forged signature first
    status = {
        "MessageSid": rows[ok.pk].provider_id,
        "SmsSid": rows[ok.pk].provider_id,
        "AccountSid": TWILIO_SID,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "To": ok.mobile,
        "From": "GLOCAL",
        "ApiVersion": "2010-04-01",
    }
    assert twilio_post(hooks, callback, status, signature="forged").status_code == 403
    assert Message.unscoped.get(pk=rows[ok.pk].pk).status == "sent"
    for _ in range(2):  # Twilio retries a callback it thinks failed: harmless
        assert twilio_post(hooks, callback, status).status_code == 204
    # then the message is delivered, recorded once
    row = Message.unscoped.get(pk=rows[ok.pk].pk)
    assert row.status == "delivered" and kinds(row).count("delivered") == 1

    # when the recipient replies "Arrêt" (Twilio's incoming-message webhook, signed)
    incoming = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": TWILIO_SID,
        "From": ok.mobile,
        "To": "+33757000000",
        "Body": "Arrêt",
        "NumMedia": "0",
        "FromCountry": "FR",
    }
    answer = twilio_post(hooks, "http://testserver/hooks/sms/twilio/inbound/", incoming)
    # then Twilio gets empty TwiML (no reply SMS) and the contact is opted out
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/xml")
    assert answer.content.decode().endswith("<Response/>")
    ok.refresh_from_db()
    assert ok.consent_sms == "opt_out"
    assert Suppression.unscoped.filter(
        organisation=network.org, channel="sms", value_hash=ok.mobile_hash
    ).exists()

    # and a new SMS campaign leaves them out
    later = second_campaign(network, templates.sms, now=NOW + dt.timedelta(hours=1))
    assert ok.pk not in by_contact(later) and excluded_reason(later, ok) == "no_consent"


def test_twilio_refusing_an_unsubscribed_recipient_fails_the_message_and_records_the_opt_out(
    network, templates, twilio, roomy_caps
):
    # given a contact who replied STOP to our Twilio number before (Twilio answers error 21610)
    (refused,) = add_contacts(network.store_a, 1, prefix="tw21610")
    twilio.answers[refused.mobile] = "unsubscribed"
    campaign = scheduled_campaign(network, templates.sms, when=NOW - dt.timedelta(minutes=1))
    launch.launch_due(now=NOW)
    # when the dispatcher sends
    outcome = send_sms_at(NOW)
    # then the message failed for good (no retry) and the objection is on record
    assert (outcome.sent, outcome.retried, outcome.failed) == (0, 0, 1)
    row = by_contact(campaign)[refused.pk]
    assert row.status == "failed" and row.enhanced_code == "21610"
    refused.refresh_from_db()
    assert refused.consent_sms == "opt_out"
    assert Suppression.unscoped.filter(
        organisation=network.org, channel="sms", value_hash=refused.mobile_hash
    ).exists()


# -- email through Postmark (django-anymail) ----------------------------------------------------------


def postmark_event(record_type: str, **fields: Any) -> dict[str, Any]:
    """A Postmark webhook payload about the message Postmark was ``sent``: its Metadata echoed back."""
    sent = fields.pop("sent")
    payload = {
        "RecordType": record_type,
        "MessageID": str(uuid.uuid4()),
        "MessageStream": "outbound",
        "Metadata": sent["Metadata"],
        "ServerID": 23,
        "Tag": "",
        **fields,
    }
    return payload


def post_to_postmark_hook(client: Client, payload: dict[str, Any], auth: str = POSTMARK_HOOK_AUTH) -> Any:
    credentials = base64.b64encode(auth.encode()).decode()
    return client.post(
        "/anymail/postmark/tracking/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )


def test_email_through_postmark_then_its_bounce_delivery_and_complaint_webhooks(
    network, templates, postmark, hooks, roomy_caps
):
    # given three consenting contacts and a store's email campaign sent through Postmark's API
    bouncing, delivered, complaining = add_contacts(network.store_a, 3, prefix="pm")
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    assert dispatch.drain("postmark-worker").sent == 3
    rows = by_contact(campaign)
    # then Postmark got each one with its server token, the RFC 8058 headers and our id as metadata
    assert len(postmark.requests) == 3
    sent_to: dict[str, dict[str, Any]] = {}
    for request in postmark.requests:
        payload = request["payload"]
        assert request["headers"]["X-Postmark-Server-Token"] == POSTMARK_TOKEN
        headers = {h["Name"]: h["Value"] for h in payload["Headers"]}
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert (
            headers["List-Unsubscribe"].startswith("<http://testserver/u/")
            and "mailto:" in headers["List-Unsubscribe"]
        )
        row = next(m for m in rows.values() if m.to_address == payload["To"])
        signed = tracking.make_ref(row.stable_id)  # never the bare, guessable stable id
        assert payload["Metadata"] == {"glocal_id": f"<{signed}@glocal.localhost>"}
        assert headers["Message-ID"] == f"<{signed}@glocal.localhost>"
        sent_to[payload["To"]] = payload
    assert all(m.status == "sent" for m in rows.values())

    # when Postmark reports a hard bounce (twice: webhooks are retried)
    bounce = postmark_event(
        "Bounce",
        sent=sent_to[bouncing.email],
        ID=4323372036854775807,
        Type="HardBounce",
        TypeCode=1,
        Email=bouncing.email,
        BouncedAt="2026-12-01T09:00:00Z",
        Description="The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        Details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        Inactive=True,
    )
    assert post_to_postmark_hook(hooks, bounce, auth="postmark:wrong").status_code == 401
    assert Message.unscoped.get(pk=rows[bouncing.pk].pk).status == "sent"
    for _ in range(2):
        assert post_to_postmark_hook(hooks, bounce).status_code == 200
    # then the message bounced, once, and the address is on the opposition list
    row = Message.unscoped.get(pk=rows[bouncing.pk].pk)
    assert row.status == "bounced" and row.enhanced_code == "5.1.1"
    assert kinds(row).count("bounced") == 1
    assert Suppression.unscoped.filter(
        channel="email", value_hash=bouncing.email_hash, reason="bounce"
    ).exists()

    # when another is delivered and the third marked as spam
    delivery = postmark_event(
        "Delivery",
        sent=sent_to[delivered.email],
        Recipient=delivered.email,
        DeliveredAt="2026-12-01T09:00:01Z",
        Details="Test delivery webhook details",
    )
    spam = postmark_event(
        "SpamComplaint",
        sent=sent_to[complaining.email],
        ID=42,
        Type="SpamComplaint",
        TypeCode=512,
        Email=complaining.email,
        BouncedAt="2026-12-01T09:00:02Z",
        Details="Test spam complaint",
    )
    assert post_to_postmark_hook(hooks, delivery).status_code == 200
    assert post_to_postmark_hook(hooks, spam).status_code == 200
    # then: delivered; the complaint suppresses the address (reason complaint) and records the objection
    assert Message.unscoped.get(pk=rows[delivered.pk].pk).status == "delivered"
    assert kinds(rows[complaining.pk]).count("complaint") == 1
    assert Suppression.unscoped.filter(
        channel="email", value_hash=complaining.email_hash, reason="complaint"
    ).exists()
    complaining.refresh_from_db()
    assert complaining.consent_email == "opt_out"

    # and the next email campaign reaches only the one who received it
    later = second_campaign(network, templates.email, now=dt.datetime.now(dt.UTC))
    assert set(by_contact(later)) == {delivered.pk}
    assert excluded_reason(later, bouncing) == "opposition"
    assert excluded_reason(later, complaining) == "no_consent"
