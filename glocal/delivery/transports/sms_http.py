"""SMS over HTTP: a generic JSON gateway and Twilio's Messages API; receipts, inbound STOP, segments.

Both adapters expose ``send(sms) -> SmsSent`` and raise
:class:`~glocal.delivery.transports.base.TransportError`: HTTP 429 and 5xx (and a refused connection)
are temporary; other 4xx are permanent; a connection lost after the request was sent is an
``unknown_outcome`` (the provider may have accepted it). The generic gateway receives the message's
stable id as an idempotency key, so the engine may resend after an unknown outcome without a duplicate.
Twilio's Messages API has no idempotency key: the stable id travels in the StatusCallback URL so
receipts can be matched, and an unknown outcome is counted as a possible duplicate.

Inbound messages whose whole text is a STOP keyword (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
ARRET — any case, accents and spaces ignored) become an opt-out instruction for the SMS channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from glocal.delivery.transports.base import TransportError
from glocal.delivery.transports.email_smtp import Limiter

STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET"})
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Sms:
    stable_id: str
    to: str  # E.164
    text: str
    sender: str  # a registered number or an alphanumeric sender id
    reference: str = ""  # the signed reference echoed by Twilio's status callback (``?m=``); "": stable id


@dataclass(frozen=True)
class SmsSent:
    provider_id: str
    status: str
    segments: int | None = None


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_id: str
    status: str  # normalised: queued, sent, delivered, undelivered, failed
    error_code: str | None = None
    stable_id: str | None = None

    @property
    def final(self) -> bool:
        return self.status in ("delivered", "undelivered", "failed")

    @property
    def invalid_number(self) -> bool:
        return self.error_code in INVALID_NUMBER_CODES


@dataclass(frozen=True)
class InboundSms:
    sender: str
    recipient: str
    text: str

    @property
    def opt_out(self) -> bool:
        return is_stop(self.text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\s.!,;:]+", "", letters).upper()


def is_stop(text: str) -> bool:
    """True when the whole message is a STOP keyword ("Stop", " arrêt ", "STOP ALL", "Arrêt !")."""
    return _fold(text or "") in STOP_KEYWORDS


# --- Segments (GSM 03.38 vs UCS-2) --------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int]:
    """("gsm7" or "ucs2", number of SMS segments): 160/153 GSM-7 septets, 70/67 UCS-2 units."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        septets = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "gsm7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else -(-units // 67)


# --- HTTP --------------------------------------------------------------------------------------------


def _request(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int, Mapping[str, str], bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"unsupported provider URL {url!r}")
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        try:
            conn.request("POST", path, body=body, headers=dict(headers))
        except OSError as error:  # nothing reached the provider: safe to retry
            raise TransportError(f"cannot reach {parts.hostname}: {error}") from error
        try:
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except (OSError, http.client.HTTPException) as error:
            raise TransportError(
                f"no answer from {parts.hostname} after the request was sent: {error}", unknown_outcome=True
            ) from error
    finally:
        conn.close()


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check(sms: Sms) -> None:
    if not E164_RE.match(sms.to):
        raise TransportError(f"not an E.164 number: {sms.to!r}", permanent=True)


def _http_error(provider: str, status: int, detail: str, code: str | int | None = None) -> TransportError:
    retryable = status == 429 or status >= 500
    return TransportError(
        f"{provider} answered {status}: {detail}",
        permanent=not retryable,
        code=status,
        enhanced=str(code) if code is not None else None,
    )


class JsonGateway:
    """A generic gateway: ``POST {url}`` with JSON ``{to, from, text, idempotency_key}``, a bearer token
    and an ``Idempotency-Key`` header; answers ``{"id": ..., "status": ...}``."""

    name = "json-gateway"

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, limiter: Limiter | None = None):
        self.url, self.token, self.timeout, self.limiter = url, token, timeout, limiter

    def send(self, sms: Sms) -> SmsSent:
        _check(sms)
        if self.limiter is not None:
            self.limiter.acquire()
        body = json.dumps(
            {"to": sms.to, "from": sms.sender, "text": sms.text, "idempotency_key": sms.stable_id}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": sms.stable_id,
        }
        status, _headers, raw = _request(self.url, body, headers, self.timeout)
        data = _json(raw)
        if 200 <= status < 300 and data.get("id"):
            return SmsSent(str(data["id"]), str(data.get("status", "queued")), data.get("segments"))
        detail = str(data.get("error") or data.get("message") or raw[:200].decode("utf-8", "replace"))
        if 200 <= status < 300:
            raise TransportError(f"{self.name}: answer without an id: {detail}", unknown_outcome=True)
        raise _http_error(self.name, status, detail, data.get("code"))

    @staticmethod
    def parse_receipt(payload: Mapping[str, object]) -> DeliveryReceipt:
        status = str(payload.get("status", "")).lower()
        return DeliveryReceipt(
            provider_id=str(payload["id"]),
            status=status if status in ("queued", "sent", "delivered", "undelivered", "failed") else "sent",
            error_code=str(payload["error_code"]) if payload.get("error_code") else None,
            stable_id=str(payload["idempotency_key"]) if payload.get("idempotency_key") else None,
        )

    @staticmethod
    def parse_inbound(payload: Mapping[str, object]) -> InboundSms:
        return InboundSms(
            str(payload.get("from", "")), str(payload.get("to", "")), str(payload.get("text", ""))
        )


