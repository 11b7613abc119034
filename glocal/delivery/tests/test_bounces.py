"""Bounce classification per RFC 3463, retries with a bounded lifetime, DSN and ARF reports."""

from __future__ import annotations

import datetime as dt

import pytest

from glocal.delivery.bounces import (
    BounceAction,
    classify_smtp,
    next_retry,
    parse_enhanced,
    parse_report,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("code", "text", "action", "suppress", "retry", "alert"),
    [
        (
            550,
            "5.1.1 <jane@example.com>: Recipient address rejected: User unknown",
            "hard_bounce",
            True,
            False,
            False,
        ),
        (552, "5.2.2 Mailbox full", "hard_bounce", True, False, False),
        (
            550,
            "5.2.1 The email account that you tried to reach is disabled",
            "hard_bounce",
            True,
            False,
            False,
        ),
        (550, "5.7.1 Message rejected due to DMARC policy", "sender_policy", False, False, True),
        (
            554,
            "5.7.26 Unauthenticated email from example.com is not accepted",
            "sender_policy",
            False,
            False,
            True,
        ),
        (421, "4.7.0 Try again later, closing connection", "retry", False, True, False),
        (451, "4.3.0 Mail server temporarily rejected message", "retry", False, True, False),
        (450, "Greylisted, please retry", "retry", False, True, False),
        (554, "5.6.0 Message content rejected", "failed", False, False, False),
        (550, "Requested action not taken: mailbox unavailable", "hard_bounce", True, False, False),
        (553, "mailbox name not allowed", "hard_bounce", True, False, False),
        (554, "Transaction failed", "failed", False, False, False),
        (250, "2.0.0 Ok: queued as 12345", "delivered", False, False, False),
        (None, "Connection lost", "retry", False, True, False),
    ],
)
def test_classify_smtp_replies(code, text, action, suppress, retry, alert):
    result = classify_smtp(code, text)
    assert result.action == BounceAction(action)
    assert (result.suppress, result.retry, result.alert_operator) == (suppress, retry, alert)
    assert result.code == code


def test_enhanced_code_parsing_and_class_agreement():
    assert parse_enhanced("550 5.1.1 User unknown") == "5.1.1"
    assert parse_enhanced(b"421-4.7.28 rate limited") == "4.7.28"
    assert parse_enhanced("version 1.2.3.4 only") is None
    assert parse_enhanced("") is None
    # A 4xx reply carrying a 5.x.x code is inconsistent: the basic code wins (temporary)
    assert classify_smtp(450, "5.1.1 whatever").action == BounceAction.RETRY


def test_backoff_grows_exponentially_is_capped_and_bounded():
    first = NOW
    delays = []
    for attempt in range(1, 8):
        when = next_retry(attempt, first_failure_at=first, now=NOW, stable_id="m-1")
        assert when is not None
        delays.append((when - NOW).total_seconds())
    assert delays == sorted(delays)
    assert 300 <= delays[0] <= 330  # 5 minutes + up to 10%
    assert 600 <= delays[1] <= 660
    assert delays[-1] <= 4 * 3600 * 1.1
    # Deterministic for one message id, spread between messages
    assert next_retry(2, first_failure_at=first, now=NOW, stable_id="m-1") == next_retry(
        2, first_failure_at=first, now=NOW, stable_id="m-1"
    )
    assert len({next_retry(3, first_failure_at=first, now=NOW, stable_id=f"m-{i}") for i in range(20)}) > 1
    # Past the lifetime: give up
    later = NOW + dt.timedelta(days=3)
    assert next_retry(30, first_failure_at=first, now=later, stable_id="m-1") is None
    with pytest.raises(ValueError):
        next_retry(0, first_failure_at=first, now=NOW)


DSN = b"""From: MAILER-DAEMON@mx.example.net
To: bounces@glocal.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system. I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Fri, 20 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; jane@example.com
Original-Recipient: rfc822;jane@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <jane@example.com>: Recipient address
    rejected: User unknown in local recipient table

Final-Recipient: rfc822; paul@example.com
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.com[192.0.2.1]:25: Connection timed out

Final-Recipient: rfc822; ops@example.com
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 550 5.7.1 Service unavailable; client host blocked using a blocklist

--B1
Content-Type: text/rfc822-headers

From: Magasin A <magasin-a@glocal.example>
To: jane@example.com
Message-ID: <m-42.7f3a@glocal.example>
Subject: Foire aux vins

--B1--
"""

ARF = b"""From: feedback@mailbox.example
To: fbl@glocal.example
Subject: Complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F1"

--F1
Content-Type: text/plain

This is an email abuse report.

--F1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Rcpt-To: <jane@example.com>

--F1
Content-Type: message/rfc822

From: Magasin A <magasin-a@glocal.example>
To: jane@example.com
Message-ID: <m-43.1b2c@glocal.example>
Subject: Promo

Hello
--F1--
"""


def test_parse_dsn_per_recipient():
    report = parse_report(DSN)
    assert report is not None and report.kind == "dsn"
    assert report.original_message_id == "<m-42.7f3a@glocal.example>"
    by_rcpt = {r.recipient: r for r in report.recipients}
    assert set(by_rcpt) == {"jane@example.com", "paul@example.com", "ops@example.com"}
    jane = by_rcpt["jane@example.com"]
    assert (jane.dsn_action, jane.status, jane.classification.action) == ("failed", "5.1.1", "hard_bounce")
    assert jane.classification.suppress and jane.classification.code == 550
    assert "User unknown" in jane.diagnostic
    assert by_rcpt["paul@example.com"].classification.retry
    ops = by_rcpt["ops@example.com"].classification
    assert ops.alert_operator and not ops.suppress


def test_failed_dsn_with_a_temporary_status_is_a_permanent_failure_without_suppression():
    raw = DSN.replace(b"Status: 5.1.1", b"Status: 4.4.7").replace(b"550 5.1.1", b"450 4.4.7")
    report = parse_report(raw)
    assert report is not None
    jane = next(r for r in report.recipients if r.recipient == "jane@example.com")
    assert jane.classification.action == BounceAction.FAILED
    assert not jane.classification.suppress and not jane.classification.retry


def test_parse_arf_complaint_suppresses():
    report = parse_report(ARF)
    assert report is not None and report.kind == "feedback"
    assert report.original_message_id == "<m-43.1b2c@glocal.example>"
    (rcpt,) = report.recipients
    assert rcpt.recipient == "jane@example.com"
    assert rcpt.classification.action == BounceAction.COMPLAINT and rcpt.classification.suppress


def test_ordinary_messages_are_not_reports():
    assert parse_report(b"From: a@example.com\nSubject: Out of office\n\nI am away.\n") is None
    other = DSN.replace(b"report-type=delivery-status", b"report-type=disposition-notification")
    assert parse_report(other) is None
