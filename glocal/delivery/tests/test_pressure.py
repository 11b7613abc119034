"""Pressure arbitration: the vectorised function equals the brute-force oracle, plus hand-written cases."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import polars as pl
import pytest

from glocal.delivery.pressure import (
    DEFAULT_RULES,
    UNKNOWN_CAMPAIGN,
    Cap,
    PressureRules,
    Priority,
    arbitrate,
    as_oracle_result,
    explain,
    oracle,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)

CANDIDATE_SCHEMA: dict[str, Any] = {"contact_id": pl.Int64, "campaign_id": pl.Int64, "channel": pl.String}
CAMPAIGN_SCHEMA: dict[str, Any] = {
    "campaign_id": pl.Int64,
    "kind": pl.String,
    "weight": pl.Int64,
    "scheduled_at": pl.Datetime("us", "UTC"),
    "name": pl.String,
    "owner": pl.String,
}
HISTORY_SCHEMA: dict[str, Any] = {
    "contact_id": pl.Int64,
    "channel": pl.String,
    "sent_at": pl.Datetime("us", "UTC"),
    "campaign_id": pl.Int64,
}


def frames(candidates, campaigns, history):
    return (
        pl.DataFrame(candidates, schema=CANDIDATE_SCHEMA, orient="row"),
        pl.DataFrame(campaigns, schema=CAMPAIGN_SCHEMA, orient="row"),
        pl.DataFrame(history, schema=HISTORY_SCHEMA, orient="row"),
    )


def check_against_oracle(candidates, campaigns, history, rules, now=NOW):
    cand, camp, hist = frames(candidates, campaigns, history)
    result = arbitrate(cand, camp, hist, rules, now)
    expected = oracle(cand.to_dicts(), camp.to_dicts(), hist.to_dicts(), rules, now)
    assert as_oracle_result(result) == expected
    fast = arbitrate(cand, camp, hist, rules, now, explain_exclusions=False)
    assert fast.selected.equals(result.selected)
    assert fast.excluded.select("contact_id", "campaign_id").equals(
        result.excluded.select("contact_id", "campaign_id")
    )
    return result, expected


def random_case(seed: int):
    rng = random.Random(seed)
    channels = ["email", "sms", "push"][: rng.randint(1, 3)]
    campaigns = []
    for cid in range(1, rng.randint(1, 7) + 1):
        campaigns.append(
            (
                cid,
                rng.choice(["central", "local"]),
                rng.randint(0, 2),  # few weights: ties happen
                NOW + rng.choice([-1, 0, 0, 1, 2]) * DAY,  # ties on the schedule too
                f"C{cid}",
                rng.choice(["HQ", "Store A"]),
            )
        )
    contacts = list(range(1, rng.randint(1, 8) + 1))
    candidates = []
    channel_of = {c[0]: rng.choice(channels) for c in campaigns}
    for contact in contacts:
        for c in campaigns:
            if rng.random() < 0.6:
                candidates.append((contact, c[0], channel_of[c[0]]))
    history = []
    for contact in contacts:
        for _ in range(rng.randint(0, 6)):
            history.append(
                (
                    contact,
                    rng.choice(channels),
                    NOW + dt.timedelta(hours=rng.randint(-12 * 24, 12 * 24)),
                    rng.choice([c[0] for c in campaigns] + [90, 91, 92]),
                )
            )
        if rng.random() < 0.2:  # exactly on the window's edges
            history.append((contact, channels[0], NOW - WEEK, 93))
            history.append((contact, channels[0], NOW, 94))
            history.append((contact, channels[0], NOW + WEEK, 95))
    caps = tuple(
        Cap(rng.randint(0, 3), rng.choice([DAY, 3 * DAY, WEEK, 10 * DAY]), rng.choice([*channels, None]))
        for _ in range(rng.randint(0, 4))
    )
    rules = PressureRules(caps=caps, priority=rng.choice(list(Priority)), count_scheduled=rng.random() < 0.5)
    return candidates, campaigns, history, rules


@pytest.mark.parametrize("seed", range(150))
def test_vectorised_equals_oracle_on_random_cases(seed):
    check_against_oracle(*random_case(seed))


def test_oracle_comparison_is_not_vacuous():
    # Over the random cases, both outcomes and every kind of rule actually happen.
    selected = excluded = 0
    rules_seen = set()
    for seed in range(150):
        candidates, campaigns, history, rules = random_case(seed)
        cand, camp, hist = frames(candidates, campaigns, history)
        sel, exc = oracle(cand.to_dicts(), camp.to_dicts(), hist.to_dicts(), rules, NOW)
        selected += len(sel)
        excluded += len(exc)
        rules_seen |= {reason[0] for reason in exc.values()}
    assert selected > 150 and excluded > 150
    assert rules_seen >= {0, 1, 2, 3}


def campaign(cid, kind, weight=0, when=NOW, name=None, owner=None):
    return (cid, kind, weight, when, name or f"C{cid}", owner)


def test_local_first_by_default_then_weight_then_earliest_then_id():
    rules = PressureRules(caps=(Cap(1, WEEK, "email"),))
    camps = [
        campaign(1, "central", weight=9),
        campaign(2, "local", weight=0, when=NOW + DAY),
        campaign(3, "local", weight=0, when=NOW),
    ]
    cands = [(7, 1, "email"), (7, 2, "email"), (7, 3, "email")]
    result, (selected, excluded) = check_against_oracle(cands, camps, [], rules)
    assert selected == {(7, 3, "email")}  # local before central; earliest of the two locals
    central_first = PressureRules(caps=rules.caps, priority=Priority.CENTRAL_FIRST)
    _result, (selected, _excluded) = check_against_oracle(cands, camps, [], central_first)
    assert selected == {(7, 1, "email")}
    by_weight = PressureRules(caps=(Cap(2, WEEK, "email"),), priority=Priority.WEIGHT)
    camps.append(campaign(4, "local", weight=9))  # same weight as 1: the tie goes to the lower id
    _result, (selected, _excluded) = check_against_oracle([*cands, (7, 4, "email")], camps, [], by_weight)
    assert selected == {(7, 1, "email"), (7, 4, "email")}


def test_three_emails_this_week_excludes_with_the_reason():
    # Given HQ's wine fair and two other emails this week
    camps = [
        campaign(1, "central", name="Wine fair", owner="HQ"),
        campaign(2, "local", name="Open day", owner="Store A"),
        campaign(3, "local", name="Newsletter", owner="Store A"),
        campaign(10, "local", name="Black Friday", owner="Store A"),
        campaign(11, "local", name="Flash SMS", owner="Store A"),
    ]
    history = [
        (5, "email", NOW - 2 * DAY, 1),
        (5, "email", NOW - 3 * DAY, 2),
        (5, "email", NOW - 8 * DAY, 3),  # older than 7 days: does not count
        (5, "email", NOW - 1 * DAY, 3),
    ]
    cands = [(5, 10, "email"), (5, 11, "sms"), (6, 10, "email")]
    result, (selected, excluded) = check_against_oracle(cands, camps, history, DEFAULT_RULES)
    # Then the store's Black Friday email is excluded for contact 5 but not 6; the SMS still goes
    assert selected == {(5, 11, "sms"), (6, 10, "email")}
    assert excluded == {(5, 10, "email"): (0, 3, 3, 0, (1, 2, 3))}
    row = result.excluded.row(0, named=True)
    names = {c[0]: {"name": c[4], "owner": c[5]} for c in camps}
    text = explain(row, DEFAULT_RULES, names)
    assert text.startswith(
        "Excluded: 3 emails already in the last 7 days (limit 3), including HQ's Wine fair"
    )


def test_explanation_in_french():
    from django.utils import translation

    rules = PressureRules(caps=(Cap(3, WEEK, "email"),))
    row = {"rule": 0, "already": 2, "in_this_run": 1, "used_by": [1, 2]}
    names = {1: {"name": "Foire aux vins", "owner": "Siège"}, 2: {"name": "Portes ouvertes"}}
    with translation.override("fr"):
        text = explain(row, rules, names)
    assert text == (
        "Exclu\u00a0: déjà 3 e-mails sur les 7 derniers jours (limite 3), "
        "dont Foire aux vins (Siège), Portes ouvertes."
    )


def test_cross_channel_cap_counts_every_channel_and_this_run():
    rules = PressureRules(caps=(Cap(3, WEEK, "email"), Cap(2, WEEK)))
    camps = [campaign(i, "local", when=NOW + i * dt.timedelta(minutes=1)) for i in (1, 2, 3)]
    history = [(1, "sms", NOW - DAY, 50)]
    cands = [(1, 1, "email"), (1, 2, "email"), (1, 3, "email")]
    _result, (selected, excluded) = check_against_oracle(cands, camps, history, rules)
    assert selected == {(1, 1, "email")}
    assert excluded[(1, 2, "email")] == (1, 2, 1, 1, (1, 50))
    assert excluded[(1, 3, "email")] == (1, 2, 1, 1, (1, 50))


def test_future_scheduled_campaigns_count_only_when_asked():
    camps = [campaign(1, "local")]
    history = [(1, "sms", NOW + 2 * DAY, 40)]  # already scheduled, not yet sent
    cands = [(1, 1, "sms")]
    rules = PressureRules(caps=(Cap(1, WEEK, "sms"),))
    _r, (selected, _e) = check_against_oracle(cands, camps, history, rules)
    assert selected == {(1, 1, "sms")}
    counted = PressureRules(caps=rules.caps, count_scheduled=True)
    _r, (selected, excluded) = check_against_oracle(cands, camps, history, counted)
    assert not selected
    assert excluded[(1, 1, "sms")] == (0, 1, 1, 0, (40,))


def test_no_caps_selects_everything_and_unknown_campaign_is_refused():
    camps = [campaign(1, "local")]
    _r, (selected, excluded) = check_against_oracle(
        [(1, 1, "email"), (2, 1, "email")], camps, [], PressureRules()
    )
    assert len(selected) == 2 and not excluded
    cand, camp, hist = frames([(1, 2, "email")], camps, [])
    with pytest.raises(ValueError, match=UNKNOWN_CAMPAIGN):
        arbitrate(cand, camp, hist, DEFAULT_RULES, NOW)
    with pytest.raises(ValueError, match=UNKNOWN_CAMPAIGN):
        oracle(cand.to_dicts(), camp.to_dicts(), [], DEFAULT_RULES, NOW)
