"""Delivery reliability: kill -9 sending workers in the middle of a campaign and count what was lost.

``python -m bench.reliability [--runs 20] [--messages 10000] [--database sqlite|postgres] [--faults]``

Each run, from scratch: a fresh database (a SQLite file in a temporary directory, or a PostgreSQL database
created on the server and dropped afterwards), ``migrate``, one store with N contacts who consented to
email, one email campaign scheduled and due now (created through the campaign services: created,
personalised, submitted, approved by the "none" policy, scheduled). An SMTP sink in its own process
(aiosmtpd) writes the Message-ID of every message it accepted to a file — it outlives the workers. Then
``glocal deliver --until-idle`` worker processes send the campaign (``GLOCAL_WORKER_HEARTBEAT_SECONDS=1``
so that a dead worker's rows go back to the queue ~3 s after its last beat) while the harness, polling
the outbox, ``kill -9``s a random worker each time the sent count passes one of a few seeded random
thresholds and starts a new one. When every row is final, it reconciles:

- every outbox row SENT, the campaign "sent";
- lost = stable ids the sink never received (must be 0); unexpected = ids received that are no row;
- duplicates = messages received − distinct ids; each duplicate should be explained: its row was
  requeued after a kill (the window between the SMTP final "." and the commit) or is flagged
  ``possible_duplicate`` (an unknown outcome, retried).

``--faults``: the sink also answers ``451 4.3.0`` at the end of DATA to ~2 % of the messages and drops
the connection right after the final "." (message kept, no reply) for ~1 % — each only on a message's
first delivery. COMPLIANCE.md wants both retried. The workers then run with the engine's retry delays
shortened to 1 s (``GLOCAL_RETRY_BASE_SECONDS=1``, ``GLOCAL_UNKNOWN_RETRY_SECONDS=1``; defaults 5 min
× 2^n and 2 min); ``--fast-forward`` instead keeps the defaults and moves the waiting rows'
``not_before`` to now (for an engine without those settings).

One line per run and a summary are printed; the figures go to ``bench/results/reliability*.json``.
Loopback only; every wait is bounded (``--timeout`` per run). The helpers are reused by
``glocal/delivery/tests/test_reliability.py`` (a small run in the test suite) and by E1
(``bench/bench_e2e.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
SENDER_DOMAIN = "glocal.localhost"
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>@\s.]+)[^>@\s]*@", re.IGNORECASE | re.MULTILINE)  # id.MAC
REPORTED_OPTIONS = {
    "runs",
    "messages",
    "database",
    "kills",
    "workers",
    "threads",
    "seed",
    "faults",
    "timeout",
    "slow_ms",
    "heartbeat",
    "fast_forward",
    "hold_lock",
}


def engine_revision() -> str:
    """The commit the engine was measured at (``+dirty`` when glocal/ has uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "glocal"], cwd=ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


# -- databases ----------------------------------------------------------------------------------------


