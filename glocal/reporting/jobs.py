"""The rollup job, run every minute: by the Celery beat (``reporting-rollup`` → :func:`tasks.rollup_tick`)
with a broker, else by :class:`RollupWorker`'s thread in ``glocal worker``; ``glocal rollup`` by hand.
It is also a job kind (``reporting.rollup``) an HQ page or a script may enqueue."""

from __future__ import annotations

import logging
import threading
from typing import Any

from glocal.core import jobs
from glocal.core.models import Job

from . import rollup

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0


@jobs.job_handler("reporting.rollup")
def rollup_job(job: Job, report: jobs.Report) -> dict[str, Any]:
    """Bring the rollups up to date (every organisation's: the watermarks are global)."""
    return rollup.run()


class RollupWorker:
    """The broker-less timer: runs the rollup job every ``every`` seconds until stopped."""

    def __init__(self, every: float = EVERY_SECONDS) -> None:
        self.every = every
        self.stopped = threading.Event()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                rollup.run()
            except Exception:  # the next run starts again from the watermarks
                log.exception("rollup error")
            self.stopped.wait(self.every)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="glocal-rollup", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()
