"""Bounce and complaint classification (pure): SMTP replies, RFC 3463 enhanced status codes, DSN and ARF.

Rules (../shared/COMPLIANCE.md, "Email"):
- 2.x.x: delivered.
- 4.x.x (and 4yz replies, lost connections): temporary — retry with exponential backoff, for a bounded
  lifetime (:func:`next_retry`); past it the message fails permanently, the recipient is NOT suppressed.
- 5.1.x (addressing) and 5.2.x (mailbox): the recipient's fault — hard bounce, suppress after 1.
- 5.7.x (security or policy): usually about the SENDER (DMARC, reputation, blocklists) — alert the
  operator, fail the message, do NOT suppress the recipient.
- Other 5.x.x (mail system, network, protocol, content): the message fails; the recipient is kept.
- A complaint (ARF feedback report, or a provider's complaint event) — suppress.
Without an enhanced code, the basic reply code decides: 550/551/553 are recipient errors (RFC 5321
"mailbox unavailable", "user not local", "mailbox name not allowed").
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from enum import StrEnum

ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
RECIPIENT_BASIC_CODES = frozenset({550, 551, 553})


class BounceAction(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # temporary failure: try again later
    HARD_BOUNCE = "hard_bounce"  # the address is bad: suppress
    SENDER_POLICY = "sender_policy"  # our side is refused: alert the operator, keep the recipient
    FAILED = "failed"  # this message failed for good; the recipient is kept
    COMPLAINT = "complaint"  # marked as spam: suppress


@dataclass(frozen=True)
class Classification:
    action: BounceAction
    code: int | None = None
    enhanced: str | None = None
    text: str = ""

    @property
    def suppress(self) -> bool:
        """Add the recipient to the suppression (opposition) list for the channel."""
        return self.action in (BounceAction.HARD_BOUNCE, BounceAction.COMPLAINT)

    @property
    def retry(self) -> bool:
        return self.action == BounceAction.RETRY

    @property
    def alert_operator(self) -> bool:
        return self.action == BounceAction.SENDER_POLICY

    @property
    def permanent(self) -> bool:
        return self.action not in (BounceAction.RETRY, BounceAction.DELIVERED)


def parse_enhanced(text: str | bytes | None) -> str | None:
    """The first RFC 3463 status code ("5.1.1") in a reply or diagnostic text, or ``None``."""
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    match = ENHANCED_RE.search(text)
    return ".".join(match.groups()) if match else None


def classify_enhanced(enhanced: str, *, code: int | None = None, text: str = "") -> Classification:
    klass, subject, _detail = (int(part) for part in enhanced.split("."))
    if klass == 2:
        action = BounceAction.DELIVERED
    elif klass == 4:
        action = BounceAction.RETRY
    elif subject in (1, 2):
        action = BounceAction.HARD_BOUNCE
    elif subject == 7:
        action = BounceAction.SENDER_POLICY
    else:
        action = BounceAction.FAILED
    return Classification(action, code, enhanced, text)


def classify_smtp(code: int | None, message: str | bytes = "") -> Classification:
    """Classify an SMTP reply (``code`` and its text). ``code=None`` means no reply (connection lost or
    refused, timeout): temporary."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else (message or "")
    enhanced = parse_enhanced(text)
    if code is not None and enhanced and str(code)[0] != enhanced[0]:
        enhanced = None  # an enhanced code must agree with the reply's class (RFC 3463 §2)
    if enhanced:
        return classify_enhanced(enhanced, code=code, text=text)
    if code is None or 400 <= code < 500:
        return Classification(BounceAction.RETRY, code, None, text)
    if 200 <= code < 400:
        return Classification(BounceAction.DELIVERED, code, None, text)
    if code in RECIPIENT_BASIC_CODES:
        return Classification(BounceAction.HARD_BOUNCE, code, None, text)
    return Classification(BounceAction.FAILED, code, None, text)


def complaint(text: str = "") -> Classification:
    return Classification(BounceAction.COMPLAINT, None, None, text)


# --- Retries -------------------------------------------------------------------------------------------

RETRY_BASE = dt.timedelta(minutes=5)
RETRY_MAX_DELAY = dt.timedelta(hours=4)
RETRY_LIFETIME = dt.timedelta(days=3)