@dataclass
class Database:
    """One run's database: the environment a Glocal subprocess needs to reach it, and a raw connection
    for the harness (which never imports Django: the test suite runs it under its own settings)."""

    vendor: str  # "sqlite" | "postgresql"
    workdir: Path
    url: str = ""  # PostgreSQL: DATABASE_URL
    server: str = ""  # PostgreSQL: the server, without a database name
    name: str = ""

    @property
    def path(self) -> Path:
        return self.workdir / "glocal.sqlite3"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in {"DATABASE_URL", "GLOCAL_SQLITE_PATH", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DEBUG="0",  # no query log in long-running workers
            GLOCAL_DATA_DIR=str(self.workdir),
            GLOCAL_SENDER_DOMAIN=SENDER_DOMAIN,
            PYTHONUNBUFFERED="1",
        )
        if self.vendor == "postgresql":
            env["DATABASE_URL"] = self.url
        env.update(extra)
        return env

    def connect(self) -> Any:
        if self.vendor == "sqlite":
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            return conn
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def placeholder(self) -> str:
        return "?" if self.vendor == "sqlite" else "%s"

    def drop(self) -> None:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(f"{self.server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def server_url(database_url: str) -> str:
    """``postgres://user@host:port/db`` → ``postgres://user@host:port``."""
    head, _sep, _db = database_url.rpartition("/")
    return head if "://" in head and head.split("://", 1)[1] else database_url.rstrip("/")


def make_database(kind: str, workdir: Path, *, pg_server: str = DEFAULT_PG, template: str = "") -> Database:
    """A fresh, empty database (``template``: a PostgreSQL database to copy, e.g. a migrated one)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        return Database("sqlite", workdir)
    if kind not in {"postgres", "postgresql"}:
        raise ValueError(f"unknown database kind {kind!r}")
    import psycopg

    name = f"glocal_rel_{os.getpid()}_{int(time.time() * 1000) % 10**9}_{random.randrange(10**6)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return Database("postgresql", workdir, url=f"{pg_server}/{name}", server=pg_server, name=name)


# -- the campaign ---------------------------------------------------------------------------------------


def setup_campaign(
    db: Database, messages: int, *, seed: int = 1, mjml: str = "", migrate: bool = True, timeout: float = 900
) -> dict[str, Any]:
    """In a subprocess on ``db``: migrate, one store, ``messages`` consenting contacts, one email
    campaign scheduled and due. Returns what the child printed (campaign id, message size, timings)."""
    args = [sys.executable, "-m", "bench.reliability", "--setup-only", "--messages", str(messages)]
    args += (
        ["--seed", str(seed)]
        + (["--mjml-file", mjml] if mjml else [])
        + ([] if migrate else ["--no-migrate"])
    )
    done = subprocess.run(
        args, cwd=ROOT, env=db.env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"setup failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _setup_child(messages: int, seed: int, mjml_file: str, migrate: bool) -> dict[str, Any]:
    """Runs inside the subprocess (Django set up on the run's database)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    started = time.perf_counter()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()

    from glocal.audience.models import Contact, hash_value
    from glocal.campaigns import services as campaign_services
    from glocal.campaigns.models import Campaign
    from glocal.campaigns.states import State
    from glocal.core.roles import Role
    from glocal.core.scope import Scope, activate
    from glocal.creatives import services as creative_services
    from glocal.creatives.models import Channel, CreativeSettings
    from glocal.demo import creatives as creative_seed
    from glocal.demo.generator import person_name
    from glocal.demo.network import hq_scope, seed_network
    from glocal.network.models import Entity

    org = seed_network(name="Maison Fiable", slug=f"fiable-{seed}", stores=1, seed=seed)
    hq = Entity.unscoped.get(organisation=org, parent__isnull=True)
    store = Entity.unscoped.filter(organisation=org, entity_type__is_local=True).order_by("pk").first()
    assert store is not None
    rng = random.Random(seed)
    now = timezone.now()

    def contacts() -> Iterator[dict[str, str]]:
        for i in range(messages):
            first, last = person_name(rng)
            email = f"c{i}.{seed}@example.test"
            yield {"first_name": first, "last_name": last, "email": email, "email_hash": hash_value(email)}

    model = Contact(
        organisation=org, owner=store, owner_path=store.path, kind=Contact.Kind.CUSTOMER,
        consent_email="opt_in", created_at=now,
    )  # fmt: skip
    with transaction.atomic():  # COPY on PostgreSQL (1,000,000 contacts for E1's full size)
        _insert_like(model, contacts())
    contacts_done = time.perf_counter()

    source = Path(mjml_file).read_text() if mjml_file else creative_seed.DEMO_EMAIL_MJML
    with activate(hq_scope(org, hq)):
        CreativeSettings.objects.create(organisation=org, sms_advertiser="Maison Fiable")
        template = creative_services.template_create(channel=Channel.EMAIL, name="Lettre", entity=hq)
        creative_services.version_save(
            template=template,
            source=source,
            zones_data=creative_seed.DEMO_EMAIL_ZONES,
            subject="{{ zones.headline }} — {{ store.name }}",
            preheader="Bonjour {{ recipient.first_name|fallback('cher client') }}",
            text=creative_seed.DEMO_EMAIL_TEXT,
        )
        creative_services.version_publish(template=template)
        template.approval_policy = "none"
        template.save(update_fields=["approval_policy"])
    store_scope = Scope(
        organisation_id=org.pk, entity_id=store.pk, entity_path=store.path, role=Role.LOCAL_MANAGER
    )
    with activate(store_scope):
        campaign = campaign_services.campaign_create(entity=store, template=template, name="Fiabilité")
        campaign_services.campaign_update(
            campaign=campaign,
            values={"headline": "Nous rouvrons !", "body": "<p>Venez nous voir</p>"},
            scheduled_at=now + dt.timedelta(days=1),
            holdout_percent=0,  # every contact gets the message: the run counts them all
        )
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    campaign = Campaign.unscoped.get(pk=campaign.pk)
    if campaign.state != State.SCHEDULED:
        raise RuntimeError(f"the campaign is {campaign.state}, not scheduled")
    Campaign.unscoped.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    return {
        "campaign_id": campaign.pk,
        "organisation_id": org.pk,
        "store": store.name,
        "contacts": messages,
        "message_bytes": _one_message_size(campaign.pk),
        "migrate_s": round(migrated - started, 2),
        "contacts_s": round(contacts_done - migrated, 2),
        "setup_s": round(time.perf_counter() - started, 2),
    }


def _insert_like(model: Any, varying: Iterator[dict[str, Any]]) -> int:
    """Rows of ``model``'s table: the unsaved ``model`` instance's prepared values (each field prepared
    once, as bulk_create would), with ``varying``'s plain values per row — written the way the launch
    writes its outbox (``COPY`` on PostgreSQL, multi-row INSERTs on SQLite)."""
    from django.db import connection

    from glocal.delivery.launch import insert_rows

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = tuple(f.column for f in fields)
    template = [f.get_db_prep_save(f.pre_save(model, True), connection) for f in fields]
    index = {f.attname: i for i, f in enumerate(fields)}

    def rows() -> Iterator[tuple[Any, ...]]:
        for values in varying:
            row = list(template)
            for name, value in values.items():
                row[index[name]] = value
            yield tuple(row)

    return insert_rows(type(model), columns, rows())


def _one_message_size(campaign_id: int) -> int:
    """The size of the campaign's first message, built the way the dispatcher builds it."""
    from glocal.audience.models import Contact
    from glocal.delivery import dispatch
    from glocal.delivery.models import Message

    contact = Contact.unscoped.order_by("pk").first()
    if contact is None:
        return 0
    message = Message(campaign_id=campaign_id, stable_id="size-probe")
    mail = dispatch.Dispatcher("size-probe")._variant_mail(message)
    recipient = {
        "id": contact.pk,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "city": contact.city,
        "postcode": contact.postcode,
        "loyalty_points": "",
    }  # the variables of dispatch.recipient_context
    return len(mail.build(recipient))


# -- the SMTP sink ----------------------------------------------------------------------------------------


@dataclass
class FaultPlan:
    """Which messages the sink refuses (451 at the end of DATA) or drops after the final "." — each only
    the first time it sees the Message-ID. Deterministic: a hash of (seed, id)."""

    seed: int = 1
    temp_permille: int = 20
    drop_permille: int = 10

    def pick(self, key: str) -> str:
        roll = int.from_bytes(hashlib.sha256(f"{self.seed}:{key}".encode()).digest()[:4], "big") % 1000
        if roll < self.temp_permille:
            return "temp"
        if roll < self.temp_permille + self.drop_permille:
            return "drop"
        return ""


class RecordingHandler:
    """aiosmtpd handler: one line per DATA in the log, written and flushed before the reply.
    ``R id`` accepted, ``T id`` refused with 451, ``D id`` kept then the connection cut (no reply)."""

    def __init__(self, log: Any, faults: FaultPlan | None, slow_ms: int = 0) -> None:
        self.log = log
        self.faults = faults
        self.slow_ms = slow_ms
        self.seen: dict[str, int] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        found = MESSAGE_ID.search(envelope.original_content or envelope.content or b"")
        key = found.group(1).decode("ascii", "replace") if found else "-"
        first = key not in self.seen
        self.seen[key] = self.seen.get(key, 0) + 1
        fault = self.faults.pick(key) if (self.faults and first) else ""
        if fault == "temp":
            self.log.write(f"T {key}\n")
            self.log.flush()
            return "451 4.3.0 Temporary local problem, try later"
        self.log.write(f"{'D' if fault == 'drop' else 'R'} {key}\n")
        self.log.flush()
        if fault == "drop":
            server.transport.abort()  # the message is kept; the client never hears back
        elif self.slow_ms:  # a slow receiver: kept at once, answered later
            import asyncio

            await asyncio.sleep(self.slow_ms / 1000)
        return "250 2.0.0 Ok: queued"


def _sink_child(log_path: str, faults: FaultPlan | None, slow_ms: int = 0) -> None:
    """Runs inside the sink subprocess: serve until SIGTERM, print ``READY <port>`` once listening."""
    import asyncio
    import logging

    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.ERROR)

    async def main() -> None:
        with open(log_path, "a", buffering=1 << 16) as log:
            handler = RecordingHandler(log, faults, slow_ms)
            loop = asyncio.get_running_loop()
            server = await loop.create_server(
                lambda: SMTP(handler, hostname="sink.localhost", decode_data=False, data_size_limit=0),
                "127.0.0.1",
                0,
                backlog=256,
            )
            stop = asyncio.Event()
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
            port = server.sockets[0].getsockname()[1]
            print(f"READY {port}", flush=True)
            await stop.wait()
            server.close()
            log.flush()

    asyncio.run(main())


@dataclass
class Sink:
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[str] | None = None

    def records(self) -> list[tuple[str, str]]:
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        return [(line[0], line[2:]) for line in lines if len(line) > 2]


@contextlib.contextmanager
def sink(
    workdir: Path, faults: FaultPlan | None = None, *, slow_ms: int = 0, timeout: float = 30
) -> Iterator[Sink]:
    """The recording sink in its own process (it survives the workers' kills). ``slow_ms``: wait that
    long before answering the end of DATA (a slow receiver)."""
    s = Sink(workdir / "sink.log")
    args = [sys.executable, "-m", "bench.reliability", "--sink-only", "--sink-log", str(s.log_path)]
    args += ["--slow-ms", str(slow_ms)]
    if faults:
        args += ["--faults", "--seed", str(faults.seed), "--temp-permille", str(faults.temp_permille)]
        args += ["--drop-permille", str(faults.drop_permille)]
    with open(workdir / "sink.err", "w") as err:
        s.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert s.proc.stdout is not None
        ready, _w, _x = select.select([s.proc.stdout], [], [], timeout)
        line = s.proc.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            raise RuntimeError(f"the SMTP sink did not start: {line!r}; {(workdir / 'sink.err').read_text()}")
        s.port = int(line.split()[1])
        yield s
    finally:
        s.proc.terminate()
        try:
            s.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait()


# -- workers ----------------------------------------------------------------------------------------------


@dataclass
class Workers:
    """``glocal deliver --until-idle`` processes on the run's database, sending to the sink."""

    db: Database
    smtp_port: int
    threads: int = 2
    heartbeat: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0
    killed: int = 0
    crashed: int = 0
    finish_race: int = 0  # exits with the finish_campaigns race traceback (engine bug, see the report)
    killed_pids: set[int] = field(default_factory=set)
    peak_rss_mb: float = 0.0

    def sample_rss(self) -> None:
        """The largest resident set (VmHWM) seen among the running workers, in MB."""
        for proc in self.alive():
            with contextlib.suppress(OSError):
                for row in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if row.startswith("VmHWM:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(row.split()[1]) / 1024)

    def start(self) -> subprocess.Popen[bytes]:
        env = self.db.env(
            GLOCAL_SMTP_HOST="127.0.0.1",
            GLOCAL_SMTP_PORT=str(self.smtp_port),
            GLOCAL_WORKER_HEARTBEAT_SECONDS=str(self.heartbeat),
            **self.extra_env,
        )
        args = [sys.executable, "-m", "glocal.cli", "deliver", "--until-idle", "--threads", str(self.threads)]
        self.started += 1
        log = open(self.db.workdir / f"worker-{self.started}.log", "wb")  # noqa: SIM115 - closed in reap
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def reap(self) -> None:
        """Forget the processes that ended (a non-zero exit not caused by a kill is a crash)."""
        for proc in [p for p in self.procs if p.poll() is not None]:
            proc.log.close()  # type: ignore[attr-defined]
            if proc.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
                text = Path(proc.log.name).read_text(errors="replace")  # type: ignore[attr-defined]
                if "in finish_campaigns" in text and "cannot be finished sending" in text:
                    self.finish_race += 1  # another process marked the campaign sent first
                else:
                    self.crashed += 1
            self.procs.remove(proc)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.killed += 1
        self.killed_pids.add(proc.pid)

    def stop(self, wait: float = 30) -> None:
        deadline = time.monotonic() + wait
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.alive():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.reap()

    def tail(self, lines: int = 30) -> str:
        logs = sorted(self.db.workdir.glob("worker-*.log"))
        return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-lines:]) for p in logs)


