"""W1: store pages under load while a campaign sends — the scale-out layout on one machine.

Layout (docs/scaling.md): one PostgreSQL; gunicorn with 2 worker processes; Redis (127.0.0.1:6379, the
dedicated databases ``W1_BROKER_DB`` / ``W1_CACHE_DB``, default 13 / 14) as Celery's broker and the
shared cache; three Celery workers on separate queues (``GLOCAL_CELERY_QUEUES=1``): ``launch`` (the beat's
delivery tick, which launches the due campaign; the beat runs in the ``jobs`` worker), ``send`` (the
senders, to Postfix's ``smtp-sink``) and ``jobs`` (background jobs, rollups).

Ours: 50 simulated store users (one user and session each, a local manager of the campaign's store,
logged in with Django's test client cookie) request the store home, the campaign list, the campaign's
page and ``/reports/`` in turn, as fast as the server answers (threads + ``http.client``, a new
connection per request as gunicorn's sync workers close it), while the campaign sends. Reference, same
server, same users, same moment: a bare "hello" view (``/bench-hello``: served only by this module's WSGI
entry point, which gunicorn runs here; no such route exists in the product). Phases alternate hello /
pages. Ratio = pages req/s ÷ hello req/s (higher is better; target ≥ 0.3, with p95 < 300 ms per page and a
query count per page that does not change with the data's size: counted in-process with
``CaptureQueriesContext`` at the campaign's contacts only, at the full contacts, and after the load with
the outbox filled).

Sizes: quick 50,000 contacts, a 10,000-message campaign, 2 × (10 s hello + 10 s pages); full 1,000,000
contacts, 100,000 messages, 3 × (30 s + 30 s). ``W1_CONTACTS`` / ``W1_MESSAGES`` / ``W1_PHASE_S`` change
them. Needs PostgreSQL (``W1_PG``, default ``postgres://postgres@127.0.0.1:5432``), Redis and smtp-sink.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import Result, bench_smtp, benchmark, reliability

ROOT = Path(__file__).resolve().parent.parent
USERS = 50
PAGES = ("/", "/campaigns/", "/campaigns/{campaign}/", "/reports/")
HELLO = "/bench-hello"
SIZE_TABLES = 14  # the largest tables reported (rows, bytes per row, index share)


# -- the WSGI entry point gunicorn runs: the product's URLs plus the reference's bare view -----------------

_django_app: Any = None


def _hello(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"hello", content_type="text/plain")


def __getattr__(name: str) -> Any:
    """``urlpatterns`` for this module used as ROOT_URLCONF (only inside the benchmark's gunicorn)."""
    if name == "urlpatterns":
        from django.urls import path

        import config.urls

        return [path(HELLO.lstrip("/"), _hello), *config.urls.urlpatterns]
    raise AttributeError(name)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    global _django_app
    if _django_app is None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        _django_app = get_wsgi_application()
        settings.ROOT_URLCONF = __name__  # the bench's urlconf: the product's plus /bench-hello
    return _django_app(environ, start_response)


# -- children run with Django on the benchmark's database ---------------------------------------------


def _child_users(campaign_id: int, count: int) -> dict[str, Any]:
    """``count`` local managers of the campaign's store, each with a logged-in session."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from glocal.campaigns.models import Campaign
    from glocal.core.roles import Role
    from glocal.core.scope import activate, system_scope
    from glocal.network import services

    campaign = Campaign.unscoped.select_related("entity").get(pk=campaign_id)
    store = campaign.entity
    user_model = get_user_model()
    cookies = []
    with activate(system_scope(store.organisation_id)):
        for i in range(count):
            user = user_model.objects.create_user(
                f"w1-user{i}@example.test", None, full_name=f"Store user {i}"
            )
            services.membership_grant(
                user_id=user.pk, entity=store, role=Role.LOCAL_MANAGER, by_user_id=None, by_role=Role.HQ_ADMIN
            )
            client = Client()
            client.force_login(user)
            cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return {"cookie_name": settings.SESSION_COOKIE_NAME, "cookies": cookies}


def _child_queries(campaign_id: int) -> dict[str, Any]:
    """The number of queries (and the status) of each page for the first bench user, after a warm-up."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(email="w1-user0@example.test"))
    counts = {}
    for page in PAGES:
        url = page.format(campaign=campaign_id)
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        count = len(queries)  # now: the next request's request_started signal empties the query log
        timings = []
        for _ in range(5):  # the page alone, in one process, nothing else asking
            began = time.perf_counter()
            client.get(url)
            timings.append(time.perf_counter() - began)
        counts[page] = {
            "queries": count,
            "status": response.status_code,
            "ms": round(statistics.median(timings) * 1000, 1),
        }
    return counts


def _child(args: list[str], db: reliability.Database) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_web", *args],
        cwd=ROOT, env=db.env(), capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"W1 child {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- seeding ---------------------------------------------------------------------------------------------


def add_contacts(db: reliability.Database, extra: int, prefix: str = "w1") -> None:
    """``extra`` more contacts in the campaign's organisation and store, without email consent (they are
    in the database, the pages' queries read past them, the campaign does not address them)."""
    with contextlib.closing(db.connect()) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'audience_contact' "
                "AND column_name <> 'id' ORDER BY ordinal_position"
            ).fetchall()
        ]
        varying = {
            "email": f"'{prefix}-' || g || '@example.test'",
            "email_hash": f"md5('{prefix}-' || g)",
            "consent_email": "''",
        }
        select = ", ".join(varying.get(c, f't."{c}"') for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        conn.execute(
            f"INSERT INTO audience_contact ({names}) SELECT {select} FROM "  # noqa: S608 - our own columns
            "(SELECT * FROM audience_contact ORDER BY id LIMIT 1) t CROSS JOIN generate_series(1, %s) g",
            [extra],
        )
        conn.execute("ANALYZE")


def table_sizes(db: reliability.Database) -> list[dict[str, Any]]:
    """The largest tables: rows, total bytes (with indexes and TOAST), index bytes, bytes per row."""
    with contextlib.closing(db.connect()) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT %s",
            [SIZE_TABLES],
        ).fetchall()
        sizes = []
        for (name,) in tables:
            rows = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608 - catalogue names
            total, indexes = conn.execute(
                "SELECT pg_total_relation_size(%s::regclass), pg_indexes_size(%s::regclass)", [name, name]
            ).fetchone()
            sizes.append(
                {
                    "table": name,
                    "rows": rows,
                    "total_bytes": total,
                    "index_bytes": indexes,
                    "bytes_per_row": round(total / rows) if rows else None,
                }
            )
        return sizes


