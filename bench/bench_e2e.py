"""E1: an end-to-end email campaign — select, arbitrate, write the outbox, render, send to a sink.

Ours: a campaign of one store scheduled and due (R1's letter: the demo MJML with a 6-product grid), on a
fresh copy of a seeded database (SQLite by default, the embedded setup; ``E1_DATABASE=postgres`` for
PostgreSQL), then ``glocal deliver --until-idle`` worker processes (the embedded, broker-less sender:
``E1_WORKERS`` × ``E1_THREADS``, default 2 × 4) launch it — audience with consent / address / opposition
classification, pressure arbitration, the outbox rows in one transaction — and send every message over
SMTP to Postfix's ``smtp-sink``. Timed from the workers' spawn to the last message's commit as SENT
(``max(sent_at)``); the breakdown comes from the database's own timestamps: start-up (spawn → the tick's
launch begins: ``created_at`` of the rows), launch (→ the campaign's "sending" transition, inside the
launch transaction), send (→ the last SENT).

Reference, same run, on the same data: the sum of the references of A1, P1, R1 and D1 for this work —
the audience count GROUP BY (``bench_audience.REFERENCE_SQL``) and the arbitration query
(``bench_pressure.reference_sql``) in DuckDB over the same contacts, a bare Jinja2 render of the same
compiled HTML × N (``bench_render.reference_template``), and ``smtp-source`` → ``smtp-sink`` for N
messages of our message's size, with as many sessions as our sending threads.
Ratio = ours ÷ reference (seconds, lower is better; target ≤ 3).

Sizes: quick 10,000 recipients (3 interleaved runs after a warm-up); full ``E1_RECIPIENTS`` (default
400,000: 1,000,000 does not fit in ~10 minutes on the 2-core machine — see docs/performance.md), one run
of each (``E1_RUNS`` to change). Needs ``make bench-deps`` (smtp-sink, smtp-source).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import Result, bench_audience, bench_pressure, bench_render, bench_smtp, benchmark, reliability

FULL = 400_000
CONTACT_COLUMNS = ("id", "organisation_id", "owner_id", "consent_email", "email", "email_hash", "tags")
UTC_US = ("us", "UTC")


def _epoch(value: Any) -> float:
    """A timestamp read raw from SQLite (naive UTC text) or PostgreSQL (aware datetime)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.timestamp()


def _children() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Dataset:
    """The seeded database (copied fresh for every run of ours) and the reference's inputs."""

    def __init__(self, workdir: Path, recipients: int, database: str) -> None:
        self.workdir = workdir
        self.recipients = recipients
        self.database = database
        mjml = workdir / "letter.mjml"
        mjml.write_text(bench_render.bench_mjml())
        started = time.perf_counter()
        self.seed = reliability.make_database(database, workdir / "seed")
        self.info = reliability.setup_campaign(self.seed, recipients, seed=7, mjml=str(mjml), timeout=3600)
        self.seed_s = time.perf_counter() - started
        print(
            f"E1: seeded {recipients:,} contacts ({database}) in {self.seed_s:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        self.copies = 0

    def fresh(self) -> reliability.Database:
        self.copies += 1
        where = self.workdir / f"run-{self.copies}"
        if self.database == "sqlite":
            where.mkdir()
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.seed.path}{suffix}")
                if source.exists():
                    shutil.copyfile(source, f"{where / 'glocal.sqlite3'}{suffix}")
            return reliability.Database("sqlite", where)
        return reliability.make_database(
            self.database, where, pg_server=self.seed.server, template=self.seed.name
        )

    def contacts(self) -> Any:
        import polars as pl

        with contextlib.closing(self.seed.connect()) as conn:
            rows = conn.execute(
                f"SELECT {', '.join(CONTACT_COLUMNS)} FROM audience_contact ORDER BY id"
            ).fetchall()
        names = list(CONTACT_COLUMNS)
        return pl.DataFrame(rows, schema=names, orient="row")

    def drop(self) -> None:
        self.seed.drop()


PROGRESS_S = 60.0


def _progress(conn: Any, t0: float) -> None:
    counts = reliability.status_counts(conn)
    print(
        f"E1 progress: {time.time() - t0:.0f} s, outbox {sum(counts.values()):,} rows, sent "
        f"{counts.get('sent', 0):,}",
        file=sys.stderr,
        flush=True,
    )


