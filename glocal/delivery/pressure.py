"""Marketing-pressure arbitration (pure, vectorised with Polars), anchored on Adobe Campaign's pressure rules.

Contract — the same as :func:`oracle`, the brute-force reference the tests compare with:

- Inputs: ``candidates`` (contact_id, campaign_id, channel), ``campaigns`` (campaign_id, kind "central" or
  "local", weight, scheduled_at; optional name and owner for the explanations), ``history`` of messages
  already sent or scheduled (contact_id, channel, sent_at, campaign_id), :class:`PressureRules` and the
  instant ``now`` of the arbitration.
- A :class:`Cap` limits the messages a contact gets over a rolling ``period``, on one channel or across all
  channels (``channel=None``). History counts for a cap when ``now - period < sent_at <= now``; with
  ``count_scheduled`` the messages already scheduled in the future count too (``now < sent_at < now +
  period``) — the conservative reading of Adobe's "take the provisional calendar into account".
- Every message of this arbitration counts as sent at ``now``.
- Each contact's candidates are considered one at a time in priority order: the policy class first
  (default LOCAL FIRST: local campaigns before central ones; CENTRAL FIRST the reverse; WEIGHT: no class),
  then weight (higher first), then earliest ``scheduled_at``, then lowest campaign id. A candidate is
  selected when, for every cap that applies to its channel, the history count plus the messages already
  selected in this arbitration stays below the cap; otherwise it is excluded and consumes nothing.
- Every exclusion carries its reason: the first violated cap (index in ``rules.caps``), its limit, the
  count from history, the count selected earlier in this run, and ``used_by``: the ids (sorted, distinct)
  of the campaigns that used the quota (history in the cap's window and scope, plus campaigns selected
  earlier for that contact in scope). :func:`explain` turns it into the sentence shown to the store.

Vectorisation: caps are per channel or global, so they nest. With ``r`` the smallest remaining quota of
the candidate's channel and ``R`` the smallest remaining global quota, a candidate passes its channel caps
iff fewer than ``r`` candidates of the same channel precede it (earlier same-channel candidates were all
selected until the channel was full, unless the global caps already stopped everything), and is selected
iff it passes and fewer than ``R`` passing candidates precede it. Both are window functions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl

from . import reasons

UNKNOWN_CAMPAIGN = "every candidate's campaign must be in the campaigns table"
NO_LIMIT = 1 << 40


class Priority(StrEnum):
    LOCAL_FIRST = "local_first"
    CENTRAL_FIRST = "central_first"
    WEIGHT = "weight"


@dataclass(frozen=True)
class Cap:
    """At most ``limit`` messages per contact over ``period`` on ``channel`` (``None``: all channels)."""

    limit: int
    period: dt.timedelta
    channel: str | None = None


@dataclass(frozen=True)
class PressureRules:
    caps: tuple[Cap, ...] = ()
    priority: Priority = Priority.LOCAL_FIRST
    count_scheduled: bool = False


DEFAULT_RULES = PressureRules(
    caps=(
        Cap(3, dt.timedelta(days=7), "email"),
        Cap(1, dt.timedelta(days=7), "sms"),
        Cap(5, dt.timedelta(days=7)),
    )
)


@dataclass
class Arbitration:
    """``selected``: contact_id, campaign_id, channel. ``excluded``: the same plus rule, limit, already,
    in_this_run, used_by (list of campaign ids). Both sorted by contact_id, campaign_id."""

    selected: pl.DataFrame
    excluded: pl.DataFrame
    rules: PressureRules = field(default_factory=PressureRules)


def _class_rank(priority: Priority) -> pl.Expr:
    if priority == Priority.LOCAL_FIRST:
        return (pl.col("kind") != "local").cast(pl.Int8)
    if priority == Priority.CENTRAL_FIRST:
        return (pl.col("kind") != "central").cast(pl.Int8)
    return pl.lit(0, dtype=pl.Int8)


def _window_filter(cap: Cap, now: dt.datetime, count_scheduled: bool) -> pl.Expr:
    after = pl.col("sent_at") > now - cap.period
    before = (pl.col("sent_at") < now + cap.period) if count_scheduled else (pl.col("sent_at") <= now)
    expr = after & before
    if cap.channel is not None:
        expr = expr & (pl.col("channel") == cap.channel)
    return expr


def _applies(cap: Cap) -> pl.Expr:
    return pl.lit(True) if cap.channel is None else pl.col("channel") == cap.channel


def arbitrate(
    candidates: pl.DataFrame,
    campaigns: pl.DataFrame,
    history: pl.DataFrame,
    rules: PressureRules,
    now: dt.datetime,
    *,
    explain_exclusions: bool = True,
) -> Arbitration:
    """Decide who receives what (see the module docstring for the exact rules)."""
    now = now.astimezone(dt.UTC)  # the frames hold UTC instants; any aware ``now`` is the same instant
    caps = rules.caps
    cand = (
        candidates.lazy()
        .select("contact_id", "campaign_id", "channel")
        .unique()
        .join(
            campaigns.lazy().select("campaign_id", "kind", "weight", "scheduled_at"),
            on="campaign_id",
            how="left",
        )
    )
    hist = history.lazy().select("contact_id", "channel", "sent_at", "campaign_id")
    for k, cap in enumerate(caps):
        counts = (
            hist.filter(_window_filter(cap, now, rules.count_scheduled))
            .group_by("contact_id")
            .agg(pl.len().cast(pl.Int64).alias(f"_b{k}"))
        )
        cand = cand.join(counts, on="contact_id", how="left")
    channel_caps = [(k, c) for k, c in enumerate(caps) if c.channel is not None]
    global_caps = [(k, c) for k, c in enumerate(caps) if c.channel is None]
    remaining_channel = pl.min_horizontal(
        pl.lit(NO_LIMIT),
        *[
            pl.when(pl.col("channel") == c.channel).then(c.limit - pl.col(f"_b{k}")).otherwise(NO_LIMIT)
            for k, c in channel_caps
        ],
    )
    remaining_global = pl.min_horizontal(
        pl.lit(NO_LIMIT), *[c.limit - pl.col(f"_b{k}") for k, c in global_caps]
    )
    cand = (
        cand.with_columns(
            [pl.col(f"_b{k}").fill_null(0) for k in range(len(caps))]
            + [_class_rank(rules.priority).alias("_cls")]
        )
        .sort(
            ["contact_id", "_cls", "weight", "scheduled_at", "campaign_id"],
            descending=[False, False, True, False, False],
        )
        .with_columns(
            _pass=(pl.int_range(pl.len()).over("contact_id", "channel") < remaining_channel),
        )
        .with_columns(
            _sel=pl.col("_pass")
            & (
                (pl.col("_pass").cast(pl.Int64).cum_sum() - pl.col("_pass").cast(pl.Int64)).over("contact_id")
                < remaining_global
            )
        )
    )
    if not explain_exclusions:
        done = cand.select(
            "contact_id", "campaign_id", "channel", "_sel", pl.col("kind").is_null().alias("_bad")
        ).collect()
        if done["_bad"].any():
            raise ValueError(UNKNOWN_CAMPAIGN)
        selected = done.filter("_sel").drop("_sel", "_bad").sort("contact_id", "campaign_id")
        excluded = done.filter(~pl.col("_sel")).drop("_sel", "_bad").sort("contact_id", "campaign_id")
        return Arbitration(selected, excluded, rules)

    sel_int = pl.col("_sel").cast(pl.Int64)
    cand = cand.with_columns(
        _pos=pl.int_range(pl.len()).over("contact_id"),
        _acc_ch=(sel_int.cum_sum() - sel_int).over("contact_id", "channel"),
        _acc_all=(sel_int.cum_sum() - sel_int).over("contact_id"),
    )
    done = cand.collect()
    if done["kind"].null_count():
        raise ValueError(UNKNOWN_CAMPAIGN)
    selected = (
        done.filter("_sel").select("contact_id", "campaign_id", "channel").sort("contact_id", "campaign_id")
    )

    def scope_count(cap: Cap) -> pl.Expr:
        return pl.col("_acc_all") if cap.channel is None else pl.col("_acc_ch")

    violations: list[pl.Expr] = [
        pl.when(_applies(c) & (pl.col(f"_b{k}") + scope_count(c) >= c.limit)).then(pl.lit(k))
        for k, c in enumerate(caps)
    ]
    rule = pl.coalesce(violations or [pl.lit(None, dtype=pl.Int64)])
    excl = done.filter(~pl.col("_sel")).with_columns(rule=rule.cast(pl.Int64))

    def by_rule(values: list[pl.Expr]) -> pl.Expr:
        expr: Any = pl.when(pl.col("rule") == 0).then(values[0])
        for k in range(1, len(values)):
            expr = expr.when(pl.col("rule") == k).then(values[k])
        return expr

    if caps:
        excl = excl.with_columns(
            limit=by_rule([pl.lit(c.limit, dtype=pl.Int64) for c in caps]),
            already=by_rule([pl.col(f"_b{k}") for k in range(len(caps))]),
            in_this_run=by_rule([scope_count(c) for c in caps]),
            _rule_channel=by_rule([pl.lit(c.channel, dtype=pl.String) for c in caps]),
        )
    else:  # nothing is ever excluded without a cap; keep the columns
        excl = excl.with_columns(
            limit=pl.lit(None, dtype=pl.Int64),
            already=pl.lit(None, dtype=pl.Int64),
            in_this_run=pl.lit(None, dtype=pl.Int64),
            _rule_channel=pl.lit(None, dtype=pl.String),
        )
    # Who used the quota: history in the violated cap's window and scope...
    parts = []
    for k, cap in enumerate(caps):
        rows = excl.lazy().filter(pl.col("rule") == k).select("contact_id", "campaign_id")
        used = (
            hist.filter(_window_filter(cap, now, rules.count_scheduled))
            .select("contact_id", pl.col("campaign_id").alias("_used"))
            .join(rows, on="contact_id", how="inner")
        )
        parts.append(used.select("contact_id", "campaign_id", "_used"))
    # ... and the campaigns selected earlier for the same contact in this run, in scope.
    accepted = (
        done.lazy()
        .filter("_sel")
        .select(
            "contact_id",
            pl.col("campaign_id").alias("_used"),
            pl.col("_pos").alias("_apos"),
            pl.col("channel").alias("_ach"),
        )
    )
    earlier = (
        excl.lazy()
        .select("contact_id", "campaign_id", "_pos", "_rule_channel")
        .join(accepted, on="contact_id", how="inner")
        .filter(
            (pl.col("_apos") < pl.col("_pos"))
            & (pl.col("_rule_channel").is_null() | (pl.col("_ach") == pl.col("_rule_channel")))
        )
        .select("contact_id", "campaign_id", "_used")
    )
    parts.append(earlier)
    used_by = (
        pl.concat(parts)
        .group_by("contact_id", "campaign_id")
        .agg(pl.col("_used").unique().sort().alias("used_by"))
    )
    excluded = (
        excl.lazy()
        .select("contact_id", "campaign_id", "channel", "rule", "limit", "already", "in_this_run")
        .join(used_by, on=["contact_id", "campaign_id"], how="left")
        .with_columns(pl.col("used_by").fill_null(pl.lit([], dtype=pl.List(pl.Int64))))
        .sort("contact_id", "campaign_id")
        .collect()
    )
    return Arbitration(selected, excluded, rules)


def _priority_key(rules: PressureRules, campaign: Mapping[str, Any]) -> tuple:
    if rules.priority == Priority.LOCAL_FIRST:
        cls = 0 if campaign["kind"] == "local" else 1
    elif rules.priority == Priority.CENTRAL_FIRST:
        cls = 0 if campaign["kind"] == "central" else 1
    else:
        cls = 0
    return (cls, -campaign["weight"], campaign["scheduled_at"], campaign["campaign_id"])


def _oracle_in_window(
    rules: PressureRules, now: dt.datetime, cap: Cap, when: dt.datetime, channel: str
) -> bool:
    """Whether a past (or, with ``count_scheduled``, scheduled) message counts for ``cap``."""
    if cap.channel is not None and channel != cap.channel:
        return False
    if not when > now - cap.period:
        return False
    return when < now + cap.period if rules.count_scheduled else when <= now


def _oracle_reason(
    rules: PressureRules,
    now: dt.datetime,
    past: list[Mapping[str, Any]],
    chosen: list[tuple],
    channel: str,
) -> tuple | None:
    """The first cap one more message on ``channel`` would break, as (cap index, limit, already,
    in_this_run, used_by), given the contact's ``past`` and the (campaign_id, channel) ``chosen`` so far
    in this run; None when every cap allows it."""
    for k, cap in enumerate(rules.caps):
        if cap.channel is not None and cap.channel != channel:
            continue
        hits = [h for h in past if _oracle_in_window(rules, now, cap, h["sent_at"], h["channel"])]
        mine = [cid for cid, ch in chosen if cap.channel is None or ch == cap.channel]
        if len(hits) + len(mine) >= cap.limit:
            used = tuple(sorted({h["campaign_id"] for h in hits} | set(mine)))
            return (k, cap.limit, len(hits), len(mine), used)
    return None


def oracle(
    candidates: Iterable[Mapping[str, Any]],
    campaigns: Iterable[Mapping[str, Any]],
    history: Iterable[Mapping[str, Any]],
    rules: PressureRules,
    now: dt.datetime,
) -> tuple[set[tuple], dict[tuple, tuple]]:
    """Brute force, obviously correct: one contact at a time, one candidate at a time, every cap checked.

    Returns ({(contact_id, campaign_id, channel)} selected,
             {(contact_id, campaign_id, channel): (rule, limit, already, in_this_run, used_by tuple)}).
    """
    by_id = {c["campaign_id"]: c for c in campaigns}
    per_contact: dict[Any, set[tuple]] = defaultdict(set)
    for c in candidates:
        if c["campaign_id"] not in by_id:
            raise ValueError(UNKNOWN_CAMPAIGN)
        per_contact[c["contact_id"]].add((c["campaign_id"], c["channel"]))
    past: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for h in history:
        past[h["contact_id"]].append(h)

    selected: set[tuple] = set()
    excluded: dict[tuple, tuple] = {}
    for contact, items in per_contact.items():
        ordered = sorted(items, key=lambda item: _priority_key(rules, by_id[item[0]]))
        chosen: list[tuple] = []  # (campaign_id, channel) selected so far for this contact
        for campaign_id, channel in ordered:
            reason = _oracle_reason(rules, now, past[contact], chosen, channel)
            if reason is None:
                chosen.append((campaign_id, channel))
                selected.add((contact, campaign_id, channel))
            else:
                excluded[(contact, campaign_id, channel)] = reason
    return selected, excluded


def as_oracle_result(result: Arbitration) -> tuple[set[tuple], dict[tuple, tuple]]:
    """The vectorised result in the oracle's shape, for exact comparison."""
    selected = {
        tuple(row) for row in result.selected.select("contact_id", "campaign_id", "channel").iter_rows()
    }
    excluded = {
        (r[0], r[1], r[2]): (r[3], r[4], r[5], r[6], tuple(r[7]))
        for r in result.excluded.select(
            "contact_id", "campaign_id", "channel", "rule", "limit", "already", "in_this_run", "used_by"
        ).iter_rows()
    }
    return selected, excluded


