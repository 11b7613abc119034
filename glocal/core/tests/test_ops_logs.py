"""Request ids and structured logs: the id a request gets, the id on its log lines, JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from glocal.core import jobs
from glocal.core.observability import JsonFormatter, logging_config
from glocal.core.request_id import RequestIdFilter

log = logging.getLogger("glocal.test.ops")


def noisy(request: HttpRequest) -> HttpResponse:
    log.info("handling the page", extra={"store": "S-A"})
    try:
        raise ValueError("a handled problem")
    except ValueError:
        log.exception("it went wrong")
    return HttpResponse("ok")


urlpatterns = [path("noisy", noisy), path("", include("config.urls"))]


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """The console handler that settings.LOGGING configured (its filter included), writing to a buffer."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    old_stream, old_formatter = handler.setStream(buffer), handler.formatter
    try:
        yield buffer
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def json_console() -> None:
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    handler.setFormatter(JsonFormatter())


def test_a_sane_request_id_from_the_proxy_is_kept_and_answered():
    response = Client().get("/livez", HTTP_X_REQUEST_ID="req-2f1c.9:abc_DEF")
    assert response["X-Request-ID"] == "req-2f1c.9:abc_DEF"


@pytest.mark.parametrize("given", ["", "two words", "a" * 129, "id\nInjected: header", "<script>"])
def test_an_insane_or_missing_request_id_is_replaced(given):
    response = Client().get("/livez", HTTP_X_REQUEST_ID=given)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    other = Client().get("/livez")
    assert other["X-Request-ID"] != response["X-Request-ID"]  # one per request


def test_every_log_line_of_a_request_carries_its_id(settings, console):
    settings.ROOT_URLCONF = __name__
    Client().get("/noisy", HTTP_X_REQUEST_ID="proxy-id-1")
    Client().get("/nowhere", HTTP_X_REQUEST_ID="proxy-id-2")  # Django's own "Not Found" warning
    log.warning("outside any request")
    lines = console.getvalue().splitlines()
    mine = [line for line in lines if "handling the page" in line or "it went wrong" in line]
    assert len(mine) == 2 and all("[proxy-id-1]" in line for line in mine)
    assert any("[proxy-id-2]" in line and "Not Found: /nowhere" in line for line in lines)
    assert any("[-]" in line and "outside any request" in line for line in lines)


def test_json_lines_are_parseable_and_carry_the_request_id(settings, console):
    settings.ROOT_URLCONF = __name__
    json_console()
    response = Client().get("/noisy")
    records = [json.loads(line) for line in console.getvalue().splitlines()]
    info = next(r for r in records if r["message"] == "handling the page")
    assert info["request_id"] == response["X-Request-ID"] and info["job_id"] == "-"
    assert info["level"] == "INFO" and info["logger"] == "glocal.test.ops" and info["store"] == "S-A"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", info["time"])
    error = next(r for r in records if r["message"] == "it went wrong")
    assert error["level"] == "ERROR" and "ValueError: a handled problem" in error["exc_info"]


@pytest.mark.django_db
def test_a_background_job_logs_with_its_job_id(network, console):
    @jobs.job_handler("test.ops.logs")
    def _handler(job, report):
        logging.getLogger("glocal.test.job").warning("working on it")
        return {}

    job = jobs.enqueue("test.ops.logs", scope=network.scope("store_a"), params={}, by_user_id=None)
    json_console()
    jobs.run_job(job.pk, "w1")
    record = next(json.loads(line) for line in console.getvalue().splitlines() if "working on it" in line)
    assert record["job_id"] == str(job.pk) and record["request_id"] == "-"
    logging.getLogger("glocal.test.job").warning("after the job")
    after = json.loads(console.getvalue().splitlines()[-1])
    assert after["job_id"] == "-"


def test_glocal_log_format_json_selects_the_json_formatter_at_start_up():
    """A process started with GLOCAL_LOG_FORMAT=json writes JSON lines on the console; text otherwise."""
    code = "import django, logging; django.setup(); logging.getLogger('glocal.x').warning('started %s', 42)"
    root = Path(__file__).resolve().parents[3]
    out = {}
    for fmt in ("json", "text"):
        env = {**os.environ, "GLOCAL_LOG_FORMAT": fmt, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        out[fmt] = done.stderr.strip().splitlines()[-1]
    record = json.loads(out["json"])
    assert record["message"] == "started 42" and record["level"] == "WARNING" and record["request_id"] == "-"
    assert out["text"].endswith("WARNING glocal.x [-] started 42")


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="GLOCAL_LOG_FORMAT"):
        logging_config("xml", "INFO")


def test_the_filter_never_overwrites_an_explicit_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.request_id = "given"
    assert RequestIdFilter().filter(record)
    assert vars(record)["request_id"] == "given" and vars(record)["job_id"] == "-"


def test_sentry_is_optional(monkeypatch, caplog):
    """No DSN: nothing happens; a DSN without sentry-sdk installed: a warning, and the start goes on."""
    from glocal.core.observability import init_sentry

    assert init_sentry("") is False
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # as if not installed: its import fails
    with caplog.at_level(logging.WARNING, logger="glocal.core.observability"):
        assert init_sentry("https://key@sentry.example/1") is False
    assert "pip install sentry-sdk" in caplog.text
