"""kill -9 sending workers during a campaign: nothing is lost (COMPLIANCE.md, "Delivery reliability").

A small run of ``bench/reliability.py`` on the suite's database engine: real ``glocal deliver`` processes,
so the database must be one they can reach — a SQLite file in ``tmp_path`` (the suite's in-memory test
database is invisible to another process) or, when the suite runs on PostgreSQL, a database the harness
creates on the same server and drops afterwards. The SMTP sink (aiosmtpd) runs in its own process and
records the Message-ID of every message it accepted.
"""

from __future__ import annotations

import os

from django.conf import settings

from bench import reliability


def _database() -> tuple[str, str]:
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return "postgres", reliability.server_url(os.environ["DATABASE_URL"])
    return "sqlite", reliability.DEFAULT_PG


def test_workers_killed_mid_campaign_lose_no_message_and_every_duplicate_is_explained(tmp_path):
    # given a 2,000-message campaign sent by 2 workers of 1 thread each, 3 of them killed with SIGKILL
    kind, server = _database()
    result = reliability.run_once(
        1, messages=2_000, database=kind, kills=3, workers=2, threads=1, seed=11, timeout=150,
        workdir=tmp_path, pg_server=server,
    )  # fmt: skip
    assert not result.timed_out and result.crashes == 0, result.error
    assert result.kills == 3
    # then every outbox row is SENT and the campaign is finished
    assert result.all_sent, result.statuses
    assert result.campaign_state == "sent"
    # and the sink received every stable id (0 lost), nothing else
    assert result.lost == 0 and result.unexpected == 0
    # a duplicate is only possible in the window between the final "." and the group commit of a killed
    # worker's "sent" marks: at most GLOCAL_SENT_COMMIT_MAX + 1 per kill (one sending thread per worker),
    # each on a row requeued after a kill
    assert result.duplicates == result.duplicates_requeued
    assert result.duplicates <= result.kills * (settings.GLOCAL_SENT_COMMIT_MAX + 1)
    assert result.ok
