"""Background jobs: close the passed deadlines, send the reminders. Both idempotent; run them from
cron / Celery beat through the ``close_deadlines`` and ``campaign_reminders`` commands, or enqueue."""

from __future__ import annotations

from typing import Any

from glocal.core.jobs import Report, job_handler
from glocal.core.models import Job

from . import services

CLOSE_DEADLINES = "campaigns.close_deadlines"
REMINDERS = "campaigns.reminders"


@job_handler(CLOSE_DEADLINES)
def run_close_deadlines(job: Job, report: Report) -> dict[str, Any]:
    return services.close_deadlines()


@job_handler(REMINDERS)
def run_reminders(job: Job, report: Report) -> dict[str, Any]:
    return services.send_reminders()
