"""Group commit of the "sent" marks: the sending threads of one process hand every message a provider
accepted to one writer thread, which records them as SENT together, in one transaction, every few
milliseconds or every ``max_pending`` messages, whichever comes first.

Why: one commit per accepted message was about a third of the send path's CPU, and on SQLite every
commit is a round of the write lock between all the sending threads. One commit per window costs the
same for one message or sixty-four.

What it costs — the duplicate window (docs/delivery.md, "Group commit of the sent marks"): a message the
provider accepted and whose mark is not committed yet is still "sending", claimed by this worker. If the
process dies then (kill -9, power loss), those rows go back to the queue once its heartbeat stops and
are sent again: duplicates, never a loss. Their number is bounded: at most ``max_pending`` waiting for
the writer plus the one message each sending thread has in flight (a sender blocks when the writer is
``max_pending`` behind), and they wait at most ``window`` seconds plus one commit.

A sending thread that must give its rows back (an error in its batch) first calls :meth:`sync`, which
returns once every mark it handed over is committed, so that no accepted message is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..models import Message, MessageEvent
from .outbox import PENDING, _with_lock_retries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """A message the provider accepted, waiting for its mark."""

    pk: int
    organisation_id: int
    provider_id: str
    body: str
    worker: str


def record_sent(marks: list[Accepted]) -> None:
    """Mark ``marks`` SENT in one transaction, with one SENT event each (plain SQL: this is the hot path).
    A worker that could not beat (a long lock elsewhere) may have lost a row to another one, which may
    send it too: such a row (claimed by someone else, or no longer pending) says "possible duplicate"."""
    if not marks:
        return
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # the ORM's own storage format
    table, events = Message._meta.db_table, MessageEvent._meta.db_table
    ids = [m.pk for m in marks]
    marks_in = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = %s, sent_at = %s, provider_id = %s, body = %s, last_error = '',"  # noqa: S608
            " possible_duplicate = (possible_duplicate OR claimed_by <> %s)"
            " WHERE id = %s AND status IN (%s, %s)",
            [
                (Message.Status.SENT, now, m.provider_id[:120], m.body, m.worker, m.pk, *PENDING)
                for m in marks
            ],  # fmt: skip
        )
        if cursor.rowcount != len(marks):
            # A row not updated above (already recorded as sent by the worker that took it over, or no
            # longer pending) is not ours at this stamp: flagged, so that its second copy is counted.
            cursor.execute(
                f"UPDATE {table} SET possible_duplicate = %s WHERE id IN ({marks_in})"  # noqa: S608
                " AND NOT (status = %s AND sent_at = %s)",
                [True, *ids, Message.Status.SENT, now],
            )
        cursor.executemany(
            f"INSERT INTO {events} (organisation_id, message_id, kind, at, detail)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s)",
            [(m.organisation_id, m.pk, MessageEvent.Kind.SENT, now, "{}") for m in marks],
        )


class SentWriter:
    """One process's writer of "sent" marks (see the module docstring). ``window``: seconds a mark may
    wait for its commit; ``max_pending``: marks per commit, and how far the senders may run ahead."""

    def __init__(self, *, window: float | None = None, max_pending: int | None = None) -> None:
        self.window = window if window is not None else settings.GLOCAL_SENT_COMMIT_MS / 1000
        self.max_pending = max(1, max_pending or settings.GLOCAL_SENT_COMMIT_MAX)
        self._pending: deque[tuple[float, Accepted]] = deque()  # (handed over at, mark), oldest first
        self._lock = threading.Condition()
        self._submitted = 0  # marks handed over so far
        self._committed = 0  # ... of which committed (first in, first out)
        self._sync_to = 0  # a sender waits for the marks up to this one: commit at once
        self._closing = False
        self._thread: threading.Thread | None = None
        self.commits = 0  # transactions so far
        self.largest = 0  # the most marks in one

    def start(self) -> SentWriter:
        self._thread = threading.Thread(target=self._run, name="glocal-delivery-sent", daemon=True)
        self._thread.start()
        return self

    def submit(self, mark: Accepted) -> None:
        """Hand over one accepted message; waits while the writer is ``max_pending`` marks behind."""
        with self._lock:
            while len(self._pending) >= self.max_pending and self.alive():
                self._lock.wait(0.5)
            self._pending.append((time.monotonic(), mark))
            self._submitted += 1
            if len(self._pending) in (1, self.max_pending):
                self._lock.notify_all()  # a window starts, or a full one is ready

    def sync(self, timeout: float = 30.0) -> bool:
        """Wait until every mark handed over so far is committed; False if that did not happen within
        ``timeout`` seconds (the database refuses: the caller flags what could not be recorded)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._sync_to = max(self._sync_to, self._submitted)
            self._lock.notify_all()
            while self._committed < self._sync_to:
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive():
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    def unrecorded(self, worker: str) -> list[int]:
        """The ids ``worker`` (one sending thread) handed over that are not committed yet."""
        with self._lock:
            return [mark.pk for _at, mark in self._pending if mark.worker == worker]

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is left and stop the writer thread."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[Accepted] | None:
        """The next marks to commit, as soon as ``max_pending`` wait, the oldest waited ``window``, a
        sender syncs or the writer closes; None when closing with nothing left."""
        with self._lock:
            while True:
                if self._pending:
                    due = self._pending[0][0] + self.window - time.monotonic()
                    urgent = self._closing or self._sync_to > self._committed
                    if due <= 0 or urgent or len(self._pending) >= self.max_pending:
                        return [mark for _at, mark in list(self._pending)[: self.max_pending]]
                    self._lock.wait(due)
                elif self._closing:
                    return None
                else:
                    self._lock.wait(1.0)

    def _run(self) -> None:
        try:
            while (marks := self._take()) is not None:
                try:
                    _with_lock_retries(lambda marks=marks: record_sent(marks))
                except Exception:  # the database refused: the marks stay pending and are tried again
                    log.exception("recording %d sent messages failed; trying again", len(marks))
                    time.sleep(0.5)  # noqa: ASYNC251 - a plain thread: let the database recover
                    continue
                with self._lock:
                    for _ in marks:
                        self._pending.popleft()
                    self._committed += len(marks)
                    self.commits += 1
                    self.largest = max(self.largest, len(marks))
                    self._lock.notify_all()
        finally:
            connection.close()
