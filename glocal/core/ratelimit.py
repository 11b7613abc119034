"""Limits and locks that hold across processes: gunicorn workers, Celery workers, several machines.

Everything here lives in Django's default cache, which every process shares: Redis when ``REDIS_URL`` /
``CACHE_URL`` names one, else the database's own cache table (``config/settings/base.py``). Never a
per-process memory cache: two workers would each allow the full limit.

**Counting scheme (fixed windows of claimed tokens).** Time is cut into windows (``floor(now / window)``,
wall-clock time: the machines' clocks must agree, NTP). A window holds ``limit`` tokens; taking one is
an atomic operation of the cache, so no two processes ever get the same token:

- Redis (and memcached): ``add(counter, 1)`` then ``incr(counter)`` — both atomic on the server; the
  value returned is the caller's place in the window.
- Any other backend, the database cache included: ``incr`` there is a read then a write (two processes
  can both read 1 and both write 2), so each token is its own key, ``<window key>:<i>``, taken with
  ``add`` (an INSERT on a primary key: exactly one process wins). A shared hint (``<window key>:next``)
  says where the free tokens start: every hint written means that all tokens below it are taken, so
  starting there never over-grants; a stale (lower) hint only costs a few more ``add`` calls.

In both schemes a failed cache call refuses the token: the limit is never exceeded, at worst under-used.
The bound that holds across every process: at most ``limit`` grants per window.

**Locks** (:func:`cache_lock`): ``add(lock key, owner, ttl)`` — one holder at a time, released by its
holder or by expiry (a crashed holder blocks the others at most ``ttl`` seconds).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import OperationalError

PREFIX = "glocal:rl"


def shared_cache() -> BaseCache:
    return caches["default"]


def atomic_incr(cache: BaseCache) -> bool:
    """True when ``cache.incr`` is one atomic operation of the cache server (Redis, memcached)."""
    from django.core.cache.backends.memcached import BaseMemcachedCache
    from django.core.cache.backends.redis import RedisCache

    return isinstance(cache, RedisCache | BaseMemcachedCache)


def window_key(key: str, window: float, now: float) -> str:
    return f"{PREFIX}:{key}:{window:g}:{int(now // window)}"


def _take_counted(cache: BaseCache, slot: str, limit: int, ttl: int) -> int | None:
    try:
        if cache.add(slot, 1, ttl):
            return 0
        place = int(cache.incr(slot))
    except ValueError:  # expired between add and incr: this window is over anyway
        return None
    return place - 1 if place <= limit else None


def _take_claimed(cache: BaseCache, slot: str, limit: int, ttl: int) -> int | None:
    hint_key = f"{slot}:next"
    start = cache.get(hint_key) or 0
    for index in range(int(start), limit):
        if cache.add(f"{slot}:{index}", 1, ttl):
            cache.set(hint_key, index + 1, ttl)
            return index
    if start < limit:
        cache.set(hint_key, limit, ttl)  # full: the next callers refuse with one read
    return None


def take(
    key: str, limit: int, window: float, *, now: float | None = None, cache: BaseCache | None = None
) -> int | None:
    """Take one of the ``limit`` tokens of ``key``'s current window (``window`` seconds): its index
    (0 … limit - 1), or None when they are all taken — by this process or any other."""
    if limit < 1:
        return None
    cache = cache or shared_cache()
    now = time.time() if now is None else now
    slot = window_key(key, window, now)
    ttl = int(window) + 60
    if atomic_incr(cache):
        return _take_counted(cache, slot, limit, ttl)
    return _take_claimed(cache, slot, limit, ttl)


def within(key: str, limit: int, window: float, *, now: float | None = None) -> bool:
    """Count one hit of ``key``: True while the window's hits stay within ``limit``."""
    return take(key, limit, window, now=now) is not None


class SharedRateLimiter:
    """``rate`` grants per second on average for every process using the same ``key``: windows of
    ``burst / rate`` seconds with ``burst`` tokens each (so a burst of up to ``burst`` goes at once).

    Same interface as the in-process ``TokenBucket`` (``try_acquire`` → seconds to wait, ``acquire``).
    ``clock`` (wall-clock seconds) and ``sleep`` are injectable. Local optimisation only: once this
    process saw the window full it waits for the next one without asking the cache again.
    """

    def __init__(
        self,
        key: str,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        cache: BaseCache | None = None,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst ≥ 1")
        self.key, self.rate, self.burst = key, rate, burst
        self.window = burst / rate
        self._clock, self._sleep, self._cache = clock, sleep, cache
        self._full_until = 0.0
        self._lock = threading.Lock()

    def _next_window(self, now: float) -> float:
        return (int(now // self.window) + 1) * self.window

    def try_acquire(self) -> float:
        """Take a token of the current window (returns 0.0), else the seconds until the next window."""
        now = self._clock()
        with self._lock:
            if now < self._full_until:
                return self._full_until - now
        try:
            taken = take(self.key, self.burst, self.window, now=now, cache=self._cache)
        except OperationalError:  # the database cache busy (SQLite's write lock): try again shortly
            return min(self.window, 0.05)
        if taken is not None:
            return 0.0
        until = self._next_window(now)
        with self._lock:
            self._full_until = max(self._full_until, until)
        return max(until - now, 1e-3)

    def acquire(self) -> None:
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)


@contextmanager
def cache_lock(name: str, ttl: int, *, cache: BaseCache | None = None) -> Iterator[bool]:
    """``with cache_lock("name", ttl) as held:`` — ``held`` is True for one holder at a time across every
    process; the others get False at once (they skip the work, never wait). The lock expires after
    ``ttl`` seconds if its holder dies; choose ``ttl`` longer than the work."""
    cache = cache or shared_cache()
    key, owner = f"{PREFIX}:lock:{name}", secrets.token_hex(8)
    held = bool(cache.add(key, owner, ttl))
    try:
        yield held
    finally:
        if held and cache.get(key) == owner:  # not someone else's after an expiry
            cache.delete(key)


def describe(cache: BaseCache | None = None) -> dict[str, Any]:
    """Which scheme the shared limits use on this deployment (for docs and ``glocal check``)."""
    cache = cache or shared_cache()
    return {
        "backend": f"{type(cache).__module__}.{type(cache).__name__}",
        "scheme": "add+incr" if atomic_incr(cache) else "add per token",
    }
