"""Background jobs: atomic claim, crash recovery, the embedded worker, and Celery on real brokers."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from glocal.core import jobs, tasks  # noqa: F401  (registers the Celery task on every app)
from glocal.core.models import Job, WorkerHeartbeat

CALLS: list[int] = []


@jobs.job_handler("test.echo")
def _echo(job, report):
    CALLS.append(job.pk)
    report(1, 1)
    return {"echo": job.params.get("value")}


@jobs.job_handler("test.fail")
def _fail(job, report):
    raise ValueError("broken input")


def make_job(network, kind="test.echo", **params):
    return jobs.enqueue(kind, scope=network.scope("store_a"), params=params, by_user_id=None)


def test_a_job_is_claimed_once(network):
    job = make_job(network, value=3)
    assert jobs.run_job(job.pk, "w1") is True
    assert jobs.run_job(job.pk, "w2") is False  # another worker got there first
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.result == {"echo": 3} and job.worker == "w1"


def test_a_failing_job_records_its_error(network):
    job = make_job(network, kind="test.fail")
    jobs.run_pending("w1")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "broken input" in job.error


def test_jobs_run_in_the_scope_of_their_launcher(network):
    seen = {}

    @jobs.job_handler("test.scope")
    def _scope(job, report):
        from glocal.network.models import Entity

        seen["codes"] = set(Entity.objects.values_list("code", flat=True))
        return {}

    make_job(network, kind="test.scope")
    jobs.run_pending("w1")
    assert seen["codes"] == {"S-A"}


def test_jobs_of_a_dead_worker_are_queued_again(network):
    job = make_job(network)
    Job.unscoped.filter(pk=job.pk).update(status=Job.Status.RUNNING, worker="dead")
    WorkerHeartbeat.objects.create(
        name="dead", kind="embedded", last_seen=timezone.now() - timedelta(hours=1)
    )
    WorkerHeartbeat.objects.create(name="alive", kind="embedded", last_seen=timezone.now())
    other = make_job(network)
    Job.unscoped.filter(pk=other.pk).update(status=Job.Status.RUNNING, worker="alive")
    assert jobs.requeue_orphans() == 1
    assert Job.unscoped.get(pk=job.pk).status == Job.Status.QUEUED
    assert Job.unscoped.get(pk=other.pk).status == Job.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_embedded_worker_thread_runs_jobs_and_beats(client):
    from conftest import build_network

    network = build_network()
    job = make_job(network, value="hello")
    worker = jobs.EmbeddedWorker(poll_seconds=0.05)
    done = threading.Event()

    @jobs.job_handler("test.signal")
    def _signal(job, report):
        done.set()
        return {}

    make_job(network, kind="test.signal")
    thread = worker.start_thread()
    try:
        assert done.wait(timeout=30)
    finally:
        worker.stop()
        thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    health = client.get("/healthz").json()
    assert health["database"] == "ok" and health["worker"]["status"] == "ok"
    assert health["worker"]["mode"] == "embedded"


def test_healthz_without_any_worker(client, db):
    body = client.get("/healthz").json()
    assert body["database"] == "ok" and body["worker"]["status"] == "none"


BROKERS = {
    "redis": "redis://127.0.0.1:6379/14",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_celery_runs_jobs_on_a_real_broker(broker, settings, client, request):
    """With CELERY_BROKER_URL set, enqueue hands the job to Celery after commit; a real worker runs it."""
    from celery import Celery, current_app
    from celery.contrib.testing.worker import start_worker
    from celery.result import AsyncResult

    from conftest import build_network

    settings.CELERY_BROKER_URL = BROKERS[broker]
    previous = current_app._get_current_object()
    # A fresh app per broker, current for the test: the producer and the worker both use it.
    app = Celery(
        "glocal-test", broker=BROKERS[broker], backend="redis://127.0.0.1:6379/15", set_as_current=True
    )
    app.conf.update(task_acks_late=True, broker_connection_retry_on_startup=True)
    request.addfinalizer(previous.set_current)
    app.control.purge()  # messages left on the shared broker by an earlier, interrupted run
    network = build_network()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        job = make_job(network, value=broker)  # autocommit: the on_commit hook sends it at once
        assert AsyncResult(jobs.celery_task_id(job), app=app).get(timeout=60) is True
        job.refresh_from_db()
        assert job.status == Job.Status.DONE and job.result == {"echo": broker}
        health = client.get("/healthz").json()
        assert health["worker"] == {"status": "ok", "mode": "celery", "workers": 1}