# -- the processes ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Layout:
    """gunicorn (2 workers) and three Celery workers on the launch / send / jobs queues."""

    def __init__(self, db: reliability.Database, smtp_port: int, workdir: Path) -> None:
        self.db = db
        self.workdir = workdir
        self.port = _free_port()
        broker = int(os.environ.get("W1_BROKER_DB", "13"))
        cache = int(os.environ.get("W1_CACHE_DB", "14"))
        for number in (broker, cache):  # the benchmark's own Redis databases, emptied
            subprocess.run(["redis-cli", "-n", str(number), "FLUSHDB"], check=True, capture_output=True)
        self.env = db.env(
            CELERY_BROKER_URL=f"redis://127.0.0.1:6379/{broker}",
            REDIS_URL=f"redis://127.0.0.1:6379/{cache}",
            GLOCAL_CELERY_QUEUES="1",
            GLOCAL_SMTP_HOST="127.0.0.1",
            GLOCAL_SMTP_PORT=str(smtp_port),
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        proc.log = log  # type: ignore[attr-defined]
        self.procs[name] = proc

    def start(self) -> None:
        self._start(
            "web",
            [sys.executable, "-m", "gunicorn", "bench.bench_web:application", "--workers", "2",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "120"],
        )  # fmt: skip
        for queue, concurrency in (("launch", 1), ("send", 2), ("jobs", 1)):
            args = [sys.executable, "-m", "celery", "--app", "config.celery", "worker", "--queues", queue,
                    "--hostname", f"w1-{queue}@%h", "--concurrency", str(concurrency),
                    "--loglevel", "WARNING"]  # fmt: skip
            if queue == "jobs":
                args += ["--beat", "--schedule", str(self.workdir / "celerybeat-schedule")]
            self._start(queue, args)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until gunicorn answers
            self.check()
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/livez")
                if conn.getresponse().status == 200:
                    return
            time.sleep(0.5)  # waiting for gunicorn to listen
        raise RuntimeError("W1: gunicorn did not answer /livez")

    def check(self) -> None:
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"W1: {', '.join(dead)} exited; see {self.workdir}/<name>.log")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.log.close()  # type: ignore[attr-defined]


