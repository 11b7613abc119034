"""What reaches the mailbox pipe (``glocal ingest_bounce``): a recipient's mail to a message's mailto
unsubscribe address, or a bounce / complaint report (:func:`glocal.delivery.feedback.email_bounce_report`).

Every campaign email offers ``List-Unsubscribe: <https://HOST/u/TOKEN/>, <mailto:unsubscribe+ID.MAC@DOMAIN>``
(RFC 2369 / 8058). The mailto's local part carries the message's stable id and its HMAC
(:func:`glocal.delivery.tokens.mailto_local_part`); the MTA routes ``unsubscribe@DOMAIN`` (with
``recipient_delimiter = +``) to the same pipe as the bounces. A mail whose envelope recipient (given by the
MTA) or Delivered-To / X-Original-To / To / Cc address carries a valid token opts the message's contact out
of email exactly as the one-click POST does (``services.unsubscribe``: ledger, opposition list, an
*unsubscribed* event on the message; a replay changes nothing). An invalid token is logged and ignored.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import logging
from collections.abc import Iterable

from . import feedback, services, tokens
from .models import Message, MessageEvent

log = logging.getLogger(__name__)

MAILTO_WORDING = "Unsubscribe by email (List-Unsubscribe mailto)"
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def mailto_stable_id(addresses: Iterable[str]) -> str | None:
    """The stable id of the first address whose local part is a valid mailto unsubscribe token."""
    for address in addresses:
        local = str(address or "").strip().strip("<>").rpartition("@")[0]
        if not local.lower().startswith("unsubscribe+"):
            continue
        try:
            return tokens.read_mailto_local_part(local)
        except tokens.InvalidToken:
            log.warning("mailto unsubscribe with an invalid token, ignored")
    return None


def _addresses(raw: bytes, recipient: str | None) -> list[str]:
    found = [recipient] if recipient else []
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        for name in ADDRESS_HEADERS:
            for value in parsed.get_all(name) or []:
                found += [address for _name, address in email.utils.getaddresses([str(value)])]
    except (ValueError, TypeError, LookupError, AttributeError, email.errors.MessageError):
        log.info("unreadable inbound mail", exc_info=True)
    return found


def mailto_unsubscribe(raw: bytes, recipient: str | None = None) -> feedback.Feedback | None:
    """The contact's email opt-out when the mail went to a valid ``unsubscribe+TOKEN@`` address; None
    when none of its addresses carries a valid token (not an unsubscribe)."""
    stable_id = mailto_stable_id(_addresses(raw, recipient))
    if stable_id is None:
        return None
    # Token lookup: the stable id comes from an address whose HMAC was just verified.
    message = Message.unscoped.filter(channel="email", stable_id=stable_id).select_related("contact").first()
    result = feedback.Feedback(message)
    contact = message.contact if message is not None else None
    if message is not None and contact is None and message.to_address:
        # a rented list's recipient (no contact): their address goes on the opposition list
        rented = tokens.UnsubscribeClaim(0, message.organisation_id, "email", stable_id)
        services.unsubscribe_address(rented, message)
        result.recorded.append(MessageEvent.Kind.UNSUBSCRIBED)
        return result
    if message is None or contact is None:
        log.info("mailto unsubscribe for a message or contact that no longer exists (%s)", stable_id)
        return result
    claim = tokens.UnsubscribeClaim(contact.pk, message.organisation_id, "email", stable_id)
    was_subscribed = services.is_subscribed(contact, "email")
    unsubscribed = MessageEvent.unscoped.filter(message_id=message.pk, kind=MessageEvent.Kind.UNSUBSCRIBED)
    before = unsubscribed.count()
    services.unsubscribe(claim, contact, wording=MAILTO_WORDING)
    if unsubscribed.count() > before:
        result.recorded.append(MessageEvent.Kind.UNSUBSCRIBED)
    if was_subscribed:
        result.opted_out.append(contact.pk)
    return result


def email_inbound(raw: bytes, recipient: str | None = None) -> feedback.Feedback | None:
    """A mailto unsubscribe, else a DSN / ARF report; None when it is neither."""
    found = mailto_unsubscribe(raw, recipient)
    return found if found is not None else feedback.email_bounce_report(raw)