# -- the outbox, read raw -----------------------------------------------------------------------------------


def status_counts(conn: Any) -> dict[str, int]:
    return dict(conn.execute("SELECT status, count(*) FROM delivery_message GROUP BY status").fetchall())


def fast_forward(db: Database, conn: Any) -> int:
    """``--fast-forward``: rows waiting for a retry (not_before in the future) are due now — the harness
    advances their clock instead of waiting the engine's default 2–5 minutes of backoff."""
    if db.vendor == "sqlite":
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        cur = conn.execute(
            "UPDATE delivery_message SET not_before = ? WHERE status = 'queued' AND not_before > ?",
            [now, now],
        )
    else:
        cur = conn.execute(
            "UPDATE delivery_message SET not_before = now() WHERE status = 'queued' AND not_before > now()"
        )
    return cur.rowcount or 0


def hold_write_lock(db: Database, seconds: float) -> float:
    """``--hold-lock``: another writer keeps SQLite's write lock for ``seconds`` (a long launch, an
    import), longer than the workers' 20 s busy timeout. Returns how long it was held."""
    if db.vendor != "sqlite":
        return 0.0
    holder = sqlite3.connect(db.path, isolation_level=None, timeout=30)
    try:
        started = time.perf_counter()
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)  # the fault itself: the lock held this long
        holder.execute("COMMIT")
        return round(time.perf_counter() - started, 1)
    finally:
        holder.close()


