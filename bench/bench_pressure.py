"""P1: pressure arbitration, 20 competing campaigns, 1M contacts (10M with P1_CONTACTS=10000000).

Ours: :func:`glocal.delivery.pressure.arbitrate` on in-memory Polars frames, every exclusion explained.
Reference: ONE DuckDB query (CTEs and window functions) with the same semantics, reasons included, over
the same rows loaded into DuckDB tables, its result materialised into a temporary table. Loading is not
timed on either side. Checks: our result equals DuckDB's on the whole data set (counts, per-rule counts
and an order-free checksum) and equals the brute-force oracle exactly on a sample of ~1,000 contacts.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from bench import Result, benchmark, interleaved
from glocal.delivery.pressure import (
    DEFAULT_RULES,
    NO_LIMIT,
    Cap,
    PressureRules,
    Priority,
    arbitrate,
    as_oracle_result,
    oracle,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CAMPAIGNS = 20
RULES = PressureRules(caps=DEFAULT_RULES.caps, priority=Priority.LOCAL_FIRST, count_scheduled=True)


def make_data(contacts: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Deterministic: each contact is a candidate of ~5 of the 20 campaigns and has ~3 past or scheduled
    messages spread over the 14 days before and the 6 days after ``NOW``."""
    campaigns = pl.DataFrame(
        {
            "campaign_id": list(range(1, CAMPAIGNS + 1)),
            "kind": ["local" if k % 3 else "central" for k in range(1, CAMPAIGNS + 1)],
            "weight": [k % 3 for k in range(1, CAMPAIGNS + 1)],
            "scheduled_at": [NOW + dt.timedelta(hours=k % 4) for k in range(1, CAMPAIGNS + 1)],
            "channel": ["sms" if k % 4 == 0 else "email" for k in range(1, CAMPAIGNS + 1)],
        }
    ).with_columns(pl.col("scheduled_at").dt.cast_time_unit("us"))
    contact = pl.int_range(0, contacts, dtype=pl.Int64, eager=True).alias("contact_id")
    candidates = (
        pl.DataFrame(contact)
        .join(campaigns.select("campaign_id", "channel"), how="cross")
        .filter((pl.col("contact_id") * 2654435761 + pl.col("campaign_id") * 7919) % 1000 < 250)
    )
    i = pl.int_range(0, 3 * contacts, dtype=pl.Int64, eager=True)
    history = pl.DataFrame({"i": i}).select(
        contact_id=(pl.col("i") * 48271) % contacts,
        channel=pl.when(pl.col("i") % 3 == 0).then(pl.lit("sms")).otherwise(pl.lit("email")),
        sent_at=pl.lit(NOW) + pl.duration(hours=(pl.col("i") * 13) % (20 * 24) - 14 * 24),
        campaign_id=100 + pl.col("i") % 30,
    )
    return candidates, campaigns.drop("channel"), history


def _window_sql(cap: Cap, alias: str) -> str:
    now = NOW.strftime("%Y-%m-%d %H:%M:%S+00")
    lo = f"TIMESTAMPTZ '{now}' - INTERVAL {int(cap.period.total_seconds())} SECOND"
    if RULES.count_scheduled:
        hi = f"{alias}.sent_at < TIMESTAMPTZ '{now}' + INTERVAL {int(cap.period.total_seconds())} SECOND"
    else:
        hi = f"{alias}.sent_at <= TIMESTAMPTZ '{now}'"
    cond = f"{alias}.sent_at > {lo} AND {hi}"
    if cap.channel is not None:
        cond += f" AND {alias}.channel = '{cap.channel}'"
    return cond