def ours_once(data: Dataset, workers: int, threads: int, timeout: float) -> dict[str, float]:
    """One campaign end to end on a fresh copy of the data; the phases' seconds."""
    db = data.fresh()
    try:
        with bench_smtp.sink() as port:
            pool = reliability.Workers(db, port, threads=threads, heartbeat=15)
            t0 = time.time()
            for _ in range(workers):
                pool.start()
            deadline = time.monotonic() + timeout
            progress = time.monotonic() + PROGRESS_S
            with contextlib.closing(db.connect()) as conn:
                p = db.placeholder()
                while True:  # poll one row: the campaign is marked sent when nothing is left
                    if time.monotonic() > progress:  # long runs say how far they got (stderr)
                        progress = time.monotonic() + PROGRESS_S
                        _progress(conn, t0)
                    state = conn.execute(
                        f"SELECT state FROM campaigns_campaign WHERE id = {p}", [data.info["campaign_id"]]
                    ).fetchone()[0]
                    if state == "sent":
                        break
                    pool.sample_rss()
                    pool.reap()
                    if time.monotonic() > deadline or pool.crashed or not pool.procs:
                        pool.stop(wait=0)
                        again = conn.execute(
                            f"SELECT state FROM campaigns_campaign WHERE id = {p}", [data.info["campaign_id"]]
                        ).fetchone()[0]
                        if again == "sent" and not pool.crashed:
                            break
                        raise RuntimeError(f"E1: campaign {again} after the run\n{pool.tail()}")
                    time.sleep(0.5)  # polling the campaign's state for the end
                pool.stop()
                counts = reliability.status_counts(conn)
                launch_start, first_sent, last_sent = conn.execute(
                    "SELECT min(created_at), min(sent_at), max(sent_at) FROM delivery_message"
                ).fetchone()
                launched = conn.execute(
                    f"SELECT max(at) FROM campaigns_campaigntransition WHERE campaign_id = {p} "
                    "AND to_state = 'sending'",
                    [data.info["campaign_id"]],
                ).fetchone()[0]
        if counts.get("sent", 0) != data.recipients:
            raise RuntimeError(f"E1: not every message was sent: {counts}")
        end = _epoch(last_sent)
        return {
            "total": end - t0,
            "startup": _epoch(launch_start) - t0,
            "launch": _epoch(launched) - _epoch(launch_start),
            "first_send_wait": _epoch(first_sent) - _epoch(launched),
            "send": end - _epoch(launched),
            "worker_peak_rss_mb": pool.peak_rss_mb,
        }
    finally:
        db.drop()
        if db.vendor == "sqlite":
            shutil.rmtree(db.workdir, ignore_errors=True)


