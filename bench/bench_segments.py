"""A1-SEG: a saved segment's counts for every store at once, through the criteria compiler.

Ours: :func:`glocal.targeting.segments.segment_counts_by_store` — criteria stored as data
(``tag has vip``, ``kind is customer``, ``last purchase within 365 days``), validated against the
allow-list, compiled to a Q, reachable on email (consent × address × opposition list), one GROUP BY
owner through the scoped ORM (HQ scope).
Reference: the same question as one hand-written SQL GROUP BY in the same run; results checked equal
before timing. Same data set as A1 (``bench.bench_audience.dataset``: 1M contacts / 500 stores, quick
20,000 / 50; ``A1_CONTACTS`` / ``A1_STORES`` override).
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
from typing import Any

from bench import Result, benchmark, interleaved

REFERENCE_SQL = """
SELECT c.owner_id, COUNT(*)
FROM audience_contact c
WHERE c.organisation_id = %s
  AND c.tags LIKE '%%|vip|%%'
  AND c.kind = 'customer'
  AND EXISTS (SELECT 1 FROM audience_purchase p WHERE p.contact_id = c.id AND p.date >= %s)
  AND c.consent_email IN ('opt_in', 'soft_opt_in', 'b2b') AND c.email <> ''
  AND NOT EXISTS (SELECT 1 FROM audience_suppression s WHERE s.organisation_id = c.organisation_id
                  AND s.channel = 'email' AND s.value_hash = c.email_hash)
GROUP BY c.owner_id
"""

CRITERIA = [
    {"field": "tag", "op": "has", "value": "vip"},
    {"field": "kind", "op": "eq", "value": "customer"},
    {"field": "last_purchase", "op": "within_days", "value": 365},
]


def measure(org: Any, runs: int = 5) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from glocal.core.scope import Scope, activate
    from glocal.network.models import Entity
    from glocal.targeting import segments

    root = Entity.unscoped.get(organisation=org, parent__isnull=True)
    hq = Scope(organisation_id=org.pk, entity_id=root.pk, entity_path=root.path, role="hq_admin")
    since = timezone.localdate() - datetime.timedelta(days=365)

    def ours() -> dict[int, int]:
        with activate(hq):
            return segments.segment_counts_by_store(CRITERIA, "email")

    def reference() -> dict[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(REFERENCE_SQL, [org.pk, since])
            return {row[0]: row[1] for row in cursor.fetchall()}

    if connection.vendor == "postgresql":  # the A1 data set analyses contacts, not purchases
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audience_purchase")
    mine, theirs = ours(), reference()
    if mine != theirs:
        raise AssertionError("segment_counts_by_store disagrees with the hand-written query")
    t_ours, t_ref = interleaved(ours, reference, runs=runs)

    # The live count a store manager sees in the builder: the same criteria in one store's scope.
    store = Entity.unscoped.get(pk=max(mine, key=lambda pk: mine[pk]))
    local = Scope(organisation_id=org.pk, entity_id=store.pk, entity_path=store.path, role="local_manager")

    def store_count() -> dict[int, int]:
        with activate(local):
            return segments.segment_counts_by_store(CRITERIA, "email")

    store_times = []
    store_count()
    for _ in range(runs):
        started = time.perf_counter()
        store_count()
        store_times.append(time.perf_counter() - started)
    return {
        "ours": t_ours,
        "reference": t_ref,
        "stores_counted": len(mine),
        "matching": sum(mine.values()),
        "store_live_count_ms": round(1000 * statistics.median(store_times), 2),
    }


@benchmark("A1-SEG")
def run(quick: bool) -> Result:
    from bench.bench_audience import _django, dataset

    _django()
    from django.db import connection

    stores = int(os.environ.get("A1_STORES", 50 if quick else 500))
    contacts = int(os.environ.get("A1_CONTACTS", 20_000 if quick else 1_000_000))
    org = dataset(stores, contacts)
    runs = 5
    figures = measure(org, runs=runs)
    return Result(
        id="A1-SEG",
        ours=figures.pop("ours"),
        reference=figures.pop("reference"),
        unit="s",
        target="≤ 1.5",
        dataset=f"{contacts} contacts over {stores} stores on {connection.vendor}",
        runs=runs,
        higher_is_better=False,
        notes=(
            f"{figures['matching']} reachable matching contacts over {figures['stores_counted']} stores; "
            f"a store's live count {figures['store_live_count_ms']} ms"
        ),
        extra=figures,
    )