def reference_sql(rules: PressureRules) -> str:
    """One DuckDB query with the semantics of ``arbitrate`` (caps known when the query is written)."""
    caps = list(enumerate(rules.caps))
    counts = ",\n".join(
        f"b{k} AS (SELECT contact_id, count(*) AS n FROM history h WHERE {_window_sql(c, 'h')} GROUP BY 1)"
        for k, c in caps
    )
    joins = " ".join(f"LEFT JOIN b{k} USING (contact_id)" for k, _c in caps)
    base_cols = ", ".join(f"coalesce(b{k}.n, 0) AS b{k}" for k, _c in caps)
    cls = {
        Priority.LOCAL_FIRST: "CASE WHEN kind = 'local' THEN 0 ELSE 1 END",
        Priority.CENTRAL_FIRST: "CASE WHEN kind = 'central' THEN 0 ELSE 1 END",
        Priority.WEIGHT: "0",
    }[rules.priority]
    order = "cls, weight DESC, scheduled_at, campaign_id"
    r_ch = ", ".join(
        [str(NO_LIMIT)]
        + [
            f"CASE WHEN channel = '{c.channel}' THEN {c.limit} - b{k} ELSE {NO_LIMIT} END"
            for k, c in caps
            if c.channel
        ]
    )
    r_all = ", ".join([str(NO_LIMIT)] + [f"{c.limit} - b{k}" for k, c in caps if c.channel is None])
    before = "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"

    def applies(c: Cap) -> str:
        return "TRUE" if c.channel is None else f"channel = '{c.channel}'"

    def scope(c: Cap) -> str:
        return "acc_all" if c.channel is None else "acc_ch"

    rule = " ".join(f"WHEN {applies(c)} AND b{k} + {scope(c)} >= {c.limit} THEN {k}" for k, c in caps)
    pick = lambda values: "CASE " + " ".join(f"WHEN rule = {k} THEN {v}" for k, v in values) + " END"  # noqa: E731
    used_hist = "\nUNION ALL\n".join(
        f"SELECT e.contact_id, e.campaign_id, h.campaign_id AS used FROM excl e JOIN history h "
        f"ON h.contact_id = e.contact_id WHERE e.rule = {k} AND {_window_sql(c, 'h')}"
        for k, c in caps
    )
    return f"""
WITH cand AS (SELECT DISTINCT contact_id, campaign_id, channel FROM candidates),
{counts},
base AS (
  SELECT cand.contact_id, cand.campaign_id, cand.channel, k.kind, k.weight, k.scheduled_at,
         {cls} AS cls, {base_cols}
  FROM cand JOIN campaigns k USING (campaign_id) {joins}
),
ranked AS (
  SELECT *,
    row_number() OVER (PARTITION BY contact_id, channel ORDER BY {order}) - 1 AS ch_rank,
    row_number() OVER (PARTITION BY contact_id ORDER BY {order}) - 1 AS pos,
    least({r_ch}) AS r_ch, least({r_all}) AS r_all
  FROM base
),
passed AS (SELECT *, ch_rank < r_ch AS pass FROM ranked),
chosen AS (
  SELECT *, pass AND coalesce(sum(pass::INT) OVER (PARTITION BY contact_id ORDER BY pos {before}), 0) < r_all
    AS sel
  FROM passed
),
acc AS (
  SELECT *,
    coalesce(sum(sel::INT) OVER (PARTITION BY contact_id, channel ORDER BY pos {before}), 0) AS acc_ch,
    coalesce(sum(sel::INT) OVER (PARTITION BY contact_id ORDER BY pos {before}), 0) AS acc_all
  FROM chosen
),
excl AS (
  SELECT *, CASE {rule} END AS rule FROM acc WHERE NOT sel
),
excl2 AS (
  SELECT *,
    {pick([(k, c.limit) for k, c in caps])} AS "limit",
    {pick([(k, f"b{k}") for k, _c in caps])} AS already,
    {pick([(k, scope(c)) for k, c in caps])} AS in_this_run,
    {pick([(k, f"'{c.channel}'" if c.channel else "NULL") for k, c in caps])} AS rule_channel
  FROM excl
),
used AS (
  {used_hist}
  UNION ALL
  SELECT e.contact_id, e.campaign_id, a.campaign_id AS used FROM excl2 e JOIN acc a
    ON a.contact_id = e.contact_id AND a.sel AND a.pos < e.pos
       AND (e.rule_channel IS NULL OR a.channel = e.rule_channel)
),
used_agg AS (
  SELECT contact_id, campaign_id, list_sort(list_distinct(list(used))) AS used_by FROM used GROUP BY ALL
)
SELECT a.contact_id, a.campaign_id, a.channel, a.sel, e.rule, e."limit", e.already, e.in_this_run,
       coalesce(u.used_by, []) AS used_by
FROM acc a
LEFT JOIN excl2 e USING (contact_id, campaign_id)
LEFT JOIN used_agg u USING (contact_id, campaign_id)
"""