class Reference:
    """The four references on the same work, each timed on its own; their sum is E1's reference."""

    def __init__(self, data: Dataset, sessions: int) -> None:
        import duckdb
        import polars as pl

        self.n = data.recipients
        self.sessions = sessions
        self.size = int(data.info["message_bytes"])
        contacts = data.contacts()
        self.org = int(contacts["organisation_id"][0])
        # A1's reference: the audience GROUP BY, in DuckDB over the same contacts
        self.audience = duckdb.connect()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "contacts.parquet"
            contacts.write_parquet(path)
            self.audience.execute(f"CREATE TABLE audience_contact AS SELECT * FROM read_parquet('{path}')")
        self.audience.execute(
            "CREATE TABLE audience_suppression (organisation_id BIGINT, channel VARCHAR, value_hash VARCHAR)"
        )
        self.audience_sql = bench_audience.REFERENCE_SQL.replace("%%", "%").replace("%s", "?")
        # P1's reference: the arbitration query over this campaign's candidates (no history yet)
        candidates = pl.DataFrame(
            {"contact_id": contacts["id"], "campaign_id": 1, "channel": "email"},
            schema={"contact_id": pl.Int64, "campaign_id": pl.Int64, "channel": pl.Utf8},
        )
        campaigns = pl.DataFrame(
            {"campaign_id": [1], "kind": ["local"], "weight": [0], "scheduled_at": [bench_pressure.NOW]},
            schema={
                "campaign_id": pl.Int64,
                "kind": pl.Utf8,
                "weight": pl.Int64,
                "scheduled_at": pl.Datetime(*UTC_US),
            },
        )
        history = pl.DataFrame(
            schema={
                "contact_id": pl.Int64,
                "channel": pl.Utf8,
                "sent_at": pl.Datetime(*UTC_US),
                "campaign_id": pl.Int64,
            }
        )
        self.pressure = bench_pressure.load_duckdb(candidates, campaigns, history)
        self.pressure_sql = bench_pressure.reference_sql(bench_pressure.RULES)
        # R1's reference: a bare Jinja2 render of the same compiled HTML, per recipient
        variant = bench_render.make_variant()
        self.template, self.html = bench_render.reference_template(variant)
        self.context = variant.context(html=True)
        self.people = bench_render.recipients(self.n)
        self.links = {
            "unsubscribe_url": "https://glocal.example/u/x/",
            "view_online_url": "https://glocal.example/v/x/",
        }

    def once(self) -> dict[str, float]:
        times: dict[str, float] = {}
        start = time.perf_counter()
        counts = self.audience.execute(self.audience_sql, [self.org]).fetchall()
        times["audience"] = time.perf_counter() - start
        assert sum(row[4] for row in counts) == self.n, counts
        start = time.perf_counter()
        self.pressure.execute(f"CREATE OR REPLACE TEMP TABLE p1_out AS {self.pressure_sql}")
        times["arbitration"] = time.perf_counter() - start
        start = time.perf_counter()
        for person in self.people:
            self.template.render(**self.context, recipient=person, **self.links)
        times["render"] = time.perf_counter() - start
        with bench_smtp.sink() as port:
            start = time.perf_counter()
            subprocess.run(
                [bench_smtp._tool("smtp-source") or "smtp-source", "-d", "-s", str(self.sessions),
                 "-l", str(self.size), "-m", str(self.n), "-f", "bench@example.com", "-t", "sink@example.com",
                 f"127.0.0.1:{port}"],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            times["smtp"] = time.perf_counter() - start
        times["total"] = sum(times.values())
        return times


def interleaved_phases(
    ours: Callable[[], dict[str, float]], reference: Callable[[], dict[str, float]], runs: int, warmup: int
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Like :func:`bench.interleaved` (A B A B after a warm-up), but each side times itself: a run of
    ours starts on a fresh copy of the database, and the copy is not part of the measure."""
    for _ in range(warmup):
        ours()
        reference()
    a, b = [], []
    for _ in range(runs):
        a.append(ours())
        b.append(reference())
    return a, b


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(runs, key=lambda r: r["total"])
    return ordered[(len(ordered) - 1) // 2]


@benchmark("E1")
def e1(quick: bool) -> Result:
    import django

    django.setup()
    recipients = 10_000 if quick else int(os.environ.get("E1_RECIPIENTS", FULL))
    database = os.environ.get("E1_DATABASE", "sqlite")
    workers = int(os.environ.get("E1_WORKERS", 2))
    threads = int(os.environ.get("E1_THREADS", 4))
    runs = int(os.environ.get("E1_RUNS", 3 if quick else 1))
    warmup = int(os.environ.get("E1_WARMUP", 1 if quick else 0))
    timeout = max(300.0, recipients / 50)
    revision = reliability.engine_revision()
    with tempfile.TemporaryDirectory(prefix="glocal-e1-") as tmp:
        data = Dataset(Path(tmp), recipients, database)
        try:
            reference = Reference(data, workers * threads)
            cpu0, _rss = _children()
            ours_cpu: list[float] = []
            ref_cpu: list[float] = []

            def ours() -> dict[str, float]:
                before = _children()[0]
                phases = ours_once(data, workers, threads, timeout)
                ours_cpu.append(_children()[0] - before)
                return phases

            def ref() -> dict[str, float]:
                before_self, before = time.process_time(), _children()[0]
                phases = reference.once()
                ref_cpu.append(time.process_time() - before_self + _children()[0] - before)
                return phases

            del cpu0
            mine, theirs = interleaved_phases(ours, ref, runs=runs, warmup=warmup)
        finally:
            data.drop()
    ours_s = statistics.median(r["total"] for r in mine)
    ref_s = statistics.median(r["total"] for r in theirs)
    ours_phases = {k: round(statistics.median(r[k] for r in mine), 3) for k in mine[0]}
    ref_phases = {k: round(statistics.median(r[k] for r in theirs), 3) for k in theirs[0]}
    median = _median_run(mine)
    return Result(
        id="E1",
        ours=round(ours_s, 3),
        reference=round(ref_s, 3),
        unit="s",
        target="≤ 3",
        dataset=(
            f"{recipients:,} recipients, 1 store, 1 campaign, "
            f"messages of {data.info['message_bytes'] / 1024:.1f} KB, "
            f"{database}, {workers} workers × {threads} threads"
            + ("" if quick or recipients >= 1_000_000 else " (1,000,000 does not fit in ~10 min on 2 cores)")
        ),
        runs=runs,
        higher_is_better=False,
        notes=(
            f"ours: start-up {median['startup']:.1f} s, launch {median['launch']:.1f} s, send "
            f"{median['send']:.1f} s ({recipients / median['send']:.0f} msg/s); reference: audience "
            f"{ref_phases['audience'] * 1000:.0f} ms, arbitration {ref_phases['arbitration'] * 1000:.0f} ms, "
            f"render {ref_phases['render']:.1f} s, smtp-source {ref_phases['smtp']:.1f} s"
        ),
        extra={
            "ours_phases_s": ours_phases,
            "reference_phases_s": ref_phases,
            "ours_runs": [{k: round(v, 3) for k, v in r.items()} for r in mine],
            "reference_runs": [{k: round(v, 3) for k, v in r.items()} for r in theirs],
            "ours_msg_per_s": round(recipients / ours_s, 1),
            "ours_send_msg_per_s": round(recipients / median["send"], 1),
            "ours_cpu_s": round(statistics.median(ours_cpu), 2),
            "reference_cpu_s": round(statistics.median(ref_cpu), 2),
            "children_peak_rss_mb": round(_children()[1], 1),
            "message_bytes": data.info["message_bytes"],
            "seed_s": round(data.seed_s, 1),
            "workers": workers,
            "threads": threads,
            "cpus": os.cpu_count(),
            "engine": revision
            if revision == reliability.engine_revision()
            else f"{revision}..{reliability.engine_revision()}",
        },
    )