@dataclass
class RunResult:
    run: int
    database: str
    messages: int
    faults: bool
    ok: bool = False
    all_sent: bool = False
    campaign_state: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    received: int = 0
    distinct: int = 0
    lost: int = 0  # rows the engine marked sent that the sink never received
    missing: int = 0  # stable ids the sink never received, whatever the row's state (stuck rows too)
    unexpected: int = 0
    duplicates: int = 0
    duplicates_requeued: int = 0  # duplicated ids requeued after their worker's kill
    duplicates_flagged: int = 0  # duplicated ids flagged possible_duplicate (unknown outcome)
    duplicates_unexplained: int = 0
    duplicates_per_kill: list[int] = field(default_factory=list)  # per killed worker (by pid)
    flagged_possible_duplicate: int = 0
    requeued_rows: int = 0  # rows put back in the queue after their worker was killed
    requeued_from_live_workers: int = 0  # ... while the worker that had claimed them was alive
    retry_events: int = 0
    kills: int = 0
    kill_points: list[int] = field(default_factory=list)
    workers_started: int = 0
    idle_restarts: int = 0
    crashes: int = 0
    finish_race_crashes: int = 0
    faults_temp: int = 0
    faults_drop: int = 0
    drops_not_flagged: int = 0
    drops_killed_before_flag: int = 0
    drops_not_flagged_ids: list[str] = field(default_factory=list)
    fast_forwarded: int = 0
    lock_held_s: float = 0.0
    timed_out: bool = False
    setup_s: float = 0.0
    send_s: float = 0.0
    duration_s: float = 0.0
    msg_per_s: float = 0.0
    error: str = ""


