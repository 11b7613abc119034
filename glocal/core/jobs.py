"""Background jobs: enqueue from a service, run by the embedded worker or by Celery.

A job runs in the scope of the membership that launched it, so handlers use ordinary scoped
querysets. Handlers must be idempotent or all-or-nothing (a job whose worker died is run again).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from glocal.core.models import Job, WorkerHeartbeat
from glocal.core.request_id import bind_job
from glocal.core.scope import Scope, activate

log = logging.getLogger(__name__)

Report = Callable[[int, int], None]
Handler = Callable[[Job, Report], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return register


def broker_configured() -> bool:
    return bool(settings.CELERY_BROKER_URL)


def enqueue(kind: str, *, scope: Scope, params: dict[str, Any], by_user_id: int | None) -> Job:
    """Record a job; once the transaction commits, hand it to Celery when a broker is configured
    (otherwise the embedded worker polls the table)."""
    job = Job.unscoped.create(
        organisation_id=scope.organisation_id,
        entity_id=scope.entity_id,
        role=scope.role,
        created_by_id=by_user_id,
        kind=kind,
        params=params,
    )
    if broker_configured():
        from glocal.core.tasks import run_job_task

        # A deterministic task id: whoever holds the job can wait for its Celery result.
        transaction.on_commit(lambda: run_job_task.apply_async(args=[job.pk], task_id=celery_task_id(job)))
    return job


def celery_task_id(job: Job) -> str:
    return f"glocal-job-{job.token}"


def job_scope(job: Job) -> Scope:
    return Scope(
        organisation_id=job.organisation_id,
        entity_id=job.entity_id,
        entity_path=job.entity.path,
        role=job.role,
        user_id=job.created_by_id,
    )


def run_job(job_id: int, worker: str) -> bool:
    """Claim and run one job. Returns False when another worker got there first. Its log lines carry
    its id (``job_id``, glocal.core.request_id)."""
    with bind_job(job_id):
        return _run_job(job_id, worker)


def _run_job(job_id: int, worker: str) -> bool:
    now = timezone.now()
    claimed = Job.unscoped.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, worker=worker, progress=0
    )
    if claimed != 1:
        return False
    job = Job.unscoped.select_related("entity").get(pk=job_id)
    Job.unscoped.filter(pk=job_id).update(attempts=job.attempts + 1)

    def report(progress: int, total: int) -> None:
        Job.unscoped.filter(pk=job_id).update(progress=progress, total=total)

    try:
        handler = HANDLERS[job.kind]
        with activate(job_scope(job)):
            result = handler(job, report)
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, job.kind)
        Job.unscoped.filter(pk=job_id).update(
            status=Job.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            finished_at=timezone.now(),
        )
        return True
    Job.unscoped.filter(pk=job_id).update(status=Job.Status.DONE, result=result, finished_at=timezone.now())
    return True


def beat(name: str, kind: str) -> None:
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"kind": kind, "last_seen": timezone.now()})


def requeue_orphans() -> int:
    """Put back in the queue the running jobs whose worker stopped beating (it was killed)."""
    stale = timezone.now() - timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=stale).values_list("name", flat=True)
    return (
        Job.unscoped.filter(status=Job.Status.RUNNING)
        .exclude(worker__in=list(alive))
        .update(status=Job.Status.QUEUED, worker="")
    )


def run_pending(worker: str, limit: int | None = None) -> int:
    """Run queued jobs, oldest first; returns how many this worker ran."""
    done = 0
    while limit is None or done < limit:
        next_id = (
            Job.unscoped.filter(status=Job.Status.QUEUED)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
        ).first()
        if next_id is None:
            break
        if run_job(next_id, worker):
            done += 1
    return done


def worker_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class EmbeddedWorker:
    """The broker-less worker of the embedded default: polls the job table."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self.name = worker_name("embedded")
        self.stopped = threading.Event()

    def run_forever(self) -> None:
        last_beat = 0.0
        while not self.stopped.is_set():
            now = timezone.now().timestamp()
            if now - last_beat >= settings.GLOCAL_WORKER_HEARTBEAT_SECONDS / 3:
                beat(self.name, "embedded")
                requeue_orphans()
                last_beat = now
            try:
                run_pending(self.name)
            except Exception:  # keep the worker alive; the job itself records its failure
                log.exception("embedded worker loop error")
            self.stopped.wait(self.poll_seconds)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="glocal-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()


def worker_status() -> dict[str, Any]:
    """For /healthz: ok when a worker beat recently (embedded) or answers a ping (Celery)."""
    if broker_configured():
        from celery import current_app

        try:
            replies = current_app.control.ping(timeout=0.5) or []
        except Exception as exc:  # broker down
            return {"status": "down", "mode": "celery", "detail": type(exc).__name__}
        return {"status": "ok" if replies else "down", "mode": "celery", "workers": len(replies)}
    stale = timezone.now() - timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    last = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if last is None:
        return {"status": "none", "mode": "embedded"}
    return {
        "status": "ok" if last.last_seen >= stale else "stale",
        "mode": "embedded",
        "last_seen": last.last_seen.isoformat(),
    }