# -- the load generator ------------------------------------------------------------------------------------


def load(port: int, cookie: str, cookies: list[str], paths: list[str], seconds: float) -> dict[str, Any]:
    """``len(cookies)`` threads, each a user going through ``paths`` in turn for ``seconds``."""
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(cookies) + 1)
    stop_at = [0.0]

    def user(index: int, session: str) -> None:
        headers = {"Cookie": f"{cookie}={session}", "Host": "127.0.0.1"}
        mine: dict[str, list[float]] = {p: [] for p in paths}
        start.wait()
        step = index  # users start on different pages
        while time.perf_counter() < stop_at[0]:
            path = paths[step % len(paths)]
            step += 1
            began = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
            except OSError as exc:
                with lock:
                    errors.append(f"{path}: {exc}")
                continue
            if response.status != 200:
                with lock:
                    errors.append(f"{path}: HTTP {response.status}")
                continue
            mine[path].append(time.perf_counter() - began)
        with lock:
            for path, values in mine.items():
                latencies[path].extend(values)

    threads = [threading.Thread(target=user, args=(i, c), daemon=True) for i, c in enumerate(cookies)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    done = sum(len(v) for v in latencies.values())
    return {
        "requests": done,
        "elapsed_s": elapsed,
        "rps": done / elapsed,
        "errors": len(errors),
        "first_errors": errors[:5],
        "latencies": latencies,
    }


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else (values[0] if values else 0.0)


def _sent(db: reliability.Database) -> int:
    with contextlib.closing(db.connect()) as conn:
        return reliability.status_counts(conn).get("sent", 0)


def _wait_launched(db: reliability.Database, campaign_id: int, layout: Layout, timeout: float) -> float:
    began = time.perf_counter()
    with contextlib.closing(db.connect()) as conn:
        while time.perf_counter() - began < timeout:
            layout.check()
            state = conn.execute(
                "SELECT state FROM campaigns_campaign WHERE id = %s", [campaign_id]
            ).fetchone()[0]
            if state in {"sending", "sent"}:
                return time.perf_counter() - began
            time.sleep(0.5)  # polling the campaign's state until the beat's tick launches it
    raise RuntimeError(f"W1: the campaign was not launched in {timeout:.0f} s (see the launch / jobs logs)")


def _uptime() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="glocal-w1-"))
    try:
        yield path
    finally:
        if not os.environ.get("W1_KEEP"):
            shutil.rmtree(path, ignore_errors=True)


