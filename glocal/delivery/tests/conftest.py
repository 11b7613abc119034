"""A fault-injecting SMTP server (aiosmtpd, in-process, loopback) for the SMTP transport's tests.

The recipient's local part chooses the fault:
  rcpt-temp@  → 450 4.2.1 at RCPT        rcpt-perm@  → 550 5.1.1 at RCPT
  data-temp@  → 451 4.3.0 after the "."  data-perm@  → 554 5.7.1 after the "."
  drop-after-dot@ → the message is received (stored), then the connection is cut before the reply.
``close_after_each`` makes the server close every connection after replying 250 (idle drops).
"""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field
from email import policy

import pytest


@dataclass
class FaultyHandler:
    received: list = field(default_factory=list)  # (mail_from, rcpt_tos, raw bytes)
    ehlos: int = 0
    close_after_each: bool = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.ehlos += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        local = address.split("@")[0]
        if local == "rcpt-temp":
            return "450 4.2.1 Mailbox busy, try again later"
        if local == "rcpt-perm":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        local = envelope.rcpt_tos[0].split("@")[0]
        if local == "data-temp":
            return "451 4.3.0 Temporary local problem, try later"
        if local == "data-perm":
            return "554 5.7.1 Message rejected by policy"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        if local == "drop-after-dot":
            server.transport.abort()  # cut before the reply: the client cannot know it was received
        elif self.close_after_each:
            server.loop.call_soon(server.transport.close)  # after the 250 reply is written
        return "250 2.0.0 Ok: queued"

    def messages(self):
        return [email.message_from_bytes(raw, policy=policy.default) for _f, _t, raw in self.received]


@pytest.fixture
def faulty_smtp():
    from aiosmtpd.controller import Controller

    handler = FaultyHandler()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    handler.port = port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


from glocal.campaigns.tests.conftest import templates  # noqa: E402, F401 - HQ's demo templates, published
