"""``glocal deliver``: a sending process without a broker (launch due campaigns, send, housekeeping).

``--until-idle`` stops when nothing is due and nothing is being sent (scripts, benchmarks, tests);
otherwise it runs until SIGTERM / Ctrl-C, like the senders ``glocal worker`` starts.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count

from glocal.delivery import dispatch
from glocal.delivery.models import Message


class Command(BaseCommand):
    help = "Send due campaign messages (no broker needed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--threads", type=int, default=None)
        parser.add_argument("--until-idle", action="store_true")
        parser.add_argument("--poll", type=float, default=0.5)

    def handle(self, *args: Any, **options: Any) -> None:
        worker = dispatch.DeliveryWorker(threads=options["threads"], poll_seconds=options["poll"])
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        threads = worker.start()
        try:
            while not worker.stopped.is_set():
                time.sleep(options["poll"])
                if options["until_idle"] and not _busy():
                    dispatch.finish_campaigns()
                    break
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()
            for thread in threads:
                thread.join(timeout=30)
        counts = Message.unscoped.values("status").annotate(n=Count("id")).order_by("status")
        summary = ", ".join(f"{row['status']}: {row['n']}" for row in counts)
        self.stdout.write(f"deliver: stopped ({summary or 'no messages'})")


def _busy() -> bool:
    from django.utils import timezone

    from glocal.campaigns.models import Campaign
    from glocal.campaigns.states import State

    now = timezone.now()
    if Campaign.unscoped.filter(state=State.SCHEDULED, scheduled_at__lte=now).exists():
        return True
    pending = Message.unscoped.filter(status=Message.Status.SENDING).exists()
    return pending or Message.unscoped.filter(status=Message.Status.QUEUED, not_before__lte=now).exists()
