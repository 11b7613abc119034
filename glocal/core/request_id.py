"""The id of the current request (or background job) on every log record.

``RequestIdMiddleware`` takes the ``X-Request-ID`` the reverse proxy sent when it is a sane token (letters,
digits, ``. _ : -``, at most 128 characters), otherwise makes one, answers it in the response's
``X-Request-ID`` header and keeps it in a context variable until the response is closed. ``RequestIdFilter``
(attached to the log handlers in ``LOGGING``) copies it, and the running job's id, onto every record:
``%(request_id)s`` / ``%(job_id)s`` in a text format, ``request_id`` / ``job_id`` keys in the JSON one
(``glocal.core.observability.JsonFormatter``). Background jobs bind their id with :func:`bind_job`.

Imported by the logging configuration, before the apps are loaded: no model import here.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NONE = "-"  # what a record outside any request or job shows

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("glocal_request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("glocal_job_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def incoming_or_new(value: str | None) -> str:
    """The proxy's id when it is a sane token, else a new one (32 hex digits)."""
    if value and SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in ``MIDDLEWARE``: every later middleware's and the view's log lines carry the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = incoming_or_new(request.headers.get(HEADER))
        request.request_id = rid  # type: ignore[attr-defined]
        # Kept until the response is closed (request_finished, below), not reset on the way out: Django
        # logs a 4xx/5xx answer ("Not Found: …", "Internal Server Error: …") after the middlewares.
        request_id_var.set(rid)
        response = self.get_response(request)
        response[HEADER] = rid
        return response


def _request_finished(**kwargs: object) -> None:
    request_id_var.set(None)


request_finished.connect(_request_finished, dispatch_uid="glocal.core.request_id")


@contextmanager
def bind_job(job_id: int | str) -> Iterator[None]:
    """Log records written inside carry ``job_id`` (the embedded worker's and Celery's job runs)."""
    token = job_id_var.set(str(job_id))
    try:
        yield
    finally:
        job_id_var.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` to every record (``-`` outside a request or a job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or NONE
        if not hasattr(record, "job_id"):
            record.job_id = job_id_var.get() or NONE
        return True
