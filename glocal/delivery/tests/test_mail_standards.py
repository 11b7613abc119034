"""Campaign email standards, end to end: the mailto unsubscribe goes through the mailbox pipe, and the
dispatcher's messages are accepted (and DKIM-verify) by servers with and without 8BITMIME."""

from __future__ import annotations

import email
import io
import re
import socket
from email import policy
from pathlib import Path
from typing import Any

import dkim
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from glocal.audience.models import ConsentEvent, Contact, Suppression
from glocal.campaigns.tests.conftest import add_contacts
from glocal.delivery import dispatch, inbound, launch
from glocal.delivery.models import Message, MessageEvent
from glocal.delivery.tests.test_engine import scheduled_campaign
from glocal.delivery.tests.test_feedback import sent_email, snapshot  # noqa: F401 - fixture
from glocal.delivery.tests.test_providers import kinds

pytestmark = pytest.mark.django_db

MAILTO = re.compile(r"<mailto:([^>?]+)>")


@pytest.fixture
def emails(sent_email: dict[int, Message]) -> dict[int, Message]:  # noqa: F811
    """Three emails of store A's campaign, sent by the dispatcher to a local SMTP server."""
    return sent_email


def found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match is not None, text
    return match.group(1)


def part(message: Any, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None
    return str(body.get_content())


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
    address = found(MAILTO, headers[first.pk])
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
    url = found(re.compile(r"<https?://testserver(/u/[^>]+)>"), headers[second.pk])
    assert Client().post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    by_post = effects(contacts[second.pk], second)
    assert by_mail == by_post

    # a replay records nothing more
    state = snapshot()
    assert pipe(monkeypatch, reply_to(address, first.to_address)) == f"{first.stable_id}: nothing new"
    assert snapshot() == state

    # an address case-folded by a relay still works, read from Delivered-To (no --recipient)
    third_address = found(MAILTO, headers[third.pk])
    raw = reply_to("list@elsewhere.example", third.to_address, **{"Delivered-To": third_address.upper()})
    assert pipe(monkeypatch, raw) == f"{third.stable_id}: unsubscribed"
    assert effects(contacts[third.pk], third)["email"] == "opt_out"


def test_a_forged_or_bare_mailto_unsubscribe_changes_nothing(emails, smtp_server, monkeypatch):
    message = next(iter(emails.values()))
    address = found(MAILTO, received_for(smtp_server, message.to_address)["List-Unsubscribe"])
    local, _at, domain = address.rpartition("@")
    forged = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    other = f"unsubscribe+g{message.campaign_id}-{message.contact_id + 1}.{local[-26:]}@{domain}"
    state = snapshot()
    for attempt in (forged, other, f"unsubscribe@{domain}"):
        with pytest.raises(CommandError) as refused:
            pipe(monkeypatch, reply_to(attempt, message.to_address), "--recipient", attempt)
        assert refused.value.returncode == 1
    assert snapshot() == state


# -- 8BITMIME, or a 7-bit form, DKIM-signed over what is sent ----------------------------------------

KEYS = Path(__file__).parent


class StrictRelay:
    """Refuses 8-bit data unless it came with BODY=8BITMIME (RFC 6152), as a strict relay does."""

    def __init__(self, offers_8bitmime: bool) -> None:
        self.offers_8bitmime = offers_8bitmime
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        raw = envelope.original_content
        announced = "BODY=8BITMIME" in [o.upper() for o in envelope.mail_options]
        if not raw.isascii() and not announced:
            return "554 5.6.1 8-bit data without BODY=8BITMIME"
        self.received.append((list(envelope.mail_options), raw))
        return "250 2.0.0 Ok: queued"


@pytest.fixture(params=[False, True], ids=["without-8bitmime", "with-8bitmime"])
def relay(request, settings):
    from aiosmtpd.controller import Controller

    handler = StrictRelay(offers_8bitmime=request.param)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # aiosmtpd advertises 8BITMIME unless it decodes DATA as text (and then refuses BODY=8BITMIME)
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=not request.param)
    controller.start()
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", port
    try:
        yield handler
    finally:
        controller.stop()


def test_dispatched_mail_is_accepted_and_dkim_verifies_with_or_without_8bitmime(
    network, templates, settings, relay
):
    settings.GLOCAL_PUBLIC_URL = "https://glocal.example"
    settings.GLOCAL_DKIM_KEY_FILE = str(KEYS / "dkim_test_key.pem")
    settings.GLOCAL_DKIM_DOMAIN = "glocal.localhost"
    settings.GLOCAL_DKIM_SELECTOR = "glocal1"
    public = (KEYS / "dkim_test_key.pub.b64").read_text().strip()
    record = f"v=DKIM1; k=rsa; p={public}".encode()
    contacts = add_contacts(network.store_a, 2, prefix="huit")
    Contact.unscoped.filter(pk__in=[c.pk for c in contacts]).update(first_name="Zoé-Éléonore")
    scheduled_campaign(network, templates.email, name="Fête de l'été")
    launch.launch_due()
    assert dispatch.drain("eight-bit-worker").sent == 2
    assert len(relay.received) == 2
    for options, raw in relay.received:
        if relay.offers_8bitmime:  # sent as built, announced
            assert options == ["BODY=8BITMIME"] and not raw.isascii()
        else:  # the 7-bit form: quoted-printable parts
            assert options == [] and raw.isascii()
            assert raw.count(b"Content-Transfer-Encoding: quoted-printable") == 2
            assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        message = email.message_from_bytes(raw, policy=policy.default)
        assert "Bonjour Zoé-Éléonore" in part(message, "plain")
        assert "Zoé-Éléonore" in part(message, "html")
        assert "Se désabonner" in part(message, "html")
