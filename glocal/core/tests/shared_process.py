"""Several real processes against one database and one cache, for the shared-state tests.

The parent (a pytest test) starts each worker with :func:`start`; a worker sets Django up on the database
and cache named by its environment, prints ``ready``, waits for ``go`` on its stdin (the barrier: every
worker is set up before any starts, no sleep), runs its action, prints ``done <json>`` and, for actions
in two steps, waits for a second ``go``. :func:`run_together` drives N workers through the steps.

Run as ``python -m glocal.core.tests.shared_process ACTION JSON``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


# --- the parent's side ---------------------------------------------------------------------------------


def database_env(tmp_path: Path) -> dict[str, str]:
    """Environment variables that point a worker at the test's own database: PostgreSQL's test database
    as it is, or the in-memory SQLite test database copied to a file (the copy is made now: call this
    after the test's rows are written; the workers' writes go to the file)."""
    import sqlite3

    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings.get("USER") or "postgres"
        password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
        host = settings.get("HOST") or "127.0.0.1"
        port = settings.get("PORT") or 5432
        url = f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"
        return {"DATABASE_URL": url}
    assert connection.vendor == "sqlite"
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    with target:
        connection.connection.backup(target)
    target.close()
    return {"DATABASE_URL": "", "GLOCAL_SQLITE_PATH": str(path)}


def cache_env(kind: str) -> dict[str, str]:
    """The database's cache table, or Redis (database 11 of the local server, keys unique per test)."""
    if kind == "redis":
        return {"REDIS_URL": "redis://127.0.0.1:6379/11", "CACHE_URL": ""}
    assert kind == "database"
    return {"REDIS_URL": "", "CACHE_URL": ""}


class Worker:
    def __init__(self, action: str, params: dict[str, Any], env: dict[str, str]) -> None:
        full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env}
        for name, value in env.items():
            if value == "":
                full.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glocal.core.tests.shared_process", action, json.dumps(params)],
            cwd=ROOT,
            env=full,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def expect(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(word):
            self.process.kill()
            _out, err = self.process.communicate()
            raise AssertionError(f"worker said {line!r}, not {word!r}; stderr:\n{err[-3000:]}")
        return line[len(word) :].strip()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def run_together(
    action: str, params: list[dict[str, Any]], env: dict[str, str], *, steps: int = 1
) -> list[list[Any]]:
    """Start one worker per ``params``, release them together (``steps`` times, each step after every
    worker finished the previous one) and return each worker's results, step by step."""
    workers = [Worker(action, {**p, "steps": steps}, env) for p in params]
    try:
        for worker in workers:
            worker.expect("ready")
        results: list[list[Any]] = [[] for _ in workers]
        for _step in range(steps):
            for worker in workers:
                worker.go()
            for index, worker in enumerate(workers):
                results[index].append(json.loads(worker.expect("done")))
        for worker in workers:
            assert worker.process.wait(timeout=120) == 0
        return results
    finally:
        for worker in workers:
            worker.close()


# --- the worker's side ---------------------------------------------------------------------------------


def _wait_go() -> None:
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"expected go, got {line!r}")


def _done(result: Any) -> None:
    print("done " + json.dumps(result), flush=True)


def act_rate(params: dict[str, Any]) -> Iterator[Any]:
    """Take ``n`` tokens of a SharedRateLimiter (``key``, ``rate``, ``burst``), waiting as it says;
    yields the window index of each grant."""
    from glocal.core.ratelimit import SharedRateLimiter

    seen: list[float] = []

    def clock() -> float:
        import time

        seen.append(time.time())
        return seen[-1]

    limiter = SharedRateLimiter(params["key"], params["rate"], params["burst"], clock=clock)
    windows = []
    for _ in range(params["n"]):
        limiter.acquire()
        windows.append(int(seen[-1] // limiter.window))
    yield windows


def act_lead_sends(params: dict[str, Any]) -> Iterator[Any]:
    """Ask for ``n`` confirmation messages to one address, each from another client address."""
    from glocal.targeting import leads

    yield [
        leads.may_send_confirmation(address=params["address"], ip=f"{params['ip_prefix']}.{index}")
        for index in range(params["n"])
    ]


def act_login(params: dict[str, Any]) -> Iterator[Any]:
    """Step 1: ``failures`` wrong passwords from ``ip``; step 2: the right one from ``ip``, then from
    another address. Yields the HTTP statuses."""
    from django.test import Client

    client = Client(REMOTE_ADDR=params["ip"])
    url, user = "/accounts/login/", params["username"]
    yield [
        client.post(url, {"username": user, "password": "wrong-password"}).status_code
        for _ in range(params["failures"])
    ]
    right = client.post(url, {"username": user, "password": params["password"]}).status_code
    elsewhere = Client(REMOTE_ADDR=params["other_ip"]).post(
        url, {"username": user, "password": params["password"]}
    )
    yield [right, elsewhere.status_code]


def act_smtp(params: dict[str, Any]) -> Iterator[Any]:
    """Send ``n`` messages through the dispatcher's SMTP transport (``GLOCAL_SMTP_RATE`` etc. from the
    environment); yields, per grant of the send rate limit, its window index."""
    from django.conf import settings

    from glocal.core import ratelimit
    from glocal.delivery.dispatch import providers

    grants: list[int] = []
    real_take = ratelimit.take

    def counting_take(key: str, limit: int, window: float, **kwargs: Any) -> int | None:
        index = real_take(key, limit, window, **kwargs)
        if index is not None:
            grants.append(int(kwargs["now"] // window))
        return index

    ratelimit.take = counting_take
    transport = providers.email_transport()
    domain = settings.GLOCAL_SENDER_DOMAIN
    for index in range(params["n"]):
        data = f"Subject: {index}\r\nFrom: a@{domain}\r\nTo: b@example.test\r\n\r\nhello\r\n".encode()
        transport.send_bytes(
            envelope_from=f"bounces@{domain}",
            recipient="b@example.test",
            data=data,
            message_id=f"<{params['tag']}-{index}@{domain}>",
        )
    transport.close()
    yield grants


def act_deadlines(params: dict[str, Any]) -> Iterator[Any]:
    """One tick's deadline closing (what every worker's housekeeping runs)."""
    from glocal.campaigns.services import close_due_deadlines

    yield close_due_deadlines()


ACTIONS: dict[str, Callable[[dict[str, Any]], Iterator[Any]]] = {
    "deadlines": act_deadlines,
    "rate": act_rate,
    "lead_sends": act_lead_sends,
    "login": act_login,
    "smtp": act_smtp,
}


def main() -> None:
    import django

    action, params = sys.argv[1], json.loads(sys.argv[2])
    django.setup()
    steps = ACTIONS[action](params)
    print("ready", flush=True)
    for _step in range(params.get("steps", 1)):  # each step starts on a "go"
        _wait_go()
        _done(next(steps))


if __name__ == "__main__":
    main()
