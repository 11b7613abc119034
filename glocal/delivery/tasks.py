"""Celery tasks (with a broker): thin wrappers over ``dispatch``. The beat runs ``delivery_tick``; every
worker process may run ``send_batch`` — rows are claimed atomically, so any number can run at once."""

from celery import shared_task
from django.conf import settings

from glocal.core import jobs

from . import dispatch


@shared_task
def delivery_tick() -> dict[str, int]:
    result = dispatch.tick()
    kick()
    return result


def kick() -> None:
    """Start enough senders for what is due now (at most GLOCAL_DELIVERY_TASKS at a time)."""
    due = dispatch.due_count()
    for _ in range(min(settings.GLOCAL_DELIVERY_TASKS, -(-due // (dispatch.CLAIM_SIZE * 10)))):
        send_batch.delay()


@shared_task(acks_late=True)
def send_batch() -> int:
    outcome = dispatch.drain(jobs.worker_name("celery-delivery"), max_batches=10)
    if outcome.sent or outcome.retried or outcome.failed or outcome.skipped:
        send_batch.delay()  # more may be due: keep going, one small task at a time
    return outcome.sent
