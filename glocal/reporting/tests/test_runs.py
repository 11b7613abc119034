"""How the rollup job is started: the command, the job kind, the broker-less timer, the Celery beat."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command

from glocal.core import jobs
from glocal.delivery.models import MessageEvent
from glocal.reporting import jobs as reporting_jobs
from glocal.reporting import rollup
from glocal.reporting.models import DailyRollup, RollupWatermark

from . import factories as f


def _one_sent(network):
    camp = f.campaign(network.store_a)
    m = f.message(camp, f.contact(network.store_a, 1), sent_at=f.at(dt.date(2026, 5, 4), 9))
    f.event(m, MessageEvent.Kind.SENT, f.at(dt.date(2026, 5, 4), 9))
    return camp


@pytest.mark.django_db
def test_the_command_counts_and_rebuilds(network):
    camp = _one_sent(network)
    out = io.StringIO()
    call_command("rollup", stdout=out)
    assert "events: 1" in out.getvalue()
    call_command("rollup", "--rebuild", stdout=out)
    assert DailyRollup.unscoped.get(campaign=camp).sent == 1
    assert RollupWatermark.objects.get(source="events").last_id > 0


@pytest.mark.django_db
def test_the_job_kind_and_the_timers(network, monkeypatch):
    _one_sent(network)
    assert jobs.HANDLERS["reporting.rollup"] is reporting_jobs.rollup_job
    assert settings.CELERY_BEAT_SCHEDULE["reporting-rollup"]["task"] == "glocal.reporting.tasks.rollup_tick"
    worker = reporting_jobs.RollupWorker(every=3600)
    runs = []
    real = rollup.run

    def once() -> dict[str, int]:
        worker.stop()  # one turn of the loop
        runs.append(real(settle=0))
        return runs[-1]

    monkeypatch.setattr(rollup, "run", once)
    worker._loop()
    assert runs == [{"events": 1, "purchases": 0, "ledger": 0}]
