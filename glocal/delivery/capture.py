"""The demo's mail catcher: a real SMTP server (aiosmtpd) on loopback that keeps every message it receives
as ``<stable id>.eml`` in ``GLOCAL_MAILBOX_DIR``, so that the "sent messages" page shows what a recipient
would get. Never used in production (campaign mail then goes to ``GLOCAL_SMTP_HOST``)."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

# the stable id: the Message-ID's local part up to its signature (".MAC", see delivery.tracking)
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^@>.]+)[^@>]*@", re.IGNORECASE | re.MULTILINE)


class MailboxHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        data: bytes = envelope.original_content or envelope.content
        head = data.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        self.count += 1
        name = found.group(1).decode("ascii", "replace") if found else f"message-{self.count}"
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]
        (self.directory / f"{safe}.eml").write_bytes(data)
        return "250 OK kept"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(directory: Path, port: int = 0) -> tuple[Any, int]:
    """Start the catcher in a background thread; returns (controller, port). ``controller.stop()`` ends it."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    port = port or free_port()
    controller = Controller(MailboxHandler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port
