"""``glocal check`` against real services: the test database, Redis (127.0.0.1:6379), RabbitMQ
(127.0.0.1:5672, guest/guest), a real SMTP server (conftest's ``smtp_server``), and a closed port for
every failure (a free port nobody listens on)."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from glocal.core import install_checks
from glocal.core.models import WorkerHeartbeat

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment by the system, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_check(*args: str) -> tuple[dict[str, tuple[str, str]], int]:
    """The command's lines as {name: (status, detail)} (a name's first line) and its exit status."""
    out = StringIO()
    status = 0
    try:
        call_command("check_install", *args, stdout=out, no_color=True)
    except CommandError as exc:
        status = exc.returncode
    lines: dict[str, tuple[str, str]] = {}
    for line in out.getvalue().splitlines():
        state, name, detail = line.split(None, 2)
        lines.setdefault(name, (state, detail))
    return lines, status


@pytest.fixture
def healthy(settings, smtp_server, tmp_path):
    """A configuration whose every service answers: SMTP relay, fresh worker heartbeat, writable dirs."""
    settings.GLOCAL_SMTP_HOST = ""
    settings.GLOCAL_SMTP_PORT = ""
    settings.GLOCAL_EMAIL_PROVIDER = ""
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.CELERY_BROKER_URL = ""
    WorkerHeartbeat.objects.create(name="embedded@test", kind="embedded", last_seen=timezone.now())
    return smtp_server


SKIP_DJANGO = ("--skip", "django")  # Django's system checks: tested once, below, on their own


@pytest.mark.django_db
def test_every_check_passes_when_every_service_answers(healthy, settings):
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 0, lines
    assert {name for name, (state, _detail) in lines.items() if state == "ok"} == {
        "database",
        "migrations",
        "cache",
        "broker",
        "smtp",
        "sms",
        "public-url",
        "data",
        "media",
        "worker",
    }
    assert lines["migrations"] == ("ok", "all applied")
    assert lines["smtp"][1] == f"127.0.0.1:{settings.EMAIL_PORT} answers EHLO"
    assert lines["worker"][1].startswith("embedded@test beat ")
    assert lines["database"][1].startswith(("SQLite ", "PostgreSQL 1"))


@pytest.mark.django_db
def test_the_database_line_names_the_engine_and_where_it_is(healthy, settings):
    from django.db import connection

    lines, _status = run_check(*SKIP_DJANGO)
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        major = connection.pg_version // 10000  # type: ignore[attr-defined]
        assert lines["database"][1] == f"PostgreSQL {major} at {db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        assert lines["database"][1].startswith("SQLite 3.")


@pytest.mark.django_db
def test_smtp_on_a_closed_port_fails_with_the_reason_and_what_to_set(healthy, settings):
    port = closed_port()
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", str(port)
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 1
    assert lines["smtp"] == (
        "FAIL",
        f"cannot connect to 127.0.0.1:{port} (Connection refused): check GLOCAL_SMTP_HOST / GLOCAL_SMTP_PORT "
        "(or EMAIL_HOST / EMAIL_PORT)",
    )
    assert lines["database"][0] == "ok"  # the other checks still ran


@pytest.mark.django_db
def test_smtp_goes_to_the_campaign_relay_the_dispatcher_uses(healthy, settings):
    """GLOCAL_SMTP_HOST/PORT win over EMAIL_HOST/PORT, as in delivery's providers.email_transport."""
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", str(settings.EMAIL_PORT)
    settings.EMAIL_PORT = closed_port()
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 0 and lines["smtp"][0] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("broker", [REDIS, RABBITMQ])
def test_a_real_broker_answers(healthy, settings, broker):
    settings.CELERY_BROKER_URL = broker
    lines, _status = run_check(*SKIP_DJANGO, "--skip", "worker")
    assert lines["broker"][0] == "ok"
    assert lines["broker"][1].endswith(broker.replace("guest:guest@", "guest:***@"))


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["redis://127.0.0.1:{port}/0", "amqp://guest:guest@127.0.0.1:{port}//"])
def test_a_broker_on_a_closed_port_fails(healthy, settings, scheme):
    url = scheme.format(port=closed_port())
    settings.CELERY_BROKER_URL = url
    lines, status = run_check(*SKIP_DJANGO, "--skip", "worker")
    assert status == 1
    state, detail = lines["broker"]
    assert state == "FAIL" and detail.endswith("check CELERY_BROKER_URL")
    assert "refused" in detail.lower()
    assert "guest:guest" not in detail  # the password is not printed


@pytest.mark.django_db
def test_a_redis_cache_is_written_and_read(healthy, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}
    }
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 0
    assert lines["cache"] == ("ok", f"RedisCache at {REDIS} (set, get, delete)")


@pytest.mark.django_db
def test_a_redis_cache_on_a_closed_port_fails(healthy, settings):
    location = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 1
    state, detail = lines["cache"]
    assert state == "FAIL" and detail.startswith(f"RedisCache at {location} failed (")
    assert detail.endswith("check REDIS_URL / CACHE_URL")


