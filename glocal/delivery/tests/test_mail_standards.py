"""Campaign email standards, end to end: the mailto unsubscribe goes through the mailbox pipe, and the
dispatcher's messages are accepted (and DKIM-verify) by servers with and without 8BITMIME."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from glocal.audience.models import ConsentEvent, Contact, Suppression
from glocal.delivery import inbound
from glocal.delivery.models import Message, MessageEvent
from glocal.delivery.tests.test_feedback import sent_email, snapshot  # noqa: F401 - fixture
from glocal.delivery.tests.test_providers import kinds

pytestmark = pytest.mark.django_db

MAILTO = re.compile(r"<mailto:([^>?]+)>")


@pytest.fixture
def emails(sent_email: dict[int, Message]) -> dict[int, Message]:  # noqa: F811
    """Three emails of store A's campaign, sent by the dispatcher to a local SMTP server."""
    return sent_email


def received_for(smtp_server: Any, address: str) -> Any:
    return next(m for _f, rcpts, m in smtp_server.messages if rcpts == [address])


def pipe(monkeypatch: Any, raw: bytes, *args: str) -> str:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("ingest_bounce", *args, stdout=out)
    return out.getvalue().strip()


def reply_to(address: str, sender: str, **headers: str) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: <{address}>",
        "Subject: unsubscribe",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\nPlease unsubscribe me.\r\n").encode()


def effects(contact: Contact, message: Message) -> dict[str, Any]:
    contact.refresh_from_db()
    return {
        "email": contact.consent_email,
        "sms": contact.consent_sms,
        "ledger": list(
            ConsentEvent.unscoped.filter(contact=contact).order_by("pk").values_list("channel", "status")
        ),
        "suppressed": Suppression.unscoped.filter(channel="email", value_hash=contact.email_hash).count(),
        "events": sorted(k for k in kinds(message) if k == MessageEvent.Kind.UNSUBSCRIBED),
    }


def test_a_mail_to_the_mailto_unsubscribe_address_opts_out_like_the_one_click_post(
    emails,
    smtp_server,
    monkeypatch,
):
    (first, second, third) = sorted(emails.values(), key=lambda m: m.pk)
    contacts = {m.pk: Contact.unscoped.get(pk=m.contact_id) for m in (first, second, third)}
    headers = {
        m.pk: received_for(smtp_server, m.to_address)["List-Unsubscribe"] for m in (first, second, third)
    }
    # the mailto names the message, with a token (not the bare unsubscribe@ address)
    address = MAILTO.search(headers[first.pk]).group(1)
    assert address.startswith(f"unsubscribe+{first.stable_id}.") and address.endswith("@glocal.localhost")
    assert len(address.rpartition("@")[0]) <= 64  # RFC 5321's local-part limit
    before = effects(contacts[first.pk], first)
    assert before["email"] == "opt_in"

    # when the recipient's client sends the unsubscribe mail, and the MTA pipes it to the command
    out = pipe(monkeypatch, reply_to(address, first.to_address), "--recipient", address)
    assert out == f"{first.stable_id}: unsubscribed"
    by_mail = effects(contacts[first.pk], first)
    assert by_mail["email"] == "opt_out" and by_mail["sms"] == before["sms"]
    assert (
        ConsentEvent.unscoped.filter(contact=contacts[first.pk], wording=inbound.MAILTO_WORDING).count() == 1
    )

    # then it did exactly what the one-click POST does for another recipient
    url = re.search(r"<https?://testserver(/u/[^>]+)>", headers[second.pk]).group(1)
    assert Client().post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    by_post = effects(contacts[second.pk], second)
    assert by_mail == by_post

    # a replay records nothing more
    state = snapshot()
    assert pipe(monkeypatch, reply_to(address, first.to_address)) == f"{first.stable_id}: nothing new"
    assert snapshot() == state

    # an address case-folded by a relay still works, read from Delivered-To (no --recipient)
    third_address = MAILTO.search(headers[third.pk]).group(1)
    raw = reply_to("list@elsewhere.example", third.to_address, **{"Delivered-To": third_address.upper()})
    assert pipe(monkeypatch, raw) == f"{third.stable_id}: unsubscribed"
    assert effects(contacts[third.pk], third)["email"] == "opt_out"


def test_a_forged_or_bare_mailto_unsubscribe_changes_nothing(emails, smtp_server, monkeypatch):
    message = next(iter(emails.values()))
    address = MAILTO.search(received_for(smtp_server, message.to_address)["List-Unsubscribe"]).group(1)
    local, _at, domain = address.rpartition("@")
    forged = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    other = f"unsubscribe+g{message.campaign_id}-{message.contact_id + 1}.{local[-24:]}@{domain}"
    state = snapshot()
    for attempt in (forged, other, f"unsubscribe@{domain}"):
        with pytest.raises(CommandError) as refused:
            pipe(monkeypatch, reply_to(attempt, message.to_address), "--recipient", attempt)
        assert refused.value.returncode == 1
    assert snapshot() == state
