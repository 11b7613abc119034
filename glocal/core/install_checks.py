"""``glocal check``: is this installation configured and can it reach what it needs?

Each check is a small function returning a :class:`Result` (ok / warn / FAIL, and one line saying what
was found or what is wrong and what to set). Every network probe has a timeout of ``TIMEOUT`` seconds.
Run by ``glocal/core/management/commands/check_install.py``; documented in docs/operations.md.

The kernel imports no app: the SMTP relay and the SMS gateway are read from the same settings the
delivery transports read (``glocal.delivery.dispatch.providers``).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks as django_checks
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from glocal.core.checks import public_url_problem

TIMEOUT = 3.0  # seconds, for every connection this command opens

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Result:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<10}  {self.detail}"


def _why(exc: BaseException) -> str:
    """An exception as a short reason: "Connection refused", "timed out", or its class and text."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {TIMEOUT:g} s"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def production() -> bool:
    return str(getattr(settings, "SETTINGS_MODULE", "")).endswith(".production")


# --- Django and the database ----------------------------------------------------------------------


def check_django(deploy: bool) -> list[Result]:
    """Django's system checks (``manage.py check``; ``--deploy`` adds the deployment ones)."""
    messages = django_checks.run_checks(include_deployment_checks=deploy)
    results = []
    for message in messages:
        if message.is_silenced():
            continue
        text = f"{message.id}: {message.msg}" + (f" ({message.hint})" if message.hint else "")
        results.append(Result(FAIL if message.is_serious() else WARN, "django", text))
    if not results:
        results.append(
            Result(OK, "django", "system checks" + (" with the deployment checks" if deploy else ""))
        )
    return results


def _database_label() -> str:
    conn = connections[DEFAULT_DB_ALIAS]
    db = conn.settings_dict
    if conn.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} at {db['NAME']}"
    where = f"{db.get('HOST') or 'local socket'}:{db.get('PORT') or 'default'}/{db.get('NAME')}"
    version = ""
    if conn.vendor == "postgresql":
        major = conn.pg_version // 10000  # type: ignore[attr-defined]
        version = f" {major}"
    return f"{conn.display_name}{version} at {where}"


def check_database() -> list[Result]:
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor == "postgresql":
        conn.settings_dict.setdefault("OPTIONS", {}).setdefault("connect_timeout", int(TIMEOUT))
    try:
        conn.ensure_connection()
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        db = conn.settings_dict
        where = f"{db.get('HOST') or ''}:{db.get('PORT') or ''}/{db.get('NAME')}"
        return [Result(FAIL, "database", f"cannot connect to {where} ({_why(exc)}): check DATABASE_URL")]
    results = [Result(OK, "database", _database_label())]
    executor = MigrationExecutor(conn)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        first = plan[0][0]
        results.append(
            Result(
                FAIL,
                "migrations",
                f"{len(plan)} not applied (first: {first.app_label}.{first.name}): run `glocal migrate`",
            )
        )
    else:
        results.append(Result(OK, "migrations", "all applied"))
    return results


# --- Cache and broker -----------------------------------------------------------------------------


def _redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def check_cache() -> list[Result]:
    config = settings.CACHES["default"]
    backend = str(config["BACKEND"]).rsplit(".", 1)[-1]
    location = str(config.get("LOCATION", ""))
    try:
        if backend == "RedisCache":
            _redis_ping(location.split(",")[0])
        key = "glocal:check"
        cache.set(key, "1", timeout=30)
        if cache.get(key) != "1":
            return [Result(FAIL, "cache", f"{backend} at {location} does not keep what it is given")]
        cache.delete(key)
    except Exception as exc:
        hint = "check REDIS_URL / CACHE_URL"
        if backend == "DatabaseCache":
            hint = f"run `glocal migrate` (or `glocal createcachetable`) to create table {location}"
        return [Result(FAIL, "cache", f"{backend} at {_redacted(location)} failed ({_why(exc)}): {hint}")]
    if backend == "LocMemCache":
        return [Result(WARN, "cache", "a per-process memory cache: limits do not hold across processes")]
    return [Result(OK, "cache", f"{backend} at {_redacted(location)} (set, get, delete)")]