def _phases(
    layout: Layout,
    db: reliability.Database,
    users: dict[str, Any],
    pages: list[str],
    runs: int,
    seconds: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
    cookie, cookies = users["cookie_name"], users["cookies"]
    load(layout.port, cookie, cookies[:10], [*pages, HELLO], 3)  # warm-up: every worker has imported it all
    hello, ours, sent = [], [], [_sent(db)]
    for _ in range(runs):
        hello.append(load(layout.port, cookie, cookies, [HELLO], seconds))
        ours.append(load(layout.port, cookie, cookies, pages, seconds))
        sent.append(_sent(db))
        layout.check()
    return hello, ours, sent


@benchmark("W1")
def w1(quick: bool) -> Result:
    contacts = int(os.environ.get("W1_CONTACTS", 50_000 if quick else 1_000_000))
    messages = int(os.environ.get("W1_MESSAGES", 10_000 if quick else 100_000))
    seconds = float(os.environ.get("W1_PHASE_S", 10 if quick else 30))
    runs = 2 if quick else 3
    pg = os.environ.get("W1_PG", reliability.DEFAULT_PG)
    load_before = _uptime()
    with _workdir() as workdir:
        db = reliability.make_database("postgres", workdir / "db", pg_server=pg)
        try:
            started = time.perf_counter()
            info = reliability.setup_campaign(db, messages, seed=13, timeout=7200)  # the demo letter
            campaign = info["campaign_id"]
            subprocess.run(  # the pages' static manifest, as a production install has it
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=ROOT, env=db.env(), check=True, timeout=600,
            )  # fmt: skip
            users = _child(["--users", str(campaign), str(USERS)], db)
            queries_small = _child(["--queries", str(campaign)], db)
            add_contacts(db, contacts - messages)
            queries_full = _child(["--queries", str(campaign)], db)
            seed_s = time.perf_counter() - started
            print(
                f"W1: seeded {contacts:,} contacts, {messages:,} to send, in {seed_s:.0f} s", file=sys.stderr
            )
            pages = [p.format(campaign=campaign) for p in PAGES]
            with bench_smtp.sink() as smtp_port:
                layout = Layout(db, smtp_port, workdir)
                try:
                    layout.start()
                    launch_s = _wait_launched(db, campaign, layout, timeout=600 if quick else 3600)
                    load_during = _uptime()
                    hello, ours, sent = _phases(layout, db, users, pages, runs, seconds)
                    load_after = _uptime()
                finally:
                    layout.stop()
            queries_after = _child(["--queries", str(campaign)], db)  # sending (the workers are stopped)
            add_contacts(db, contacts // 2, prefix="w1b")
            queries_more = _child(["--queries", str(campaign)], db)
            sizes = table_sizes(db)
        finally:
            db.drop()
    by_page = {p: [x for run in ours for x in run["latencies"][p]] for p in pages}
    page_p95_ms = {p: round(p95(v) * 1000, 1) for p, v in by_page.items()}
    hello_p95_ms = round(p95([x for run in hello for x in run["latencies"][HELLO]]) * 1000, 1)
    ours_rps = statistics.median(r["rps"] for r in ours)
    hello_rps = statistics.median(r["rps"] for r in hello)
    counted = (queries_small, queries_full, queries_after, queries_more)
    counts = {p: [q[p]["queries"] for q in counted] for p in PAGES}
    constant = all(v[0] == v[1] and v[2] == v[3] for v in counts.values())  # same state, more data
    statuses = {p: {q[p]["status"] for q in counted} for p in PAGES}
    alone_ms = {p: [q[p]["ms"] for q in counted] for p in PAGES}
    sent_during = sent[-1] - sent[0]
    load_s = sum(r["elapsed_s"] for r in hello + ours)
    notes = (
        f"p95 per page {', '.join(f'{p} {v} ms' for p, v in page_p95_ms.items())} (hello {hello_p95_ms} ms); "
        f"queries per page {'constant' if constant else 'NOT constant'} "
        f"({', '.join(f'{p} {v}' for p, v in counts.items())} before the launch at {messages:,} / "
        f"{contacts:,} contacts, while sending at {contacts:,} / {contacts + contacts // 2:,}); "
        f"{sent_during:,} messages sent during the {load_s:.0f} s of load "
        f"({sent_during / load_s:.0f} msg/s); errors {sum(r['errors'] for r in hello + ours)}; "
        f"load {load_before} before, {load_during} at launch, {load_after} after"
    )
    return Result(
        id="W1",
        ours=ours_rps,
        reference=hello_rps,
        unit="req/s",
        target="≥ 0.3, p95 < 300 ms, constant queries",
        dataset=(
            f"{contacts:,} contacts, a {messages:,}-message campaign sending, PostgreSQL, gunicorn 2 "
            f"workers, Celery launch/send/jobs, Redis; {USERS} users, {runs} × ({seconds:.0f} s hello + "
            f"{seconds:.0f} s pages)"
        ),
        runs=runs,
        higher_is_better=True,
        notes=notes,
        extra={
            "page_p95_ms": page_p95_ms,
            "hello_p95_ms": hello_p95_ms,
            "rps_runs": [round(r["rps"], 1) for r in ours],
            "hello_rps_runs": [round(r["rps"], 1) for r in hello],
            "queries": counts,
            "page_alone_ms": alone_ms,
            "statuses": {p: sorted(s) for p, s in statuses.items()},
            "errors": [e for r in hello + ours for e in r["first_errors"]][:10],
            "sent_at_phase_ends": sent,
            "launch_wait_s": round(launch_s, 1),
            "seed_s": round(seed_s, 1),
            "setup": info,
            "table_sizes": sizes,
            "load": {"before": load_before, "at_launch": load_during, "after": load_after},
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_web")
    parser.add_argument("--users", nargs=2, type=int, metavar=("CAMPAIGN", "COUNT"))
    parser.add_argument("--queries", type=int, metavar="CAMPAIGN")
    options = parser.parse_args()
    if options.users:
        print(json.dumps(_child_users(*options.users)))
    elif options.queries:
        print(json.dumps(_child_queries(options.queries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
