"""Liveness, readiness and the Prometheus metrics: what a probe and a scraper get."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from glocal.campaigns.tests.factories import make_campaign
from glocal.core import metrics
from glocal.core import views as core_views
from glocal.core.models import Job, WorkerHeartbeat
from glocal.delivery.models import Message, MessageEvent

TOKEN = "metrics-token-0123456789"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Liveness and readiness -------------------------------------------------------------------------


def test_livez_answers_without_any_database_or_session():
    """No database access at all (no django_db mark: any query would fail the test)."""
    response = Client().get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers and not response.cookies


@pytest.mark.django_db
def test_readyz_is_200_when_database_migrations_and_cache_are_fine():
    response = Client(enforce_csrf_checks=True).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "ok", "cache": "ok"}
    assert not response.cookies


@pytest.mark.django_db
def test_readyz_is_503_with_the_reason_when_the_cache_is_unreachable(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["cache"] == "unreachable: ConnectionError"


@pytest.mark.django_db
def test_readyz_is_503_when_migrations_are_missing(monkeypatch):
    monkeypatch.setattr(core_views, "_migrations_applied", False)

    class Executor:
        def __init__(self, conn):
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda self: []})()})()

        def migration_plan(self, targets):
            migration = type("M", (), {"app_label": "delivery", "name": "0042_new_table"})()
            return [(migration, False)]

    monkeypatch.setattr(core_views, "MigrationExecutor", Executor)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "1 not applied (first: delivery.0042_new_table)"


@pytest.mark.django_db
def test_readyz_reads_the_migration_files_once_then_only_pings(monkeypatch):
    Client().get("/readyz")  # migrations seen applied: remembered
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/readyz").status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert sql[0] == "SELECT 1" and not any("django_migrations" in s for s in sql)


@pytest.mark.django_db
def test_the_probes_are_not_redirected_to_https_in_production(settings):
    """A load balancer probes a process over plain HTTP; the pages still go to https."""
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/livez").status_code == 200
    assert Client().get("/readyz").status_code == 200
    assert Client().get("/accounts/login/").status_code == 301
    settings.GLOCAL_METRICS_TOKEN = TOKEN
    assert (
        Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 301
    )  # the token: https


def test_the_probes_answer_get_and_head_only():
    client = Client(enforce_csrf_checks=True)
    assert client.head("/livez").status_code == 200
    assert client.post("/livez").status_code == 405


# --- /metrics: access ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_do_not_exist_without_a_configured_token(settings):
    settings.GLOCAL_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_metrics_need_the_bearer_token(settings):
    settings.GLOCAL_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert b"glocal_" not in wrong.content
    ok = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")


# --- /metrics: values -----------------------------------------------------------------------------------


def scrape(settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (sample name, sorted labels) → value."""
    settings.GLOCAL_METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def messages(network, n: int, *, channel: str, status: str, **fields) -> list[Message]:
    store = network.store_a
    campaign_id = make_campaign("store_a")(network)["pk"]
    base = Message.unscoped.count()
    return [
        Message.unscoped.create(
            organisation=store.organisation,
            entity=store,
            entity_path=store.path,
            campaign_id=campaign_id,
            channel=channel,
            to_address=f"r{base + i}@example.test",
            stable_id=f"t-{campaign_id}-{base + i}",
            status=status,
            not_before=timezone.now() - timedelta(minutes=1),
            **fields,
        )
        for i in range(n)
    ]


def events(rows: list[Message], kind: str, *, ago: float = 60.0) -> None:
    at = timezone.now() - timedelta(seconds=ago)
    MessageEvent.unscoped.bulk_create(
        [MessageEvent(organisation_id=m.organisation_id, message=m, kind=kind, at=at) for m in rows]
    )


@pytest.fixture
def fresh_totals():
    cache.delete(metrics.EVENTS_KEY)
    cache.delete(metrics.EVENTS_LOCK)
    yield
    cache.delete(metrics.EVENTS_KEY)


@pytest.mark.django_db
def test_outbox_depth_by_status_and_channel(network, settings, fresh_totals):
    messages(network, 3, channel="email", status="queued")
    messages(network, 2, channel="sms", status="queued")
    messages(network, 1, channel="email", status="sending")
    messages(network, 4, channel="email", status="sent")  # sent: not in the outbox any more
    samples = scrape(settings)
    assert value(samples, "glocal_outbox_messages", status="queued", channel="email") == 3
    assert value(samples, "glocal_outbox_messages", status="queued", channel="sms") == 2
    assert value(samples, "glocal_outbox_messages", status="sending", channel="email") == 1
    assert value(samples, "glocal_outbox_messages", status="sending", channel="sms") == 0
    assert 55 <= value(samples, "glocal_outbox_oldest_due_age_seconds") < 3600


@pytest.mark.django_db
def test_sent_and_failed_count_the_events_recorded_since_the_first_scrape(network, settings, fresh_totals):
    settings.GLOCAL_SMS_PROVIDER = "twilio"
    settings.GLOCAL_EMAIL_PROVIDER = ""
    events(messages(network, 2, channel="email", status="sent"), "sent")  # before the first scrape
    first = scrape(settings)
    assert value(first, "glocal_messages_sent_total", channel="email", provider="smtp") == 0
    events(messages(network, 5, channel="email", status="sent"), "sent")
    events(messages(network, 3, channel="sms", status="sent"), "sent")
    failed = messages(network, 2, channel="sms", status="failed")
    events(failed, "retry")
    events(failed, "failed")
    samples = scrape(settings)
    assert value(samples, "glocal_messages_sent_total", channel="email", provider="smtp") == 5
    assert value(samples, "glocal_messages_sent_total", channel="sms", provider="twilio") == 3
    assert value(samples, "glocal_messages_failed_total", channel="sms", provider="twilio") == 2
    assert value(samples, "glocal_messages_failed_total", channel="email", provider="smtp") == 0
    assert value(samples, "glocal_message_events_total", kind="retry", channel="sms", provider="twilio") == 2
    again = scrape(settings)  # nothing new: the same totals, nothing counted twice
    assert value(again, "glocal_messages_sent_total", channel="email", provider="smtp") == 5


