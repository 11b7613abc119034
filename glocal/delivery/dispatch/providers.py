"""The sending channels, from the settings: the email transport (SMTP, or a provider API through
django-anymail), the SMS transport (a JSON gateway, Twilio, or the demo's capture) and the DKIM key the
dispatcher signs with."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from ..transports.base import TransportError
from ..transports.email_smtp import DkimKey, SmtpConnection, SmtpSettings, rate_limiter
from ..transports.sms_http import JsonGateway, Sms, SmsSent, Twilio


class EmailTransport(Protocol):
    def send_bytes(
        self, *, envelope_from: str, recipient: str, data: bytes, message_id: str, sign: Any = None
    ) -> Any: ...

    def close(self) -> None: ...


class SmsTransport(Protocol):
    def send(self, sms: Sms) -> Any: ...


@dataclass
class CaptureSms:
    """The demo's SMS "provider": the text is kept on the message row and shown on the sent-messages page."""

    name: str = "capture"

    def send(self, sms: Sms) -> Any:
        return SmsSent(provider_id=f"capture-{sms.stable_id}", status="delivered")


class AnymailEmail:
    """Email through a provider API with django-anymail (``GLOCAL_EMAIL_PROVIDER`` = an Anymail backend
    path). The message built by Glocal is handed over as parts and headers; the stable id rides as the
    Message-ID and as the provider's metadata."""

    def __init__(self, backend: str) -> None:
        from django.core.mail import get_connection

        self.connection = get_connection(backend)

    def send_bytes(
        self, *, envelope_from: str, recipient: str, data: bytes, message_id: str, sign: Any = None
    ) -> Any:
        """``sign`` is not used: the provider builds and signs the message it sends."""
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
        from django.core.mail import EmailMultiAlternatives

        parsed = email.message_from_bytes(data, policy=email.policy.default)
        text = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        keep = ("Reply-To", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID")
        mail = EmailMultiAlternatives(
            subject=str(parsed["Subject"] or ""),
            body=text.get_content() if text is not None else "",
            from_email=str(parsed["From"]),
            to=[recipient],
            headers={k: str(parsed[k]) for k in keep if parsed[k]},
            connection=self.connection,
        )
        if html is not None:
            mail.attach_alternative(html.get_content(), "text/html")
        mail.metadata = {"glocal_id": message_id}  # type: ignore[attr-defined]
        try:
            mail.send()
        except AnymailRecipientsRefused as exc:
            raise TransportError(f"refused: {exc}", permanent=True, code=550, enhanced="5.1.1") from exc
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None) or 0
            raise TransportError(
                f"provider: {exc}", permanent=400 <= status < 500 and status != 429, code=status or None
            ) from exc
        status = mail.anymail_status  # type: ignore[attr-defined]
        return status.message_id or message_id

    def close(self) -> None:
        self.connection.close()


def email_transport() -> EmailTransport:
    backend = getattr(settings, "GLOCAL_EMAIL_PROVIDER", "")
    if backend:
        return AnymailEmail(backend)
    limiter = None
    rate = float(getattr(settings, "GLOCAL_SMTP_RATE", 0) or 0)
    if rate:
        limiter = rate_limiter(
            f"smtp:{settings.EMAIL_HOST}:{settings.EMAIL_PORT}", rate, burst=max(1, int(rate))
        )
    return SmtpConnection(
        SmtpSettings(
            host=settings.GLOCAL_SMTP_HOST or settings.EMAIL_HOST,
            port=int(settings.GLOCAL_SMTP_PORT or settings.EMAIL_PORT),
            username=settings.EMAIL_HOST_USER,
            password=settings.EMAIL_HOST_PASSWORD,
            starttls=bool(settings.EMAIL_USE_TLS),
            timeout=float(getattr(settings, "GLOCAL_SMTP_TIMEOUT", 30)),
        ),
        limiter=limiter,
    )


def sms_transport() -> SmsTransport:
    provider = settings.GLOCAL_SMS_PROVIDER
    limiter = None
    rate = float(getattr(settings, "GLOCAL_SMS_RATE", 0) or 0)
    if rate:
        limiter = rate_limiter(f"sms:{provider}", rate, burst=max(1, int(rate)))
    if provider == "json":
        return JsonGateway(settings.GLOCAL_SMS_URL, settings.GLOCAL_SMS_TOKEN, limiter=limiter)
    if provider == "twilio":
        return Twilio(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            base_url=settings.TWILIO_API_URL,
            status_callback=f"{settings.GLOCAL_PUBLIC_URL.rstrip('/')}/hooks/sms/twilio/status/",
            limiter=limiter,
        )
    return CaptureSms()


def dkim_key() -> DkimKey | None:
    path = getattr(settings, "GLOCAL_DKIM_KEY_FILE", "")
    if not path:
        return None
    with open(path, "rb") as handle:
        return DkimKey(settings.GLOCAL_DKIM_DOMAIN, settings.GLOCAL_DKIM_SELECTOR, handle.read())