def _checksum_polars(result) -> tuple:
    sel = result.selected
    exc = result.excluded
    return (
        sel.height,
        exc.height,
        int((sel["contact_id"] * 31 + sel["campaign_id"]).sum()),
        tuple(sorted(exc.group_by("rule").len().iter_rows())),
        int((exc["contact_id"] * 7 + exc["already"] * 3 + exc["in_this_run"]).sum()),
        int(exc["used_by"].list.sum().sum()),
    )


def _checksum_duckdb(con) -> tuple:
    sel = con.execute(
        "SELECT count(*), coalesce(sum(contact_id * 31 + campaign_id), 0) FROM p1_out WHERE sel"
    ).fetchone()
    exc = con.execute(
        "SELECT count(*), coalesce(sum(contact_id * 7 + already * 3 + in_this_run), 0), "
        "coalesce(sum(list_sum(used_by)), 0) FROM p1_out WHERE NOT sel"
    ).fetchone()
    rules = con.execute("SELECT rule, count(*) FROM p1_out WHERE NOT sel GROUP BY 1").fetchall()
    assert sel is not None and exc is not None
    return (sel[0], exc[0], int(sel[1]), tuple(sorted(rules)), int(exc[1]), int(exc[2]))


def load_duckdb(candidates: pl.DataFrame, campaigns: pl.DataFrame, history: pl.DataFrame):
    """The same rows in an in-memory DuckDB (through Parquet: no pyarrow needed)."""
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in (("candidates", candidates), ("campaigns", campaigns), ("history", history)):
            path = Path(tmp) / f"{name}.parquet"
            frame.write_parquet(path)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")
    return con


def check(contacts: int) -> tuple[bool, bool]:
    """(equal to DuckDB on every row, equal to the oracle on a sample) on a small data set."""
    candidates, campaigns, history = make_data(contacts)
    con = load_duckdb(candidates, campaigns, history)
    con.execute(f"CREATE OR REPLACE TEMP TABLE p1_out AS {reference_sql(RULES)}")
    result = arbitrate(candidates, campaigns, history, RULES, NOW)
    expected = oracle(candidates.to_dicts(), campaigns.to_dicts(), history.to_dicts(), RULES, NOW)
    return _checksum_polars(result) == _checksum_duckdb(con), as_oracle_result(result) == expected


@benchmark("P1")
def bench_pressure(quick: bool) -> Result:
    contacts = 20_000 if quick else int(os.environ.get("P1_CONTACTS", 1_000_000))
    candidates, campaigns, history = make_data(contacts)
    con = load_duckdb(candidates, campaigns, history)
    sql = reference_sql(RULES)
    holder = {}

    def ours() -> None:
        holder["result"] = arbitrate(candidates, campaigns, history, RULES, NOW)

    def reference() -> None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE p1_out AS {sql}")

    runs = 3 if quick else 5
    t_ours, t_ref = interleaved(ours, reference, runs=runs)
    result = holder["result"]
    same_as_duckdb = _checksum_polars(result) == _checksum_duckdb(con)

    sample = pl.col("contact_id") % max(1, contacts // 1000) == 7
    sel, exc = as_oracle_result(result)
    expected = oracle(
        candidates.filter(sample).to_dicts(),
        campaigns.to_dicts(),
        history.filter(sample).to_dicts(),
        RULES,
        NOW,
    )
    sample_ids = set(candidates.filter(sample)["contact_id"].to_list())
    got = ({s for s in sel if s[0] in sample_ids}, {k: v for k, v in exc.items() if k[0] in sample_ids})
    same_as_oracle = got == expected
    if not (same_as_duckdb and same_as_oracle):
        raise AssertionError(f"P1 mismatch: duckdb={same_as_duckdb} oracle={same_as_oracle}")
    return Result(
        id="P1",
        ours=round(t_ours, 4),
        reference=round(t_ref, 4),
        unit="s",
        target="≤ 1.5",
        dataset=(
            f"{contacts:,} contacts, {CAMPAIGNS} campaigns, {candidates.height:,} candidates, "
            f"{history.height:,} history rows"
        ),
        runs=runs,
        higher_is_better=False,
        notes=(
            f"selected {result.selected.height:,}, excluded {result.excluded.height:,}; "
            f"equal to DuckDB on all rows, equal to the oracle on {len(sample_ids):,} sampled contacts"
        ),
        extra={"duckdb_version": duckdb.__version__, "polars_version": pl.__version__},
    )