def next_retry(
    attempt: int,
    *,
    first_failure_at: dt.datetime,
    now: dt.datetime,
    stable_id: str = "",
    base: dt.timedelta = RETRY_BASE,
    max_delay: dt.timedelta = RETRY_MAX_DELAY,
    lifetime: dt.timedelta = RETRY_LIFETIME,
) -> dt.datetime | None:
    """When to try again after the ``attempt``-th temporary failure (1 = the first), or ``None`` when the
    lifetime is spent (the message then fails permanently).

    Delay = base × 2^(attempt-1), capped at ``max_delay``, plus up to 10% spread derived from the
    message's stable id (deterministic, so two workers agree, yet retries of a campaign do not all land
    on the same second).
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    delay = min(base * (2 ** min(attempt - 1, 30)), max_delay)
    spread = int.from_bytes(hashlib.sha256(f"{stable_id}:{attempt}".encode()).digest()[:2], "big") / 65535
    delay += delay * 0.1 * spread
    when = now + delay
    if when - first_failure_at > lifetime:
        return None
    return when


# --- Reports: DSN (RFC 3464) and ARF (RFC 5965) --------------------------------------------------------


@dataclass(frozen=True)
class RecipientReport:
    recipient: str
    dsn_action: str  # failed, delayed, delivered, relayed, expanded; "abuse" etc. for feedback reports
    status: str | None
    diagnostic: str
    classification: Classification


@dataclass(frozen=True)
class Report:
    kind: str  # "dsn" or "feedback"
    original_message_id: str | None
    recipients: list[RecipientReport] = field(default_factory=list)


def _address(value: str | None) -> str:
    """ "rfc822; jane@example.com" → "jane@example.com"."""
    if not value:
        return ""
    _type, _sep, address = str(value).partition(";")
    return (address or _type).strip().strip("<>")


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else str(part.get_payload()).encode()
            headers = email.message_from_bytes(raw, policy=policy.compat32)
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, Message) and inner_msg.get("Message-ID"):
                return str(inner_msg["Message-ID"]).strip()
    return None


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Some parsers leave the delivery-status body as text: parse its blank-line separated blocks.
    text = payload if isinstance(payload, str) else ""
    return [
        email.message_from_string(chunk.strip() + "\n") for chunk in re.split(r"\r?\n\r?\n", text) if chunk
    ]


def _dsn_classification(action: str, status: str | None, diagnostic: str) -> Classification:
    """A DSN recipient's outcome: delayed → retry, delivered (relayed, expanded) → delivered; anything
    else is a failure, classified by its enhanced status or SMTP code."""
    if action == "delayed":
        return Classification(BounceAction.RETRY, None, status, diagnostic)
    if action in ("delivered", "relayed", "expanded"):
        return Classification(BounceAction.DELIVERED, None, status, diagnostic)
    code_match = re.search(r"smtp;\s*(\d{3})", diagnostic, re.IGNORECASE)
    code = int(code_match.group(1)) if code_match else None
    if status:
        classification = classify_enhanced(status, code=code, text=diagnostic)
    else:
        classification = classify_smtp(code or 550, diagnostic)
    if classification.action in (BounceAction.RETRY, BounceAction.DELIVERED):
        # "failed" means the reporting MTA gave up: no retry, but the recipient is kept
        classification = Classification(BounceAction.FAILED, code, status, diagnostic)
    return classification


def _feedback_recipients(message: Message) -> list[RecipientReport]:
    """An ARF report's complaints, one per message/feedback-report part."""
    recipients = []
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            blocks = _status_blocks(part)
            fields = blocks[0] if blocks else Message()
            recipient = _address(fields.get("Original-Rcpt-To"))
            feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower()
            recipients.append(RecipientReport(recipient, feedback, None, "", complaint(feedback)))
    return recipients


def _dsn_recipients(message: Message) -> list[RecipientReport]:
    """A DSN's per-recipient blocks (the first block of each delivery-status part is per-message)."""
    recipients = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part)[1:]:
            recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
            action = str(block.get("Action", "")).strip().lower()
            status = parse_enhanced(str(block.get("Status", "")))
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            classification = _dsn_classification(action, status, diagnostic)
            recipients.append(RecipientReport(recipient, action, status, diagnostic, classification))
    return recipients


def parse_report(raw: bytes) -> Report | None:
    """A DSN (multipart/report; report-type=delivery-status) or an ARF complaint (report-type=
    feedback-report); ``None`` for anything else (an ordinary reply, an auto-responder)."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    report_type = str(message.get_param("report-type") or "").lower()
    original = _original_message_id(message)
    if report_type == "feedback-report":
        return Report("feedback", original, _feedback_recipients(message))
    if report_type != "delivery-status":
        return None
    return Report("dsn", original, _dsn_recipients(message))
