"""Audience background jobs: retention (inactive prospects deleted) and ownership recomputation."""

from __future__ import annotations

from typing import Any

from glocal.core.jobs import Report, job_handler
from glocal.core.models import Job

from . import services

JOB_KIND = "audience.retention"


@job_handler(JOB_KIND)
def run_retention_job(job: Job, report: Report) -> dict[str, Any]:
    return {"deleted": services.purge_inactive_prospects(report=report)}


@job_handler(services.OWNERSHIP_JOB)
def run_ownership_job(job: Job, report: Report) -> dict[str, Any]:
    """Apply the (new) ownership rule to every contact of the organisation (HQ scope); each move goes
    to the transfer log with this job. ``ownership`` makes the job page say what happened."""
    ids = services.ownership_candidates()
    changed = 0
    for start in range(0, len(ids), 5000):
        changed += services.recompute_ownership(contacts=ids[start : start + 5000], job_id=job.pk)
        report(min(start + 5000, len(ids)), len(ids))
    return {"ownership": True, "changed": changed, "contacts": len(ids)}