def _worker_pid(detail: Any) -> int:
    """The pid in a REQUEUED event's worker name (``delivery@host:PID:thread/i``), or 0."""
    if isinstance(detail, str):
        detail = json.loads(detail or "{}")
    found = re.search(r"@[^:]*:(\d+):", str((detail or {}).get("worker", "")))
    return int(found.group(1)) if found else 0


def reconcile(
    db: Database,
    result: RunResult,
    sink_records: list[tuple[str, str]],
    campaign_id: int,
    killed_pids: set[int] | frozenset[int] = frozenset(),
) -> None:
    """Compare the outbox with what the sink received (see the module docstring)."""
    with contextlib.closing(db.connect()) as conn:
        rows = conn.execute(
            "SELECT id, stable_id, status, possible_duplicate FROM delivery_message"
        ).fetchall()
        events = conn.execute(
            "SELECT message_id, detail FROM delivery_messageevent WHERE kind = 'requeued'"
        ).fetchall()
        requeued = {pk for pk, detail in events if _worker_pid(detail) in killed_pids}
        killed_by = {pk: _worker_pid(detail) for pk, detail in events if _worker_pid(detail) in killed_pids}
        requeued_live = {pk for pk, detail in events if _worker_pid(detail) not in killed_pids}
        result.retry_events = conn.execute(
            "SELECT count(*) FROM delivery_messageevent WHERE kind = 'retry'"
        ).fetchone()[0]
        p = db.placeholder()
        state = conn.execute(f"SELECT state FROM campaigns_campaign WHERE id = {p}", [campaign_id]).fetchone()
    result.campaign_state = state[0] if state else "?"
    result.statuses = {}
    for _id, _sid, status, _dup in rows:
        result.statuses[status] = result.statuses.get(status, 0) + 1
    result.all_sent = len(rows) == result.messages and result.statuses.get("sent", 0) == result.messages
    stable = {sid for _id, sid, _s, _d in rows}
    flagged = {sid for _id, sid, _s, dup in rows if dup}
    requeued_ids = {sid for pk, sid, _s, _d in rows if pk in requeued}
    result.requeued_from_live_workers = len(requeued_live)
    received = [key for kind, key in sink_records if kind in "RD"]
    counts: dict[str, int] = {}
    for key in received:
        counts[key] = counts.get(key, 0) + 1
    result.received = len(received)
    result.distinct = len(counts)
    done = {sid for _id, sid, status, _d in rows if status in ("sent", "delivered")}
    result.lost = len(done - counts.keys())
    result.missing = len(stable - counts.keys())
    result.unexpected = len(counts.keys() - stable)
    result.duplicates = result.received - result.distinct
    duplicated = {k for k, n in counts.items() if n > 1}
    result.duplicates_flagged = sum(counts[k] - 1 for k in duplicated if k in flagged)
    result.duplicates_requeued = sum(
        counts[k] - 1 for k in duplicated if k in requeued_ids and k not in flagged
    )
    result.duplicates_unexplained = result.duplicates - result.duplicates_flagged - result.duplicates_requeued
    # the duplicate window per kill: the re-sent messages of each killed worker (its rows requeued)
    pid_of = {sid: killed_by[pk] for pk, sid, _s, _d in rows if pk in killed_by}
    per_pid = dict.fromkeys(sorted(killed_pids), 0)  # by pid: roughly the order of the kills
    for key in duplicated:
        if key in pid_of and key not in flagged:
            per_pid[pid_of[key]] = per_pid.get(pid_of[key], 0) + counts[key] - 1
    result.duplicates_per_kill = list(per_pid.values())
    result.flagged_possible_duplicate = len(flagged)
    result.requeued_rows = len(requeued_ids)
    result.faults_temp = sum(1 for kind, _k in sink_records if kind == "T")
    drops = {key for kind, key in sink_records if kind == "D"}
    result.faults_drop = len(drops)
    # A cut connection must leave its row flagged — unless the worker sending it was killed in between
    # (before it could record the unknown outcome): then the row was requeued after the kill instead.
    result.drops_killed_before_flag = len((drops - flagged) & requeued_ids)
    unflagged = sorted(drops - flagged - requeued_ids)
    result.drops_not_flagged = len(unflagged)
    result.drops_not_flagged_ids = unflagged[:10]
    result.ok = (
        result.all_sent
        and result.lost == 0
        and result.missing == 0
        and result.unexpected == 0
        and result.campaign_state == "sent"
        and result.drops_not_flagged == 0
        and result.duplicates_unexplained == 0
        and not result.timed_out
        and result.crashes == 0
    )


