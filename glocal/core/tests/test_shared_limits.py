"""Limits that must hold across processes, proven with two real processes on one database and one cache
(the database's cache table and Redis): the shared rate limiter, the lead form's per-address limit, the
login lockout. Each worker is released by a pipe barrier (glocal/core/tests/shared_process.py)."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches

from glocal.core import ratelimit
from glocal.core.tests.shared_process import cache_env, database_env, run_together

CACHES = ["database", "redis"]


@pytest.fixture
def key() -> str:
    return uuid.uuid4().hex


# --- in one process: the two schemes -------------------------------------------------------------------


@pytest.mark.django_db
def test_tokens_of_a_window_are_counted_once_each_and_a_new_window_starts_afresh(key):
    assert ratelimit.describe()["scheme"] == "add per token"  # the tests' cache is the database's
    got = [ratelimit.take(key, 3, 10, now=1000.0) for _ in range(5)]
    assert got == [0, 1, 2, None, None]
    assert ratelimit.take(key, 3, 10, now=1010.0) == 0  # the next window
    assert ratelimit.take(key, 0, 10, now=1010.0) is None


@pytest.mark.django_db
def test_a_stale_hint_never_grants_a_taken_token(key):
    cache = caches["default"]
    assert ratelimit.take(key, 4, 10, now=50.0) == 0
    assert ratelimit.take(key, 4, 10, now=50.0) == 1
    cache.set(f"{ratelimit.window_key(key, 10, 50.0)}:next", 0, 60)  # another process's older hint
    assert [ratelimit.take(key, 4, 10, now=50.0) for _ in range(3)] == [2, 3, None]


def test_redis_counts_with_add_and_incr(key):
    redis = _redis()
    assert ratelimit.describe(redis)["scheme"] == "add+incr"
    assert [ratelimit.take(key, 2, 10, now=70.0, cache=redis) for _ in range(3)] == [0, 1, None]


def _redis():
    from django.core.cache.backends.redis import RedisCache

    return RedisCache("redis://127.0.0.1:6379/11", {})


@pytest.mark.django_db
def test_a_limiter_waits_for_the_next_window_once_it_saw_this_one_full(key):
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = ratelimit.SharedRateLimiter(key, rate=4, burst=2, clock=lambda: now[0], sleep=sleep)
    assert limiter.window == 0.5
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.5, 0.5]  # 2 in [100, 100.5), 2 in [100.5, 101), the fifth at 101


@pytest.mark.django_db
def test_a_cache_lock_has_one_holder_at_a_time(key):
    with ratelimit.cache_lock(key, 60) as first, ratelimit.cache_lock(key, 60) as second:
        assert (first, second) == (True, False)
    with ratelimit.cache_lock(key, 60) as again:
        assert again  # released by its holder


# --- across two processes ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache_kind", CACHES)
def test_two_processes_share_one_send_rate(cache_kind, key, tmp_path):
    """20 grants each at 40/s in windows of 4 (0.1 s): together never more than 4 in any window —
    each process alone would have taken 4 too, so a per-process limit would show up to 8."""
    env = {**database_env(tmp_path), **cache_env(cache_kind)}
    params = {"key": key, "rate": 40, "burst": 4, "n": 20}
    (first,), (second,) = run_together("rate", [params, params], env)
    per_window = Counter(first + second)
    assert sum(per_window.values()) == 40
    assert max(per_window.values()) <= 4
    assert len(per_window) >= 10  # 40 grants need at least 10 windows of 4
    both = set(first) & set(second)
    assert both  # they did run side by side, sharing windows


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cache_kind", CACHES)
def test_the_lead_forms_per_address_limit_holds_across_two_processes(cache_kind, key, tmp_path, settings):
    """Each process asks 5 confirmation messages to one address (from 5 client addresses each): 3 a day
    for that address in all (GLOCAL_LEAD_SENDS_PER_ADDRESS), not 3 per process."""
    env = {**database_env(tmp_path), **cache_env(cache_kind)}
    address = f"{key}@example.test"
    (first,), (second,) = run_together(
        "lead_sends",
        [
            {"address": address, "ip_prefix": "192.0.2", "n": 5},
            {"address": address, "ip_prefix": "198.51.100", "n": 5},
        ],
        env,
    )
    assert settings.GLOCAL_LEAD_SENDS_PER_ADDRESS == 3
    assert (first + second).count(True) == 3


@pytest.mark.django_db(transaction=True)
def test_login_lockout_counts_failures_from_two_processes(tmp_path, settings):
    """3 wrong passwords in one process and 2 in another, at the same time, from one address: the account
    is locked for that address in both (5 = AXES_FAILURE_LIMIT), and still opens from another address."""
    get_user_model().objects.create_user("shared@example.test", "pw-correct-horse", full_name="Shared")
    env = {**database_env(tmp_path), **cache_env("database")}
    common = {"username": "shared@example.test", "password": "pw-correct-horse", "ip": "203.0.113.7"}
    first, second = run_together(
        "login",
        [
            {**common, "failures": 3, "other_ip": "203.0.113.8"},
            {**common, "failures": 2, "other_ip": "203.0.113.9"},
        ],
        env,
        steps=2,
    )
    assert settings.AXES_FAILURE_LIMIT == 5
    failures = first[0] + second[0]
    assert len(failures) == 5 and failures.count(429) <= 1  # the fifth failure may already answer "locked"
    assert first[1][0] == second[1][0] == 429  # the right password, from the locked address: refused
    assert first[1][1] == second[1][1] == 302  # from another address: it opens