def _redacted(url: str) -> str:
    """A URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def check_broker() -> list[Result]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return [Result(OK, "broker", "none: the embedded worker takes jobs from the database")]
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=TIMEOUT, transport_options={"socket_timeout": TIMEOUT}) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT)
            transport = conn.transport_cls
    except Exception as exc:
        return [
            Result(
                FAIL, "broker", f"cannot connect to {_redacted(url)} ({_why(exc)}): check CELERY_BROKER_URL"
            )
        ]
    return [Result(OK, "broker", f"{transport} at {_redacted(url)}")]


# --- Channels: SMTP, SMS ----------------------------------------------------------------------------


def smtp_target() -> tuple[str, int]:
    """The relay campaign email goes to (the rule of glocal.delivery.dispatch.providers.email_transport)."""
    host = settings.GLOCAL_SMTP_HOST or settings.EMAIL_HOST
    return host, int(settings.GLOCAL_SMTP_PORT or settings.EMAIL_PORT)


def check_smtp() -> list[Result]:
    backend = getattr(settings, "GLOCAL_EMAIL_PROVIDER", "")
    if backend:
        from django.utils.module_loading import import_string

        try:
            import_string(backend)
        except ImportError as exc:
            return [Result(FAIL, "smtp", f"GLOCAL_EMAIL_PROVIDER {backend!r} cannot be imported ({exc})")]
        return [Result(OK, "smtp", f"email through the provider API {backend} (not probed)")]
    host, port = smtp_target()
    use_ssl = bool(getattr(settings, "EMAIL_USE_SSL", False))
    try:
        smtp = _smtp_session(host, port, use_ssl)
    except Exception as exc:
        return [
            Result(
                FAIL,
                "smtp",
                f"cannot connect to {host}:{port} ({_why(exc)}): check GLOCAL_SMTP_HOST / GLOCAL_SMTP_PORT "
                "(or EMAIL_HOST / EMAIL_PORT)",
            )
        ]
    return [Result(OK, "smtp", f"{host}:{port} answers EHLO{smtp}")]


def _smtp_session(host: str, port: int, use_ssl: bool) -> str:
    """Connect, EHLO, STARTTLS when configured, log in when a user is set, QUIT; what was done."""
    done = ""
    client: smtplib.SMTP
    if use_ssl:
        client = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        done += " over TLS"
    else:
        client = smtplib.SMTP(host, port, timeout=TIMEOUT)
    try:
        code, _reply = client.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, _reply)
        if settings.EMAIL_USE_TLS and not use_ssl:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
            done += ", STARTTLS"
        if settings.EMAIL_HOST_USER:
            client.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            done += f", logged in as {settings.EMAIL_HOST_USER}"
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return done


def _tcp_probe(url: str) -> str | None:
    """Why the host of ``url`` cannot be reached over TCP, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=TIMEOUT):
            return None
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port} ({_why(exc)})"


def check_sms() -> list[Result]:
    provider = settings.GLOCAL_SMS_PROVIDER
    if provider == "capture":
        status = WARN if production() else OK
        return [Result(status, "sms", "capture: texts are kept on the message, not sent (the demo's)")]
    if provider == "json":
        missing = [n for n in ("GLOCAL_SMS_URL", "GLOCAL_SMS_TOKEN") if not getattr(settings, n, "")]
        if missing:
            return [Result(FAIL, "sms", f"JSON gateway without {' and '.join(missing)}: set them")]
        url = settings.GLOCAL_SMS_URL
    elif provider == "twilio":
        missing = [n for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, n, "")]
        if missing:
            return [Result(FAIL, "sms", f"Twilio without {' and '.join(missing)}: set them")]
        url = settings.TWILIO_API_URL
    else:
        return [Result(FAIL, "sms", f"GLOCAL_SMS_PROVIDER {provider!r} is unknown: capture, json or twilio")]
    problem = _tcp_probe(url)
    if problem:
        return [Result(FAIL, "sms", f"{provider} gateway: {problem}: check its URL and the firewall")]
    return [Result(OK, "sms", f"{provider} gateway {url} reachable (TCP)")]