@pytest.mark.django_db
def test_an_event_is_counted_once_it_has_settled(network, settings, fresh_totals):
    """Rows younger than EVENT_SETTLE_SECONDS wait (a transaction still open could commit a lower id)."""
    scrape(settings)
    rows = messages(network, 2, channel="email", status="sent")
    events(rows[:1], "sent", ago=120)
    events(rows[1:], "sent", ago=0)  # just written
    samples = scrape(settings)
    assert value(samples, "glocal_messages_sent_total", channel="email", provider="smtp") == 1
    MessageEvent.unscoped.filter(message=rows[1]).update(at=timezone.now() - timedelta(minutes=1))
    samples = scrape(settings)
    assert value(samples, "glocal_messages_sent_total", channel="email", provider="smtp") == 2


@pytest.mark.django_db
def test_a_scrape_reads_only_the_new_event_rows(network, settings, fresh_totals):
    """The counters' queries are bounded by the last counted id: a primary-key range, never the table."""
    scrape(settings)
    events(messages(network, 3, channel="email", status="sent"), "sent")
    with CaptureQueriesContext(connection) as queries:
        metrics.event_totals()
    event_sql = [q["sql"] for q in queries.captured_queries if MessageEvent._meta.db_table in q["sql"]]
    assert event_sql and all('"id" >' in sql or "id` >" in sql for sql in event_sql), event_sql


@pytest.mark.django_db
def test_jobs_and_worker_heartbeats(network, settings, fresh_totals):
    store = network.store_a
    for status, n in (("queued", 2), ("running", 1), ("failed", 3), ("done", 5)):
        for _ in range(n):
            Job.unscoped.create(
                organisation=store.organisation, entity=store, role="hq_admin", kind="t", status=status
            )
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="embedded@a:1", kind="embedded", last_seen=now - timedelta(seconds=5))
    WorkerHeartbeat.objects.create(
        name="delivery@a:2", kind="delivery", last_seen=now - timedelta(minutes=20)
    )
    WorkerHeartbeat.objects.create(name="gone@a:3", kind="delivery", last_seen=now - timedelta(days=3))
    samples = scrape(settings)
    assert value(samples, "glocal_jobs", status="queued") == 2
    assert value(samples, "glocal_jobs", status="running") == 1
    assert value(samples, "glocal_jobs", status="failed") == 3
    assert ("glocal_jobs", (("status", "done"),)) not in samples
    assert (
        5
        <= value(samples, "glocal_worker_heartbeat_age_seconds", worker="embedded@a:1", kind="embedded")
        < 60
    )
    assert (
        value(samples, "glocal_worker_heartbeat_age_seconds", worker="delivery@a:2", kind="delivery") >= 1200
    )
    assert not any(labels and ("worker", "gone@a:3") in labels for _name, labels in samples)
    assert value(samples, "glocal_workers_alive", kind="embedded") == 1
    assert value(samples, "glocal_workers_alive", kind="delivery") == 0
    assert value(samples, "glocal_metrics_part_up", part="outbox") == 1


@pytest.mark.django_db
def test_request_latency_histogram(settings, fresh_totals):
    before = scrape(settings)
    key = (
        "glocal_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "livez"), ("status", "2xx")),
    )
    Client().get("/livez")
    Client().get("/livez")
    Client().get("/no-such-page")
    after = scrape(settings)
    assert after[key] - before.get(key, 0) == 2
    assert (
        after[
            (
                "glocal_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "unmatched"), ("status", "4xx")),
            )
        ]
        >= 1
    )
    bucket = (
        "glocal_http_request_duration_seconds_bucket",
        (("le", "+Inf"), ("method", "GET"), ("route", "livez"), ("status", "2xx")),
    )
    assert after[bucket] == after[key]


def test_the_histogram_adds_up_several_processes_in_multiprocess_mode(tmp_path):
    """Two processes (as two gunicorn workers) each answer requests; a scrape served by a third sees the
    sum, read from PROMETHEUS_MULTIPROC_DIR."""
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    env.pop("DATABASE_URL", None)
    serve = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "import sys\n"
        "for _ in range(int(sys.argv[1])): assert Client().get('/livez').status_code == 200\n"
    )
    for n in (3, 4):
        subprocess.run([sys.executable, "-c", serve, str(n)], env=env, cwd=root, check=True, timeout=120)
    assert len(list(tmp_path.glob("histogram_*.db"))) == 2  # one file per process
    scrape_code = (  # the request part of a scrape (its database part needs tables this process lacks)
        "import django; django.setup()\n"
        "from prometheus_client.parser import text_string_to_metric_families as parse\n"
        "from prometheus_client import generate_latest\n"
        "from glocal.core import metrics\n"
        "for f in parse(generate_latest(metrics.request_registry()).decode()):\n"
        "    for s in f.samples:\n"
        "        if s.name.endswith('_count') and s.labels.get('route') == 'livez': print(int(s.value))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", scrape_code],
        env=env,
        cwd=root,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.stdout.split() == ["7"]