def explanation(
    exclusion: Mapping[str, Any], rules: PressureRules, campaigns: Mapping[Any, Mapping[str, Any]]
) -> dict[str, Any]:
    """An exclusion's reason as data (:data:`glocal.delivery.reasons.PRESSURE_CAP`'s parameters): stored
    by the launch, written in the reader's language by :func:`glocal.delivery.reasons.sentence`.
    ``campaigns`` maps campaign id → {"name", "owner"} (owner optional)."""
    cap = rules.caps[exclusion["rule"]]
    return {
        "channel": cap.channel or "",
        "count": exclusion["already"] + exclusion["in_this_run"],
        "days": cap.period.days,
        "limit": cap.limit,
        "campaigns": [
            {
                "id": cid,
                "name": str(campaigns.get(cid, {}).get("name") or ""),
                "owner": str(campaigns.get(cid, {}).get("owner") or ""),
            }
            for cid in exclusion["used_by"][:3]
        ],
    }


def explain(
    exclusion: Mapping[str, Any], rules: PressureRules, campaigns: Mapping[Any, Mapping[str, Any]]
) -> str:
    """The sentence shown to the store, in the active language, e.g. "Excluded: 3 emails already in the
    last 7 days (limit 3), including HQ's Wine fair." ``campaigns`` maps campaign id → {"name", "owner"}
    (owner optional)."""
    return reasons.pressure_sentence(explanation(exclusion, rules, campaigns))