# --- Public URL, directories, worker ----------------------------------------------------------------


def check_public_url(deploy: bool) -> list[Result]:
    url = settings.GLOCAL_PUBLIC_URL
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [Result(FAIL, "public-url", f"GLOCAL_PUBLIC_URL {url!r} is not an http(s) URL with a host")]
    if deploy or production():
        problem = public_url_problem(url)
        if problem:
            return [Result(FAIL, "public-url", problem)]
    return [Result(OK, "public-url", url)]


def _writable(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".glocal-check-"):
            pass
    except OSError as exc:
        return _why(exc)
    return None


def check_directories() -> list[Result]:
    results = []
    dirs = {"data": Path(settings.DATA_DIR)}
    storage = str(settings.STORAGES["default"]["BACKEND"])
    if storage.endswith("FileSystemStorage"):
        dirs["media"] = Path(settings.MEDIA_ROOT)
    else:
        results.append(Result(OK, "media", f"{storage} (not probed)"))
    hints = {"data": "GLOCAL_DATA_DIR", "media": "GLOCAL_MEDIA_ROOT"}
    for name, path in dirs.items():
        problem = _writable(path)
        if problem:
            results.append(
                Result(FAIL, name, f"{path} is not writable ({problem}): fix it or set {hints[name]}")
            )
        else:
            results.append(Result(OK, name, f"{path} writable"))
    return sorted(results, key=lambda r: r.name)


def check_worker() -> list[Result]:
    from glocal.core import jobs

    if jobs.broker_configured():
        status = jobs.worker_status()
        if status["status"] == "ok":
            return [Result(OK, "worker", f"{status['workers']} Celery worker(s) answered a ping")]
        return [Result(FAIL, "worker", "no Celery worker answered a ping: start `glocal worker`")]
    WorkerHeartbeat = jobs.WorkerHeartbeat
    last = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if last is None:
        return [
            Result(FAIL, "worker", "no worker has ever beaten: start `glocal worker` (or `glocal serve`)")
        ]
    age = timezone.now() - last.last_seen
    limit = timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    seconds = int(age.total_seconds())
    if age > limit:
        return [
            Result(
                FAIL,
                "worker",
                f"last heartbeat {seconds} s ago ({last.name}), over {int(limit.total_seconds())} s: "
                "is `glocal worker` running?",
            )
        ]
    return [Result(OK, "worker", f"{last.name} beat {seconds} s ago")]


CHECKS: dict[str, Callable[[bool], list[Result]]] = {
    "database": lambda deploy: check_database(),
    "cache": lambda deploy: check_cache(),
    "broker": lambda deploy: check_broker(),
    "smtp": lambda deploy: check_smtp(),
    "sms": lambda deploy: check_sms(),
    "public-url": check_public_url,
    "directories": lambda deploy: check_directories(),
    "worker": lambda deploy: check_worker(),
    "django": check_django,
}
NEEDS_DATABASE = {"worker"}  # not run when the database or its migrations failed


def run(*, deploy: bool = False, skip: set[str] | frozenset[str] = frozenset()) -> list[Result]:
    results: list[Result] = []
    for name, check in CHECKS.items():
        if name in skip:
            continue
        database = [r for r in results if r.name in {"database", "migrations"} and r.status == FAIL]
        if database and name in NEEDS_DATABASE:
            results.append(Result(FAIL, name, f"not checked: {database[0].name} failed"))
            continue
        try:
            found = check(deploy)
        except Exception as exc:  # a check's own failure is a failed check, with its reason
            found = [Result(FAIL, name, f"could not be checked ({_why(exc)})")]
        results.extend(found)
    return results
