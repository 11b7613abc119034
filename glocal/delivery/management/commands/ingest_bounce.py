"""``glocal ingest_bounce [--recipient ADDRESS] [PATH]``: apply one bounce (DSN, RFC 3464) or complaint
(ARF, RFC 5965) message, or a recipient's mail to a message's mailto unsubscribe address
(``unsubscribe+TOKEN@domain``, see :mod:`glocal.delivery.inbound`), read from PATH or from standard
input — for the mailbox pipe of ``bounces@`` and ``unsubscribe@``, e.g. in Postfix's ``master.cf``::

    glocal-inbound unix - n n - - pipe
      user=glocal argv=/srv/glocal/.venv/bin/glocal ingest_bounce --recipient ${original_recipient}

Exits 0 once the report or unsubscribe is applied (or names a message we do not know), 1 when the input
is neither (an auto-reply, a human's answer, an invalid token): nothing is recorded then.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from glocal.delivery import inbound


class Command(BaseCommand):
    help = (
        "Apply one raw bounce (DSN), complaint (ARF) or mailto unsubscribe message, from a file or "
        "standard input."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", nargs="?", default="-", help="the message file (default: standard input)")
        parser.add_argument("--recipient", default="", help="the envelope recipient, as the MTA gives it")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        else:
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=1) from None
        result = inbound.email_inbound(raw, options["recipient"] or None)
        if result is None:
            raise CommandError(
                "not a delivery status (DSN) or feedback (ARF) report, nor a mailto unsubscribe", returncode=1
            )
        if result.message is None:
            self.stdout.write("report for a message Glocal did not send: ignored")
            return
        recorded = ", ".join(result.recorded) or "nothing new"
        self.stdout.write(f"{result.message.stable_id}: {recorded}")
