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
    """Apply the (new) ownership rule to every contact of the organisation (HQ scope)."""
    from .models import Contact

    ids = list(Contact.objects.filter(ownership_locked=False).order_by("pk").values_list("pk", flat=True))
    changed = 0
    for start in range(0, len(ids), 5000):
        changed += services.recompute_ownership(contacts=ids[start : start + 5000])
        report(min(start + 5000, len(ids)), len(ids))
    return {"changed": changed, "contacts": len(ids)}
