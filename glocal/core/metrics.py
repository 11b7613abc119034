"""Prometheus metrics (``/metrics``, docs/operations.md).

- ``glocal_http_request_duration_seconds``: a histogram observed by :class:`MetricsMiddleware`. With
  several gunicorn processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them:
  prometheus_client then keeps each process's values in files there and the scrape adds them up
  (multiprocess mode); without it each process answers its own values only.
- Everything read from the database is computed at scrape time by :class:`DatabaseCollector`, with
  aggregates that stay cheap on a large outbox: the outbox depth counts only the rows still waiting (the
  ``message_due`` index's ``status`` prefix); the sent / failed counters never count the message table but
  the *new* rows of the append-only event table since the previous scrape (a primary-key range), adding
  them to totals kept in the shared cache (:func:`event_totals`).

The kernel reads the delivery tables by their label (it imports no app, see ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "glocal_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route (the URL pattern's name) and status class.",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,  # registered in each scrape's registry (or read from the multiprocess files)
)


class MetricsMiddleware:
    """Times every request (second in ``MIDDLEWARE``, after the request id)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        route = (match.view_name or "unnamed") if match is not None else "unmatched"
        REQUEST_LATENCY.labels(request.method or "", route, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - start
        )
        return response


# --- Database-derived metrics ------------------------------------------------------------------------

OUTBOX_STATUSES = ("queued", "sending")  # delivery.Message.Status: the rows not yet sent
CHANNELS = ("email", "sms", "print", "social")
EVENTS_KEY = "glocal:metrics:message-events:v1"
EVENTS_LOCK = EVENTS_KEY + ":lock"
# An event row is counted once it is this old: a transaction still open when a later row (a higher id)
# committed would otherwise be skipped for ever. The dispatcher's transactions last milliseconds.
EVENT_SETTLE_SECONDS = 15.0
EVENT_CHUNK = 200_000  # at most this many new event ids per scrape (a backlog is caught up in steps)
WORKER_MAX_AGE = timedelta(days=1)  # a worker silent for longer is gone: no series for it


def provider_of(channel: str) -> str:
    """The provider a channel's messages are sent through now (the label the counters add to)."""
    if channel == "email":
        backend = getattr(settings, "GLOCAL_EMAIL_PROVIDER", "")
        return backend.split(".")[-2] if backend.count(".") >= 2 else (backend or "smtp")
    if channel == "sms":
        return str(getattr(settings, "GLOCAL_SMS_PROVIDER", "") or "capture")
    return channel  # print and social: produced by Glocal itself


