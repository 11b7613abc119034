"""Work that must happen once although several processes run it: the deadline closing every worker's
tick runs. Three processes close the same passed deadlines at once, on one database: each store gets its
wave campaign once, submitted once (the operation's row lock, campaigns.services.deadlines._lock_open)."""

from __future__ import annotations

from collections import Counter

import pytest

from glocal.campaigns.models import Operation
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import in_days, make_operation, publish, templates  # noqa: F401
from glocal.core.tests.shared_process import cache_env, database_env, run_together


@pytest.mark.django_db(transaction=True)
def test_three_ticks_close_one_deadline_once(network, templates, tmp_path):  # noqa: F811
    op = publish(
        network,
        make_operation(
            network,
            templates,
            participation=Operation.Mode.OPT_OUT,
            subscription_deadline=in_days(-2),
            personalisation_deadline=in_days(-1),
        ),
    )
    env = {**database_env(tmp_path), **cache_env("database")}
    results = run_together("deadlines", [{}, {}, {}], env)
    totals: Counter[str] = Counter()
    for (result,) in results:
        totals.update(result)
    campaigns = rows(
        env,
        "SELECT e.code, c.state FROM campaigns_campaign c JOIN network_entity e ON e.id = c.entity_id"
        " WHERE c.operation_id = %s",
        op.pk,
    )
    submits = Counter(
        campaign_id
        for (campaign_id,) in rows(
            env,
            "SELECT t.campaign_id FROM campaigns_campaigntransition t"
            " JOIN campaigns_campaign c ON c.id = t.campaign_id"
            " WHERE c.operation_id = %s AND t.to_state = 'submitted'",
            op.pk,
        )
    )
    per_store = Counter(code for code, _state in campaigns)
    assert per_store == {"S-A": 1, "S-A2": 1, "S-B": 1}  # one wave campaign each, not one per tick
    assert {state for _code, state in campaigns} == {State.SCHEDULED}
    assert totals["defaults"] == 3  # HQ's defaults applied once per store, by whichever tick got there
    assert set(submits.values()) <= {1}  # never submitted twice


def rows(env: dict[str, str], sql: str, *params: int) -> list[tuple]:
    """What the workers wrote: in the SQLite file they shared, or in PostgreSQL's test database."""
    if env.get("GLOCAL_SQLITE_PATH"):
        import sqlite3

        with sqlite3.connect(env["GLOCAL_SQLITE_PATH"]) as db:
            return db.execute(sql.replace("%s", "?"), params).fetchall()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
