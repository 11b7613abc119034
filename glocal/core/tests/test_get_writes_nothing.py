"""No GET writes anything: every page of the access matrix, opened by a store manager and by an HQ
admin, leaves every table as it was (rows counted, highest id, and every row's content) and adds no
audit event. Writes are POSTs through services; jobs and commands do the scheduled work (deadlines).

The routes and the persona network are the access matrix's (``tests/test_access_matrix.py``)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db.models import Max
from django.urls import reverse

from glocal.core.models import AuditEvent

# The access matrix's routes, helpers and fixtures (imported by name at run time: the matrix module is
# typed by its own checks, not by this app's).
matrix: Any = importlib.import_module("tests.test_access_matrix")
world = matrix.world  # the persona network, built once for this module
network = matrix.network

# Django's own bookkeeping, not Glocal's data: a login session is touched by any request.
BOOKKEEPING = {"django_session"}

# A download of personal data is recorded (who took what, when): the access log of the GDPR file,
# not a change of anything the users see. These GETs add exactly that one audit event.
ACCESS_LOGGED = {"audience:export", "print:direct_mail_download"}

# A recipient's email client only sends GETs: the open pixel and the click redirect record the signal
# they exist for (the recipient's own action, not a page of the platform).
RECIPIENT_SIGNALS = {"recipient:open", "recipient:click"}

PERSONAS = ("store_a", "hq_admin")
GET_CASES = [
    (route, persona)
    for route, row in sorted(matrix.ROUTES.items())
    if row.get is not None and route not in RECIPIENT_SIGNALS
    for persona in PERSONAS
]


def fingerprint() -> dict[str, Any]:
    """Per model: the row count and the highest id (unscoped: every organisation's rows)."""
    prints = {}
    for model in apps.get_models():
        manager = getattr(model, "unscoped", model._default_manager)
        prints[model._meta.label] = (manager.count(), manager.aggregate(top=Max("pk"))["top"])
    return prints


def test_the_cases_cover_the_pages():
    assert len(GET_CASES) >= 2 * 60
    assert {"campaigns:edit", "campaigns:detail", "campaigns:operation", "network:settings"} <= {
        route for route, _ in GET_CASES
    }


@pytest.mark.parametrize(("route", "persona"), GET_CASES)
def test_a_get_writes_nothing(route, persona, world, network):
    row = matrix.ROUTES[route]
    kwargs = row.obj(network) if row.obj else {}
    url = reverse(route, kwargs=kwargs)
    before_print, before_rows = fingerprint(), matrix.db_state()
    audit = AuditEvent.unscoped.count()
    response = matrix.client_as(world, persona).get(url)
    assert response.status_code < 500, f"GET {route} as {persona}: {response.status_code}"
    added = AuditEvent.unscoped.count() - audit
    if route in ACCESS_LOGGED and response.status_code == 200:
        assert added == 1, f"GET {route} as {persona}: the download must be logged once"
    else:
        assert added == 0, f"GET {route} as {persona} added {added} audit event(s)"
    after_print, after_rows = fingerprint(), matrix.db_state()
    ignored = BOOKKEEPING | ({"core_auditevent"} if route in ACCESS_LOGGED else set())
    changed_models = sorted(
        label
        for label in after_print
        if after_print[label] != before_print[label] and apps.get_model(label)._meta.db_table not in ignored
    )
    assert not changed_models, f"GET {route} as {persona} changed {changed_models}"
    changed_tables = sorted(t for t in after_rows if t not in ignored and after_rows[t] != before_rows.get(t))
    assert not changed_tables, f"GET {route} as {persona} changed {changed_tables}"
