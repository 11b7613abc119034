"""Celery tasks: thin wrappers over glocal.core.jobs (used only with a broker)."""

from celery import shared_task

from glocal.core import jobs


@shared_task(acks_late=True)
def run_job_task(job_id: int) -> bool:
    return jobs.run_job(job_id, jobs.worker_name("celery"))
