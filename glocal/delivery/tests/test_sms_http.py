"""SMS adapters against local HTTP servers that speak each protocol (JSON gateway, Twilio)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from glocal.delivery.transports.base import TransportError
from glocal.delivery.transports.sms_http import (
    JsonGateway,
    Sms,
    Twilio,
    TwilioError,
    is_stop,
    segments,
)


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, str] = {}  # idempotency key → provider id
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Base(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args):  # keep test output quiet
        pass

    def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))


class GatewayHandler(Base):
    def do_POST(self):  # noqa: N802
        raw = self.body()
        if self.path != "/v1/sms":
            return self.reply(404, {"error": "not found"})
        if self.headers.get("Authorization") != "Bearer gw-secret":
            return self.reply(401, {"error": "unauthorized"})
        data = json.loads(raw)
        self.server.requests.append({"headers": dict(self.headers), "json": data})
        key = self.headers.get("Idempotency-Key")
        if not key or key != data.get("idempotency_key") or not {"to", "from", "text"} <= set(data):
            return self.reply(400, {"error": "missing field or idempotency key", "code": "bad_request"})
        to = data["to"]
        if to == "+33600000429":
            return self.reply(429, {"error": "rate limited"}, {"Retry-After": "1"})
        if to == "+33600000503":
            return self.reply(503, {"error": "upstream unavailable"})
        if to == "+33600000400":
            return self.reply(400, {"error": "sender id not registered", "code": "bad_sender"})
        with self.server.lock:
            first_time = key not in self.server.accepted
            if first_time:
                self.server.accepted[key] = f"gw-{len(self.server.accepted) + 1}"
            provider_id = self.server.accepted[key]
        if to == "+33600000999" and first_time:
            self.close_connection = True  # accepted, but the answer is lost
            self.connection.shutdown(2)
            return None
        return self.reply(202, {"id": provider_id, "status": "queued", "segments": 1})


TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token"


class TwilioHandler(Base):
    def do_POST(self):  # noqa: N802
        raw = self.body()
        expected_auth = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected_auth:
            return self.reply(
                401,
                {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                 "status": 401},
            )  # fmt: skip
        if self.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return self.reply(
                404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            )
        assert self.headers.get("Content-Type") == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        self.server.requests.append({"headers": dict(self.headers), "form": form})
        if "Body" not in form or "To" not in form or not ({"From", "MessagingServiceSid"} & set(form)):
            return self.reply(
                400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
            )
        errors = {
            "+15005550001": (400, 21211, f"The 'To' number {form['To']} is not a valid phone number."),
            "+15005550009": (400, 21614, f"'To' number {form['To']} is not a valid mobile number"),
            "+15005550004": (400, 21610, "Attempt to send to unsubscribed recipient"),
            "+15005550429": (429, 20429, "Too Many Requests"),
            "+15005550500": (500, 20500, "Internal Server Error"),
        }
        if form["To"] in errors:
            status, code, message = errors[form["To"]]
            return self.reply(
                status,
                {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                 "status": status},
            )  # fmt: skip
        sid = "SM" + hashlib.md5(form["Body"].encode() + form["To"].encode()).hexdigest()  # noqa: S324
        return self.reply(
            201,
            {"sid": sid, "account_sid": TWILIO_SID, "to": form["To"], "from": form.get("From"),
             "body": form["Body"], "status": "queued", "num_segments": "1", "error_code": None},
        )  # fmt: skip


@contextmanager
def serve(handler) -> Iterator[Recorder]:
    server = Recorder(handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gateway_server():
    with serve(GatewayHandler) as server:
        yield server


@pytest.fixture
def twilio_server():
    with serve(TwilioHandler) as server:
        yield server


def sms(to="+33612345678", stable_id="m-7-000001", text="Magasin A : -20 % ce samedi. STOP au 36111"):
    return Sms(stable_id=stable_id, to=to, text=text, sender="MAGASIN A")


# --- JSON gateway ---------------------------------------------------------------------------------


def test_gateway_sends_json_with_auth_and_idempotency_key(gateway_server):
    gateway = JsonGateway(gateway_server.url + "/v1/sms", "gw-secret", timeout=5)
    sent = gateway.send(sms())
    assert (sent.provider_id, sent.status, sent.segments) == ("gw-1", "queued", 1)
    (request,) = gateway_server.requests
    assert request["json"] == {
        "to": "+33612345678",
        "from": "MAGASIN A",
        "text": "Magasin A : -20 % ce samedi. STOP au 36111",
        "idempotency_key": "m-7-000001",
    }
    assert request["headers"]["Idempotency-Key"] == "m-7-000001"


def test_gateway_resend_after_unknown_outcome_is_not_a_duplicate(gateway_server):
    gateway = JsonGateway(gateway_server.url + "/v1/sms", "gw-secret", timeout=5)
    message = sms(to="+33600000999", stable_id="m-7-000999")
    with pytest.raises(TransportError) as info:
        gateway.send(message)
    assert info.value.unknown_outcome and not info.value.permanent
    again = gateway.send(message)  # same stable id → same idempotency key
    assert again.provider_id == "gw-1"
    assert len(gateway_server.accepted) == 1


@pytest.mark.parametrize(
    ("to", "permanent", "status"),
    [("+33600000429", False, 429), ("+33600000503", False, 503), ("+33600000400", True, 400)],
)
def test_gateway_errors_retryable_or_permanent(gateway_server, to, permanent, status):
    gateway = JsonGateway(gateway_server.url + "/v1/sms", "gw-secret", timeout=5)
    with pytest.raises(TransportError) as info:
        gateway.send(sms(to=to))
    assert (info.value.permanent, info.value.code, info.value.unknown_outcome) == (permanent, status, False)


def test_gateway_bad_credentials_are_permanent(gateway_server):
    with pytest.raises(TransportError) as info:
        JsonGateway(gateway_server.url + "/v1/sms", "wrong", timeout=5).send(sms())
    assert info.value.permanent and info.value.code == 401
    assert not gateway_server.accepted


def test_unreachable_gateway_is_temporary_and_not_unknown():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as info:
        JsonGateway(f"http://127.0.0.1:{port}/v1/sms", "gw-secret", timeout=2).send(sms())
    assert not info.value.permanent and not info.value.unknown_outcome


def test_invalid_number_is_refused_before_any_request(gateway_server):
    with pytest.raises(TransportError) as info:
        JsonGateway(gateway_server.url + "/v1/sms", "gw-secret").send(sms(to="0612345678"))
    assert info.value.permanent and not gateway_server.requests


def test_gateway_receipts_and_inbound():
    receipt = JsonGateway.parse_receipt(
        {"id": "gw-1", "status": "DELIVERED", "idempotency_key": "m-7-000001", "error_code": None}
    )
    assert (receipt.provider_id, receipt.status, receipt.stable_id, receipt.final) == (
        "gw-1",
        "delivered",
        "m-7-000001",
        True,
    )
    inbound = JsonGateway.parse_inbound({"from": "+33612345678", "to": "36111", "text": " Arrêt "})
    assert inbound.opt_out and inbound.sender == "+33612345678"


# --- Twilio ---------------------------------------------------------------------------------------


def twilio(server, **kwargs):
    return Twilio(TWILIO_SID, TWILIO_TOKEN, base_url=server.url, timeout=5, **kwargs)


def test_twilio_form_post_with_basic_auth_and_status_callback(twilio_server):
    client = twilio(twilio_server, status_callback="https://glocal.example/hooks/twilio/status")
    sent = client.send(sms(to="+15005550006"))
    assert sent.provider_id.startswith("SM") and sent.status == "queued" and sent.segments == 1
    (request,) = twilio_server.requests
    assert request["form"] == {
        "To": "+15005550006",
        "From": "MAGASIN A",
        "Body": "Magasin A : -20 % ce samedi. STOP au 36111",
        "StatusCallback": "https://glocal.example/hooks/twilio/status?m=m-7-000001",
    }


def test_twilio_messaging_service_replaces_from(twilio_server):
    twilio(twilio_server, messaging_service_sid="MG123").send(sms(to="+15005550006"))
    form = twilio_server.requests[0]["form"]
    assert form["MessagingServiceSid"] == "MG123" and "From" not in form


@pytest.mark.parametrize(
    ("to", "twilio_code", "permanent", "flag"),
    [
        ("+15005550001", 21211, True, "invalid_number"),
        ("+15005550009", 21614, True, "invalid_number"),
        ("+15005550004", 21610, True, "opted_out"),
        ("+15005550429", 20429, False, None),
        ("+15005550500", 20500, False, None),
    ],
)
def test_twilio_error_codes(twilio_server, to, twilio_code, permanent, flag):
    with pytest.raises(TwilioError) as info:
        twilio(twilio_server).send(sms(to=to))
    assert info.value.twilio_code == twilio_code and info.value.permanent is permanent
    if flag:
        assert getattr(info.value, flag)


def test_twilio_bad_credentials_alert_the_operator(twilio_server):
    with pytest.raises(TwilioError) as info:
        Twilio(TWILIO_SID, "wrong", base_url=twilio_server.url, timeout=5).send(sms(to="+15005550006"))
    assert info.value.permanent and info.value.alert_operator and info.value.code == 401
    assert not twilio_server.requests


def test_twilio_status_callbacks():
    receipt = Twilio.parse_status_callback(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005", "AccountSid": TWILIO_SID},
        {"m": "m-7-000001"},
    )
    assert (receipt.status, receipt.error_code, receipt.stable_id) == ("undelivered", "30005", "m-7-000001")
    assert receipt.final and receipt.invalid_number
    sending = Twilio.parse_status_callback({"MessageSid": "SM1", "MessageStatus": "sending"})
    assert sending.status == "queued" and not sending.final and sending.error_code is None


def test_twilio_webhook_signature():
    client = Twilio(TWILIO_SID, TWILIO_TOKEN)
    url = "https://glocal.example/hooks/twilio/inbound?store=12"
    params = {"From": "+33612345678", "To": "+33755000000", "Body": "STOP", "MessageSid": "SM9"}
    independent = base64.b64encode(
        hmac.new(
            TWILIO_TOKEN.encode(),
            (url + "BodySTOPFrom+33612345678MessageSidSM9To+33755000000").encode(),
            hashlib.sha1,
        ).digest()
    ).decode()
    assert client.signature(url, params) == independent
    assert client.verify_signature(url, params, independent)
    assert not client.verify_signature(url, {**params, "Body": "Hello"}, independent)
    assert not client.verify_signature(url, params, "")
    inbound = Twilio.parse_inbound(params)
    assert inbound.opt_out and inbound.sender == "+33612345678"


# --- STOP keywords and segments -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop ", "STOPALL", "stop all", "Unsubscribe", "CANCEL", "end", "Quit", "ARRET",
     "arrêt", "Arrêt !", "ARRÊT.", "s t o p", "\tStop\n"],
)  # fmt: skip
def test_stop_keywords_opt_out(text):
    assert is_stop(text)


@pytest.mark.parametrize("text", ["", "Don't stop", "STOP au 36111", "stopper", "Merci", "ENDING", "ARRETEZ"])
def test_other_messages_are_not_opt_outs(text):
    assert not is_stop(text)


def test_segments_gsm7_and_ucs2():
    assert segments("Bonjour, -20 % samedi !") == ("gsm7", 1)
    assert segments("é" * 160) == ("gsm7", 1)
    assert segments("a" * 161) == ("gsm7", 2)
    assert segments("€" * 80) == ("gsm7", 1)  # extension characters count twice: 160 septets
    assert segments("€" * 81) == ("gsm7", 2)
    assert segments("Offre spéciale ✨") == ("ucs2", 1)
    assert segments("ê" * 71) == ("ucs2", 2)  # ê is not in GSM-7
