"""Celery task (with a broker): the beat's ``reporting-rollup`` entry runs it every minute."""

from celery import shared_task

from . import rollup


@shared_task
def rollup_tick() -> dict[str, int]:
    return rollup.run()