@pytest.mark.django_db
def test_the_database_cache_is_written_and_read(healthy, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "glocal_cache"}
    }
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["cache"] == ("ok", "DatabaseCache at glocal_cache (set, get, delete)")


@pytest.mark.django_db
def test_a_json_sms_gateway_is_reached_over_tcp(healthy, settings):
    with socket.socket() as listener:  # a gateway that accepts connections
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        settings.GLOCAL_SMS_PROVIDER = "json"
        settings.GLOCAL_SMS_TOKEN = "gateway-token"
        settings.GLOCAL_SMS_URL = f"http://127.0.0.1:{port}/send"
        lines, status = run_check(*SKIP_DJANGO)
    assert status == 0
    assert lines["sms"] == ("ok", f"json gateway http://127.0.0.1:{port}/send reachable (TCP)")


@pytest.mark.django_db
def test_an_sms_gateway_on_a_closed_port_or_half_configured_fails(healthy, settings):
    port = closed_port()
    settings.GLOCAL_SMS_PROVIDER = "json"
    settings.GLOCAL_SMS_TOKEN = "gateway-token"
    settings.GLOCAL_SMS_URL = f"http://127.0.0.1:{port}/send"
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 1
    assert lines["sms"] == (
        "FAIL",
        f"json gateway: cannot connect to 127.0.0.1:{port} (Connection refused): "
        "check its URL and the firewall",
    )
    settings.GLOCAL_SMS_TOKEN = ""
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["sms"] == ("FAIL", "JSON gateway without GLOCAL_SMS_TOKEN: set them")
    settings.GLOCAL_SMS_PROVIDER, settings.TWILIO_ACCOUNT_SID = "twilio", ""
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["sms"][0] == "FAIL" and "TWILIO_ACCOUNT_SID" in lines["sms"][1]


@pytest.mark.django_db
def test_the_public_url_must_be_https_and_public_when_judged_as_production(healthy, settings):
    settings.GLOCAL_PUBLIC_URL = "http://127.0.0.1:8000"
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["public-url"] == ("ok", "http://127.0.0.1:8000")  # the demo's
    lines, status = run_check(*SKIP_DJANGO, "--deploy")
    assert status == 1
    assert lines["public-url"][0] == "FAIL" and "https://" in lines["public-url"][1]
    settings.GLOCAL_PUBLIC_URL = "https://glocal.example"
    lines, _status = run_check(*SKIP_DJANGO, "--deploy")
    assert lines["public-url"] == ("ok", "https://glocal.example")
    settings.GLOCAL_PUBLIC_URL = "glocal.example"
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["public-url"][0] == "FAIL"


@pytest.mark.django_db
def test_a_directory_that_cannot_be_written_fails(healthy, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = blocker / "media"  # under a file: can never be created
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 1
    assert lines["media"][0] == "FAIL" and lines["media"][1].endswith("fix it or set GLOCAL_MEDIA_ROOT")
    assert lines["data"][0] == "ok"
    assert not any(Path(settings.DATA_DIR).iterdir())  # the probe file is removed


@pytest.mark.django_db
def test_a_stale_or_missing_worker_heartbeat_fails(healthy, settings):
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    lines, status = run_check(*SKIP_DJANGO)
    assert status == 1
    assert lines["worker"][0] == "FAIL" and lines["worker"][1].startswith("last heartbeat 600 s ago")
    WorkerHeartbeat.objects.all().delete()
    lines, _status = run_check(*SKIP_DJANGO)
    assert lines["worker"] == ("FAIL", "no worker has ever beaten: start `glocal worker` (or `glocal serve`)")
    lines, status = run_check(*SKIP_DJANGO, "--skip", "worker")
    assert status == 0 and "worker" not in lines


@pytest.mark.django_db
def test_django_system_checks_are_part_of_it(healthy, settings):
    results = install_checks.check_django(deploy=False)
    assert [r.status for r in results] == ["ok"], [r.line() for r in results]
    settings.GLOCAL_SENDER_DOMAIN = "glocal.localhost"
    deploy = install_checks.check_django(deploy=True)
    assert any(r.status == "FAIL" and r.detail.startswith("glocal.E002") for r in deploy)


def test_glocal_check_is_this_command_and_exits_1_on_a_failure(tmp_path):
    """The real CLI, in its own process, against a database whose migrations were never applied."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "GLOCAL_DATA_DIR": str(tmp_path),
        "GLOCAL_SMTP_HOST": "127.0.0.1",
        "GLOCAL_SMTP_PORT": str(closed_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "glocal.cli", "check", "--skip", "django"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok    database    SQLite ")
    assert lines[1].startswith("FAIL  migrations  ") and lines[1].endswith("run `glocal migrate`")
    assert any(line.startswith("FAIL  smtp        cannot connect to 127.0.0.1:") for line in lines)
    assert "check(s) failed: migrations" in done.stderr
