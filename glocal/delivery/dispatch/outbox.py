"""Outbox claims: a worker takes due rows atomically, and rows held by a worker that stopped beating (or
by a live one after an error in its batch) go back to the queue.

A row is claimed by one worker only: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional
``UPDATE … WHERE status = 'queued'`` on SQLite (whose write transactions are serialised)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from glocal.core.models import WorkerHeartbeat

from ..models import Message, MessageEvent

log = logging.getLogger(__name__)

CLAIM_SIZE = 100  # rows per claim (one query); consent is re-checked per chunk (sending.RECHECK_SIZE)
DONE = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.BOUNCED)
PENDING = (Message.Status.QUEUED, Message.Status.SENDING)


def claim(worker: str, *, limit: int = CLAIM_SIZE, now: dt.datetime | None = None) -> list[Message]:
    """Take up to ``limit`` due rows for ``worker``; no other worker gets them."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Message.unscoped.filter(status=Message.Status.QUEUED, not_before__lte=now).order_by(
            "not_before", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.unscoped.filter(id__in=ids, status=Message.Status.QUEUED).update(
            status=Message.Status.SENDING, claimed_by=worker, claimed_at=now, attempts=F("attempts") + 1
        )
        claimed = list(
            Message.unscoped.filter(
                id__in=ids, status=Message.Status.SENDING, claimed_by=worker, claimed_at=now
            )
            .only(
                "id", "organisation_id", "campaign_id", "contact_id", "channel", "stable_id", "attempts",
                "claimed_at", "first_attempt_at",
            )
            .order_by("id")
        )  # fmt: skip
        detail = json.dumps({"worker": worker})
        stamp = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:  # one statement for the batch, without the ORM's per-row cost
            cursor.executemany(
                f"INSERT INTO {MessageEvent._meta.db_table} (organisation_id, message_id, kind, at, detail)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s)",
                [(m.organisation_id, m.pk, MessageEvent.Kind.CLAIMED, stamp, detail) for m in claimed],
            )
    return claimed


def alive_workers(now: dt.datetime) -> list[str]:
    stale = now - dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    return list(WorkerHeartbeat.objects.filter(last_seen__gte=stale).values_list("name", flat=True))


def _requeue(rows: list[tuple[int, int, str]], now: dt.datetime, **only: Any) -> int:
    """Back to the queue: ``rows`` (id, organisation, worker) that are still "sending" and match ``only``
    (the same conditions they were selected on: a row re-claimed meanwhile is left alone)."""
    ids = list(
        Message.unscoped.filter(
            id__in=[r[0] for r in rows], status=Message.Status.SENDING, **only
        ).values_list("id", flat=True)
    )
    Message.unscoped.filter(id__in=ids).update(status=Message.Status.QUEUED, claimed_by="")
    moved = set(ids)
    MessageEvent.unscoped.bulk_create(
        [
            MessageEvent(organisation_id=org, message_id=pk, kind=MessageEvent.Kind.REQUEUED, at=now,
                         detail={"worker": worker})
            for pk, org, worker in rows
            if pk in moved
        ]
    )  # fmt: skip
    return len(ids)


def _locked(queryset: Any) -> Any:
    """Rows locked for this transaction on PostgreSQL (others skip them); SQLite's immediate write
    transaction already serialises the read and the update."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def requeue_stale(*, now: dt.datetime | None = None) -> int:
    """Rows claimed by a worker that stopped beating (killed) go back to the queue, untouched otherwise."""
    now = now or timezone.now()
    grace = now - dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    lease = now - dt.timedelta(seconds=settings.GLOCAL_DELIVERY_LEASE_SECONDS)
    stuck = Message.unscoped.filter(status=Message.Status.SENDING, claimed_at__lt=grace)
    stuck = stuck.exclude(claimed_by__in=alive_workers(now)) | stuck.filter(claimed_at__lt=lease)
    with transaction.atomic():
        rows = list(_locked(stuck).values_list("id", "organisation_id", "claimed_by"))
        if not rows:
            return 0
        return _requeue(rows, now, claimed_at__lt=grace)


LOCK_RETRIES = 6  # a briefly locked database (another writer's commit) is waited for: ~3 s at most


def _with_lock_retries(write: Any) -> Any:
    """Run ``write`` (a function doing one transaction), again after a short pause while the database
    answers "locked": a commit lost after the provider accepted a message would become a duplicate."""
    for attempt in range(LOCK_RETRIES):
        try:
            return write()
        except OperationalError as error:
            if "locked" not in str(error) or attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def release_claims(worker: str, *, accepted: int | Collection[int] | None = None) -> int:
    """A live worker gives back the rows it still holds (after an error in its batch). The messages a
    provider had already accepted and that are not recorded, if any, are flagged as possible duplicates:
    they will be sent again. Returns how many went back, or -1 when the database refused (the worker
    tries again later)."""
    now = timezone.now()
    flag = [] if accepted is None else [accepted] if isinstance(accepted, int) else list(accepted)

    def release() -> int:
        with transaction.atomic():
            mine = Message.unscoped.filter(status=Message.Status.SENDING, claimed_by=worker)
            rows = list(_locked(mine).values_list("id", "organisation_id", "claimed_by"))
            if flag:
                Message.unscoped.filter(pk__in=flag, status=Message.Status.SENDING).update(
                    possible_duplicate=True
                )
            return _requeue(rows, now, claimed_by=worker) if rows else 0

    try:
        return _with_lock_retries(release)
    except Exception:  # the database is still unavailable: the worker tries again before its next claim
        log.exception("releasing the rows of %s failed", worker)
        return -1
