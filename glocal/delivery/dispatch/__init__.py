"""Dispatch: workers claim due outbox rows atomically, re-check consent, render and send them, and record
every state change.

Guarantees (COMPLIANCE.md, "Delivery reliability"):

- A row is claimed by one worker only: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
  ``UPDATE … WHERE status = 'queued'`` on SQLite (whose write transactions are serialised).
- A message is marked sent right after the provider accepted it, in its own transaction: a worker killed
  at any point loses nothing (its claimed rows go back to the queue once its heartbeat stops), and a
  duplicate is only possible between the SMTP final "." and that commit. An attempt whose outcome is
  unknown (connection lost after the ".") is retried and flagged ``possible_duplicate``.
- Consent and the opposition list are re-checked for every small batch right before it is sent: an
  unsubscribe takes effect before any further message goes out.
- Temporary failures come back later (``bounces.next_retry``: exponential backoff, bounded lifetime);
  permanent ones stop; a hard bounce puts the address on the opposition list; a sender-policy refusal
  (5.7.x) alerts the operator and keeps the recipient.
- Quiet hours and retries are ``not_before`` in the database, never a broker countdown.

Modules: :mod:`.providers` (the email and SMS transports and the DKIM key, from the settings),
:mod:`.outbox` (claims, requeueing a dead worker's rows, giving rows back), :mod:`.sending` (the
:class:`Dispatcher` and :func:`mark_sent`), :mod:`.worker` (the housekeeping :func:`tick`,
:func:`drain`, :class:`DeliveryWorker`). The names below are the package's interface; a test that
replaces a function patches it in the module that calls it (e.g. ``sending.mark_sent``).
"""

from .outbox import (
    CLAIM_SIZE,
    DONE,
    LOCK_RETRIES,
    PENDING,
    alive_workers,
    claim,
    release_claims,
    requeue_stale,
)
from .providers import (
    AnymailEmail,
    CaptureSms,
    EmailTransport,
    SmsTransport,
    dkim_key,
    email_transport,
    sms_transport,
)
from .sending import (
    CONTACT_FIELDS,
    RECHECK_SIZE,
    Dispatcher,
    Outcome,
    mark_sent,
    recipient_context,
    sender_domain,
)
from .worker import DeliveryWorker, drain, due_count, finish_campaigns, tick

__all__ = [
    "CLAIM_SIZE",
    "CONTACT_FIELDS",
    "DONE",
    "LOCK_RETRIES",
    "PENDING",
    "RECHECK_SIZE",
    "AnymailEmail",
    "CaptureSms",
    "DeliveryWorker",
    "Dispatcher",
    "EmailTransport",
    "Outcome",
    "SmsTransport",
    "alive_workers",
    "claim",
    "dkim_key",
    "drain",
    "due_count",
    "email_transport",
    "finish_campaigns",
    "mark_sent",
    "recipient_context",
    "release_claims",
    "requeue_stale",
    "sender_domain",
    "sms_transport",
    "tick",
]