def outbox_depth() -> dict[tuple[str, str], int]:
    """(status, channel) → messages waiting to be sent or being sent. COUNT(*): an index holding status
    and channel can answer it alone (an index-only scan); see docs/operations.md."""
    Message = apps.get_model("delivery", "Message")
    # Platform-wide figures (every organisation), read without a scope: unscoped on purpose.
    rows = (
        Message.unscoped.filter(status__in=OUTBOX_STATUSES)
        .values_list("status", "channel")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {(status, channel): n for status, channel, n in rows}


def oldest_due_age() -> float:
    """Seconds since the oldest queued message became due (0 when none is): the sending's lag."""
    Message = apps.get_model("delivery", "Message")
    now = timezone.now()
    oldest = (
        Message.unscoped.filter(status="queued", not_before__lte=now)  # unscoped: platform-wide
        .aggregate(oldest=Min("not_before"))
        .get("oldest")
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def _settled_upper(events: Any, last: int) -> int:
    """The highest event id that may be counted now: the new rows up to the first one younger than
    ``EVENT_SETTLE_SECONDS`` (excluded), at most ``EVENT_CHUNK`` of them."""
    cut = timezone.now() - timedelta(seconds=EVENT_SETTLE_SECONDS)
    newer = events.filter(id__gt=last)
    first_recent = newer.filter(at__gte=cut).aggregate(first=Min("id"))["first"]
    upper = first_recent - 1 if first_recent is not None else newer.aggregate(top=Max("id"))["top"] or last
    return min(upper, last + EVENT_CHUNK)


def event_totals() -> dict[str, int]:
    """``"kind|channel|provider"`` → events counted since the totals were started.

    The totals and the last counted event id live in the shared cache, so every web process adds to the
    same figures; one scrape at a time updates them (a concurrent one answers the current totals).
    Totals start at the first scrape after the cache is emptied (Prometheus counters may restart: use
    ``rate()`` / ``increase()``), from the table's current end: never a count of the whole history.
    """
    MessageEvent = apps.get_model("delivery", "MessageEvent")
    events = MessageEvent.unscoped.all()  # unscoped: platform-wide figures, no tenant data in them
    state = cache.get(EVENTS_KEY)
    if state is None:
        top = events.aggregate(top=Max("id"))["top"] or 0
        state = {"last": top, "totals": {}}
        cache.add(EVENTS_KEY, state, timeout=None)
        return dict(state["totals"])
    if not cache.add(EVENTS_LOCK, 1, timeout=60):
        return dict(state["totals"])  # another scrape is updating them
    try:
        last = int(state["last"])
        upper = _settled_upper(events, last)
        if upper > last:
            totals = dict(state["totals"])
            rows = (
                events.filter(id__gt=last, id__lte=upper)
                .values_list("kind", "message__channel")
                .annotate(n=Count("id"))
                .order_by()
            )
            for kind, channel, n in rows:
                key = f"{kind}|{channel}|{provider_of(channel)}"
                totals[key] = totals.get(key, 0) + n
            state = {"last": upper, "totals": totals}
            cache.set(EVENTS_KEY, state, timeout=None)
    finally:
        cache.delete(EVENTS_LOCK)
    return dict(state["totals"])


def job_counts() -> dict[str, int]:
    Job = apps.get_model("core", "Job")
    rows = (
        Job.unscoped.filter(status__in=("queued", "running", "failed"))  # unscoped: platform-wide
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def oldest_queued_job_age() -> float:
    Job = apps.get_model("core", "Job")
    oldest = Job.unscoped.filter(status="queued").aggregate(oldest=Min("created_at"))[
        "oldest"
    ]  # unscoped: idem
    return max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0


def worker_ages() -> list[tuple[str, str, float]]:
    """(worker, kind, seconds since its last heartbeat) of the workers seen in the last day."""
    WorkerHeartbeat = apps.get_model("core", "WorkerHeartbeat")
    now = timezone.now()
    rows = WorkerHeartbeat.objects.filter(last_seen__gte=now - WORKER_MAX_AGE).values_list(
        "name", "kind", "last_seen"
    )
    return [(name, kind, max(0.0, (now - seen).total_seconds())) for name, kind, seen in rows]


def _outbox_metrics() -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "glocal_outbox_messages",
        "Messages in the outbox not sent yet, by status (queued: waiting; sending: claimed by a worker).",
        labels=["status", "channel"],
    )
    found = outbox_depth()
    for status in OUTBOX_STATUSES:
        for channel in sorted(set(CHANNELS) | {c for s, c in found if s == status}):
            depth.add_metric([status, channel], found.get((status, channel), 0))
    yield depth
    yield GaugeMetricFamily(
        "glocal_outbox_oldest_due_age_seconds",
        "Seconds since the oldest queued message became due (0: none is late).",
        value=oldest_due_age(),
    )


def _event_metrics() -> Iterator[Metric]:
    totals = event_totals()
    families = {
        "sent": CounterMetricFamily(
            "glocal_messages_sent", "Messages accepted by the provider.", labels=["channel", "provider"]
        ),
        "failed": CounterMetricFamily(
            "glocal_messages_failed",
            "Messages that failed for good (temporary failures are retried: kind=retry below).",
            labels=["channel", "provider"],
        ),
    }
    every = CounterMetricFamily(
        "glocal_message_events",
        "Every recorded message event: sent, failed, retry, skipped, bounced, delivered, opened, clicked…",
        labels=["kind", "channel", "provider"],
    )
    for channel in CHANNELS[:2]:  # the sending channels always have their series, zero included
        for kind in families:
            totals.setdefault(f"{kind}|{channel}|{provider_of(channel)}", 0)
    for key, value in sorted(totals.items()):
        kind, channel, provider = key.split("|")
        if kind in families:
            families[kind].add_metric([channel, provider], value)
        every.add_metric([kind, channel, provider], value)
    yield from families.values()
    yield every


def _job_metrics() -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "glocal_jobs", "Background jobs by status (queued, running, failed).", labels=["status"]
    )
    counts = job_counts()
    for status in ("queued", "running", "failed"):
        jobs.add_metric([status], counts.get(status, 0))
    yield jobs
    yield GaugeMetricFamily(
        "glocal_jobs_oldest_queued_age_seconds",
        "Seconds the oldest queued job has waited (0: none waits).",
        value=oldest_queued_job_age(),
    )


def _worker_metrics() -> Iterator[Metric]:
    ages = GaugeMetricFamily(
        "glocal_worker_heartbeat_age_seconds",
        "Seconds since each worker's last heartbeat (workers seen in the last day).",
        labels=["worker", "kind"],
    )
    alive = GaugeMetricFamily(
        "glocal_workers_alive",
        "Workers whose last heartbeat is fresh (within 3 heartbeat periods), by kind.",
        labels=["kind"],
    )
    fresh = 3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS
    by_kind: dict[str, int] = {}
    for name, kind, age in worker_ages():
        ages.add_metric([name, kind], age)
        by_kind[kind] = by_kind.get(kind, 0) + (age <= fresh)
    for kind, n in sorted(by_kind.items()):
        alive.add_metric([kind], n)
    yield ages
    yield alive


PARTS: dict[str, Callable[[], Iterable[Metric]]] = {
    "outbox": _outbox_metrics,
    "message_events": _event_metrics,
    "jobs": _job_metrics,
    "workers": _worker_metrics,
}


class DatabaseCollector(Collector):
    """The database-derived metrics, computed at each scrape. A part that fails (database down) is
    left out and ``glocal_metrics_part_up{part=…}`` says 0; the others are still answered."""

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "glocal_metrics_part_up", "1 when this part of the metrics could be read.", labels=["part"]
        )
        for part, produce in PARTS.items():
            try:
                metrics = list(produce())
            except Exception:
                log.exception("metrics part %s failed", part)
                up.add_metric([part], 0)
                continue
            up.add_metric([part], 1)
            yield from metrics
        yield up


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def request_registry() -> CollectorRegistry:
    """A registry with the request histogram: every process's (added up from the files of
    ``PROMETHEUS_MULTIPROC_DIR``) in multiprocess mode, else this process's."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(REQUEST_LATENCY)
    return registry


def exposition() -> bytes:
    """The text a scrape gets: the request histogram and the database-derived metrics."""
    registry = request_registry()
    registry.register(DatabaseCollector())
    return generate_latest(registry)