# Twilio error codes (https://www.twilio.com/docs/api/errors) the engine acts upon.
TWILIO_OPTED_OUT = 21610  # the recipient replied STOP to this sender: record the opt-out
TWILIO_INVALID_TO = frozenset({21211, 21614, 21217})  # not a (mobile) number
TWILIO_ACCOUNT_PROBLEMS = frozenset({20003, 20404, 21408, 21606, 21612})  # operator must act
TWILIO_RATE_LIMITED = frozenset({20429, 14107})
INVALID_NUMBER_CODES = frozenset({"30003", "30005", "30006", "21211", "21614"})
TWILIO_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


class TwilioError(TransportError):
    """A Twilio API error; ``twilio_code`` is Twilio's own error number."""

    def __init__(self, message: str, *, twilio_code: int | None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.twilio_code = twilio_code

    @property
    def opted_out(self) -> bool:
        return self.twilio_code == TWILIO_OPTED_OUT

    @property
    def invalid_number(self) -> bool:
        return self.twilio_code in TWILIO_INVALID_TO

    @property
    def alert_operator(self) -> bool:
        return self.twilio_code in TWILIO_ACCOUNT_PROBLEMS


class Twilio:
    """Twilio's Messages API: form-encoded ``POST /2010-04-01/Accounts/{sid}/Messages.json``, basic auth."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = "https://api.twilio.com",
        status_callback: str | None = None,
        messaging_service_sid: str | None = None,
        timeout: float = 10.0,
        limiter: Limiter | None = None,
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.base_url = base_url.rstrip("/")
        self.status_callback = status_callback
        self.messaging_service_sid = messaging_service_sid
        self.timeout, self.limiter = timeout, limiter

    def send(self, sms: Sms) -> SmsSent:
        _check(sms)
        if self.limiter is not None:
            self.limiter.acquire()
        form = {"To": sms.to, "Body": sms.text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = sms.sender
        if self.status_callback:
            joiner = "&" if "?" in self.status_callback else "?"
            reference = urlencode({"m": sms.reference or sms.stable_id})
            form["StatusCallback"] = f"{self.status_callback}{joiner}{reference}"
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {credentials}",
            "Accept": "application/json",
        }
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        status, _headers, raw = _request(url, urlencode(form).encode(), headers, self.timeout)
        data = _json(raw)
        if status in (200, 201) and data.get("sid"):
            segments = data.get("num_segments")
            return SmsSent(
                str(data["sid"]),
                TWILIO_STATUSES.get(str(data.get("status")), "queued"),
                int(segments) if segments and str(segments).isdigit() else None,
            )
        code = data.get("code")
        twilio_code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
        message = str(data.get("message") or raw[:200].decode("utf-8", "replace"))
        retryable = status == 429 or status >= 500 or twilio_code in TWILIO_RATE_LIMITED
        raise TwilioError(
            f"twilio answered {status} (error {twilio_code}): {message}",
            twilio_code=twilio_code,
            permanent=not retryable,
            code=status,
            enhanced=str(twilio_code) if twilio_code else None,
        )

    @staticmethod
    def parse_status_callback(
        form: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> DeliveryReceipt:
        """A status callback (form fields MessageSid, MessageStatus, ErrorCode; our ``m`` in the query)."""
        return DeliveryReceipt(
            provider_id=form["MessageSid"],
            status=TWILIO_STATUSES.get(form.get("MessageStatus", ""), "sent"),
            error_code=form.get("ErrorCode") or None,
            stable_id=(query or {}).get("m") or None,
        )

    @staticmethod
    def parse_inbound(form: Mapping[str, str]) -> InboundSms:
        return InboundSms(form.get("From", ""), form.get("To", ""), form.get("Body", ""))

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the full URL then each POST name+value, sorted."""
        payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
        digest = hmac.new(self.auth_token.encode(), payload.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def verify_signature(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Webhooks are authenticated: refuse any callback whose signature does not match."""
        return hmac.compare_digest(self.signature(url, params), signature or "")