# -- one run ------------------------------------------------------------------------------------------------


def run_once(
    run: int = 1,
    *,
    messages: int = 10_000,
    database: str = "sqlite",
    kills: int = 5,
    workers: int = 2,
    threads: int = 2,
    seed: int = 1,
    faults: bool = False,
    timeout: float | None = None,
    workdir: Path | None = None,
    pg_server: str = DEFAULT_PG,
    poll: float = 0.1,
    slow_ms: int = 0,
    heartbeat: int = 1,
    forward: bool = False,
    hold_lock: float = 0,
) -> RunResult:
    """One run from scratch (see the module docstring); never raises for a failed run: ``ok`` says."""
    rng = random.Random(seed * 100_003 + run)
    timeout = timeout or max(120.0, messages / 20)
    result = RunResult(run=run, database=database, messages=messages, faults=faults)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        tmp = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="glocal-rel-")))
        db = make_database(database, tmp, pg_server=pg_server)
        stack.callback(db.drop)
        try:
            info = setup_campaign(db, messages, seed=seed + run)
        except Exception as error:  # noqa: BLE001 - reported
            result.error = f"setup: {error}"[:2000]
            return result
        result.setup_s = round(time.perf_counter() - started, 2)
        plan = FaultPlan(seed=seed + run) if faults else None
        # kill points in the first 90 % of the sends: a kill planned in the last poll would come after
        # the campaign ended and never happen
        thresholds = sorted(rng.sample(range(max(1, messages * 9 // 10)), min(kills, messages)))
        result.kill_points = list(thresholds)
        with sink(tmp, plan, slow_ms=slow_ms) as smtp_sink:
            retries = {"GLOCAL_RETRY_BASE_SECONDS": "1", "GLOCAL_UNKNOWN_RETRY_SECONDS": "1"}
            pool = Workers(
                db, smtp_sink.port, threads=threads, heartbeat=heartbeat,
                extra_env=retries if faults and not forward else {},
            )  # fmt: skip
            send_started = time.perf_counter()
            deadline = send_started + timeout
            try:
                for _ in range(workers):
                    pool.start()
                with contextlib.closing(db.connect()) as conn:
                    while True:
                        counts = status_counts(conn)
                        total = sum(counts.values())
                        pending = counts.get("queued", 0) + counts.get("sending", 0)
                        if total >= messages and pending == 0:
                            break
                        if time.perf_counter() > deadline:
                            result.timed_out = True
                            result.statuses = counts
                            break
                        sent = counts.get("sent", 0)
                        if hold_lock and sent >= messages // 4 and not result.lock_held_s:
                            result.lock_held_s = hold_write_lock(db, hold_lock)
                        while thresholds and sent >= thresholds[0]:
                            alive = pool.alive()
                            if not alive:  # every worker is restarting: kill at the next poll
                                pool.start()
                                break
                            thresholds.pop(0)
                            pool.kill(rng.choice(alive))
                            pool.start()
                        if faults and forward:
                            result.fast_forwarded += fast_forward(db, conn)
                        pool.reap()
                        if not pool.procs:  # all went idle while something is still pending
                            result.idle_restarts += 1
                            pool.start()
                        time.sleep(poll)  # polling the outbox for progress
                pool.stop()
            finally:
                pool.stop(wait=0 if result.timed_out else 30)
            result.send_s = round(time.perf_counter() - send_started, 2)
            result.kills = pool.killed
            result.workers_started = pool.started
            result.crashes = pool.crashed
            result.finish_race_crashes = pool.finish_race
            if result.timed_out or result.crashes:
                result.error = pool.tail()[-4000:]
        reconcile(db, result, smtp_sink.records(), info["campaign_id"], pool.killed_pids)
    result.duration_s = round(time.perf_counter() - started, 2)
    result.msg_per_s = round(messages / result.send_s, 1) if result.send_s else 0.0
    return result


def line(r: RunResult) -> str:
    text = (
        f"run {r.run:>2}: {'ok  ' if r.ok else 'FAIL'} {r.database} {r.messages:,} msgs — "
        f"sent {r.statuses.get('sent', 0):,}, lost {r.lost}, "
        + (f"not received {r.missing} (rows not final), " if r.missing != r.lost else "")
        + f"unexpected {r.unexpected}, "
        f"duplicates {r.duplicates} (requeued {r.duplicates_requeued}, flagged {r.duplicates_flagged}, "
        f"unexplained {r.duplicates_unexplained}), flagged rows {r.flagged_possible_duplicate}, "
        f"kills {r.kills} at {r.kill_points}, requeued rows {r.requeued_rows}, "
        f"duplicates per kill {r.duplicates_per_kill}"
    )
    if r.finish_race_crashes:
        text += f", `deliver` exits with the finish_campaigns race ×{r.finish_race_crashes}"
    if r.requeued_from_live_workers:
        text += f", requeued from LIVE workers {r.requeued_from_live_workers}"
    if r.faults:
        text += (
            f", faults 451×{r.faults_temp} drop×{r.faults_drop} (not flagged {r.drops_not_flagged}, "
            f"worker killed before flagging {r.drops_killed_before_flag})"
        )
    text += f" — send {r.send_s:.1f} s ({r.msg_per_s:.0f} msg/s), run {r.duration_s:.1f} s"
    if r.lock_held_s:
        text += f" — write lock held {r.lock_held_s} s"
    if r.timed_out:
        text += " — TIMED OUT " + json.dumps(r.statuses)
    if r.error and not r.ok:
        text += "\n" + r.error[-1500:]
    return text


def summary(results: list[RunResult]) -> dict[str, Any]:
    def total(name: str) -> int:
        return sum(getattr(r, name) for r in results)

    sends = sorted(r.send_s for r in results)
    return {
        "runs": len(results),
        "ok": sum(r.ok for r in results),
        "messages": total("messages"),
        "lost": total("lost"),
        "missing": total("missing"),
        "unexpected": total("unexpected"),
        "not_sent": sum(r.messages - r.statuses.get("sent", 0) for r in results),
        "duplicates": total("duplicates"),
        "duplicates_requeued": total("duplicates_requeued"),
        "duplicates_flagged": total("duplicates_flagged"),
        "duplicates_unexplained": total("duplicates_unexplained"),
        "flagged_possible_duplicate": total("flagged_possible_duplicate"),
        "kills": total("kills"),
        "max_duplicates_per_kill": max(
            (r.duplicates_requeued / r.kills for r in results if r.kills), default=0
        ),
        "most_duplicates_one_kill": max((n for r in results for n in r.duplicates_per_kill), default=0),
        "duplicates_per_kill": [n for r in results for n in r.duplicates_per_kill],
        "faults_temp": total("faults_temp"),
        "faults_drop": total("faults_drop"),
        "drops_not_flagged": total("drops_not_flagged"),
        "drops_killed_before_flag": total("drops_killed_before_flag"),
        "timeouts": sum(r.timed_out for r in results),
        "crashes": total("crashes"),
        "finish_race_crashes": total("finish_race_crashes"),
        "idle_restarts": total("idle_restarts"),
        "requeued_rows": total("requeued_rows"),
        "requeued_from_live_workers": total("requeued_from_live_workers"),
        "send_s_median": sends[len(sends) // 2] if sends else 0,
        "send_s_max": sends[-1] if sends else 0,
        "duration_s_total": round(sum(r.duration_s for r in results), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-server", default=os.environ.get("RELIABILITY_PG_SERVER", DEFAULT_PG))
    parser.add_argument("--kills", type=int, default=5, help="kill -9 per run (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes at a time (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="sending threads per worker (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", action="store_true", help="sink answers 451 / drops after the '.'")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run")
    parser.add_argument(
        "--hold-lock", type=float, default=0, help="SQLite: another writer holds the lock this long"
    )
    parser.add_argument(
        "--fast-forward", action="store_true", help="with --faults: default retry delays, rows moved to now"
    )
    parser.add_argument("--slow-ms", type=int, default=0, help="the sink waits this long before each 250")
    parser.add_argument(
        "--heartbeat", type=int, default=1, help="GLOCAL_WORKER_HEARTBEAT_SECONDS (default 1)"
    )
    parser.add_argument("--output", default="", help="results file (default bench/results/reliability*.json)")
    parser.add_argument("--quick", action="store_true", help="3 runs × 2,000 messages")
    # internal: the subprocesses
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mjml-file", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sink-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sink-log", default="", help=argparse.SUPPRESS)
    parser.add_argument("--temp-permille", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--drop-permille", type=int, default=10, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.setup_only:
        print(
            json.dumps(
                _setup_child(options.messages, options.seed, options.mjml_file, not options.no_migrate)
            )
        )
        return 0
    if options.sink_only:
        plan = (
            FaultPlan(options.seed, options.temp_permille, options.drop_permille) if options.faults else None
        )
        _sink_child(options.sink_log, plan, options.slow_ms)
        return 0
    if options.quick:
        options.runs, options.messages = 3, 2_000
    revision = engine_revision()
    results: list[RunResult] = []
    for run in range(1, options.runs + 1):
        result = run_once(
            run,
            messages=options.messages,
            database=options.database,
            kills=options.kills,
            workers=options.workers,
            threads=options.threads,
            seed=options.seed,
            faults=options.faults,
            timeout=options.timeout,
            pg_server=options.pg_server,
            slow_ms=options.slow_ms,
            heartbeat=options.heartbeat,
            forward=options.fast_forward,
            hold_lock=options.hold_lock,
        )
        results.append(result)
        print(line(result), flush=True)
    total = summary(results)
    print(
        f"reliability: {total['ok']}/{total['runs']} runs ok — {total['messages']:,} messages, lost "
        f"{total['lost']}, not sent {total['not_sent']}, duplicates {total['duplicates']} (after kills "
        f"{total['duplicates_requeued']}, flagged unknown outcome {total['duplicates_flagged']}, unexplained "
        f"{total['duplicates_unexplained']}), kills {total['kills']} (most duplicates after one kill "
        f"{total['most_duplicates_one_kill']}), timeouts {total['timeouts']}, "
        f"send time median {total['send_s_median']} s"
        + (f", faults 451×{total['faults_temp']} drop×{total['faults_drop']}" if options.faults else "")
        + (f", crashes {total['crashes']}" if total["crashes"] else "")
        + (
            f", `deliver` exits with the finish_campaigns race ×{total['finish_race_crashes']}"
            if total["finish_race_crashes"]
            else ""
        )
        + (
            f", rows requeued from LIVE workers {total['requeued_from_live_workers']}"
            if total["requeued_from_live_workers"]
            else ""
        )
    )
    name = (
        "reliability"
        + ("-postgres" if options.database == "postgres" else "")
        + ("-faults" if options.faults else "")
    )
    output = Path(options.output) if options.output else RESULTS / f"{name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "id": name,
                "date": dt.datetime.now(dt.UTC).date().isoformat(),
                "cpus": os.cpu_count(),
                "engine": revision if revision == engine_revision() else f"{revision}..{engine_revision()}",
                "dataset": f"{options.runs} runs × {options.messages:,} messages, {options.database}, "
                f"{options.workers} workers × {options.threads} threads, {options.kills} kills per run"
                + (", SMTP faults" if options.faults else ""),
                "options": {k: v for k, v in vars(options).items() if k in REPORTED_OPTIONS},
                "summary": total,
                "runs": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    return 0 if total["ok"] == total["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
