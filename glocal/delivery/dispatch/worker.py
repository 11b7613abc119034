"""The worker: the periodic housekeeping (:func:`tick`: deadlines, due launches, a dead worker's rows,
finished campaigns), the loop of one sending thread (:func:`drain`) and the broker-less
:class:`DeliveryWorker` running both."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.core import jobs
from glocal.core.scope import activate, system_scope

from .. import launch
from ..models import Message
from .marks import SentWriter
from .outbox import DONE, PENDING, requeue_stale
from .sending import Dispatcher, Outcome

log = logging.getLogger(__name__)


def finish_campaigns() -> int:
    """Campaigns in "sending" with nothing left to send are marked sent, with the count of messages the
    providers accepted (the proof of execution comes from the outbox)."""
    finished = 0
    sending = Campaign.unscoped.filter(state=State.SENDING).values_list("pk", "organisation_id")
    for campaign_id, organisation_id in list(sending):
        rows = Message.unscoped.filter(campaign_id=campaign_id)
        if rows.filter(status__in=PENDING).exists():  # an index probe: cheap on every tick
            continue
        counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        with activate(system_scope(organisation_id)), transaction.atomic():
            # Several workers tick at once: only the one that finds it still "sending", under the
            # campaign's row lock (SQLite: the immediate write transaction), closes it.
            campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign_id)
            if campaign.state != State.SENDING:
                continue
            campaign_services.campaign_mark_sent(
                campaign=campaign, sent_count=sum(counts.get(s, 0) for s in DONE)
            )
        finished += 1
    return finished


def due_count(now: dt.datetime | None = None) -> int:
    return Message.unscoped.filter(
        status=Message.Status.QUEUED, not_before__lte=now or timezone.now()
    ).count()


def tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic housekeeping: apply the operations' passed deadlines (stores out, HQ defaults
    scheduled), launch due campaigns, requeue a dead worker's rows, close finished campaigns. Safe to
    run from several workers at once."""
    deadlines = campaign_services.close_due_deadlines(now=now)
    reports = launch.launch_due(now=now)
    return {
        "deadline_outs": deadlines["out"],
        "deadline_defaults": deadlines["defaults"],
        "launched": len(reports),
        "requeued": requeue_stale(now=now),
        "finished": finish_campaigns(),
    }


def drain(
    name: str,
    *,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
    marks: SentWriter | None = None,
) -> Outcome:
    """Send until nothing is due (or ``max_batches``): the loop of one sending thread. ``marks``: the
    process's group commit of the "sent" marks (else each is committed on its own)."""
    dispatcher = Dispatcher(name, marks=marks)
    total = Outcome()
    batches = 0
    try:
        while (max_batches is None or batches < max_batches) and not (stop and stop.is_set()):
            dispatcher.beat()
            outcome = dispatcher.run_once()
            batches += 1
            if not (outcome.sent or outcome.retried or outcome.failed or outcome.skipped):
                break
            total.sent += outcome.sent
            total.retried += outcome.retried
            total.failed += outcome.failed
            total.skipped += outcome.skipped
    finally:
        dispatcher.close()
    return total


class DeliveryWorker:
    """The broker-less sender: ``threads`` sending loops plus the housekeeping tick, beating like the job
    worker so that another worker requeues its rows if it is killed. The sending loops hand the messages
    providers accepted to one writer, which commits their "sent" marks together (:mod:`.marks`)."""

    def __init__(self, threads: int | None = None, poll_seconds: float = 1.0) -> None:
        self.threads = threads or settings.GLOCAL_DELIVERY_THREADS
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()
        self.name = jobs.worker_name("delivery")
        self.marks: SentWriter | None = None
        self._senders: list[threading.Thread] = []

    def _sender(self, index: int) -> None:
        name = f"{self.name}/{index}"
        while not self.stopped.is_set():
            try:
                outcome = drain(name, max_batches=50, stop=self.stopped, marks=self.marks)
                idle = not (outcome.sent or outcome.retried or outcome.failed or outcome.skipped)
            except Exception:  # keep sending; the row's own state says what happened
                log.exception("delivery loop error")
                idle = True
            if idle:
                self.stopped.wait(self.poll_seconds)

    def _housekeeping(self) -> None:
        while not self.stopped.is_set():
            try:
                jobs.beat(f"{self.name}/tick", "delivery")
                tick()
            except Exception:
                log.exception("delivery tick error")
            self.stopped.wait(self.poll_seconds)

    def start(self) -> list[threading.Thread]:
        """Start the tick, the sending loops and the writer of their "sent" marks (joined last)."""
        if settings.GLOCAL_SENT_COMMIT_MAX > 1:
            self.marks = SentWriter().start()
        self._senders = [
            threading.Thread(target=self._sender, args=(i,), name=f"glocal-delivery-{i}", daemon=True)
            for i in range(self.threads)
        ]
        threads = [threading.Thread(target=self._housekeeping, name="glocal-delivery-tick", daemon=True)]
        threads += self._senders
        closer = threading.Thread(target=self._close_marks, name="glocal-delivery-close", daemon=True)
        for thread in [*threads, closer]:
            thread.start()
        return [*threads, closer]

    def _close_marks(self) -> None:
        """Once stopped and every sending loop has ended, commit the last marks and stop the writer."""
        self.stopped.wait()
        for thread in self._senders:
            thread.join(timeout=30)
        if self.marks is not None:
            self.marks.close()

    def stop(self) -> None:
        """Stop sending; returns once the marks of what was sent are committed (or after ~30 s)."""
        self.stopped.set()
        self._close_marks()
