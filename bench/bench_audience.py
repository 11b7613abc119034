"""A1: audience counts for every store at once, 1M contacts over 500 stores, on PostgreSQL.

Ours: :func:`glocal.audience.selectors.audience_counts_by_store` (consent on a channel, ownership,
the opposition list and a simple criterion — one GROUP BY through the scoped ORM, HQ scope).
Reference: one hand-written SQL GROUP BY over the same tables in the same run (LEFT JOIN on the
opposition list, COUNT … FILTER), results checked equal before timing.

Also measured (printed in ``extra``, target < 300 ms): the first page of one store's contact list —
the selector alone and the whole page through Django's test client (middleware, scope, template).

Database: ``DATABASE_URL`` when set, else ``postgres://postgres@127.0.0.1:5432/glocal_bench`` (created
and migrated when missing). The data set is deterministic and kept between runs (organisation
``bench-a1-<stores>-<contacts>``); seeding 1M contacts takes a few minutes the first time.
Sizes: full 1,000,000 contacts / 500 stores (``A1_CONTACTS``, ``A1_STORES`` override); quick 20,000 / 50.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench import Result, benchmark, interleaved

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/glocal_bench"

REFERENCE_SQL = """
SELECT c.owner_id,
       COUNT(*) AS total,
       COUNT(*) FILTER (WHERE c.consent_email IN ('opt_in', 'soft_opt_in', 'b2b')) AS consented,
       COUNT(*) FILTER (WHERE s.value_hash IS NOT NULL) AS suppressed,
       COUNT(*) FILTER (WHERE c.consent_email IN ('opt_in', 'soft_opt_in', 'b2b') AND c.email <> ''
                          AND s.value_hash IS NULL) AS reachable,
       COUNT(*) FILTER (WHERE c.consent_email IN ('opt_in', 'soft_opt_in', 'b2b') AND c.email <> ''
                          AND s.value_hash IS NULL AND c.tags LIKE '%%|vip|%%') AS matching
FROM audience_contact c
LEFT JOIN audience_suppression s
       ON s.organisation_id = c.organisation_id AND s.channel = 'email' AND s.value_hash = c.email_hash
WHERE c.organisation_id = %s
GROUP BY c.owner_id
"""


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "0"  # no query log while seeding a million rows
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = DEFAULT_DB
        _create_database(DEFAULT_DB)
    import django
    from django.conf import settings

    # DEBUG off (no query log) but plain static files: the page is measured without collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def dataset(stores: int, contacts: int) -> Any:
    """The benchmark organisation (created once, deterministic)."""
    from glocal.audience.models import Contact
    from glocal.demo import audience as seed
    from glocal.demo.network import seed_network
    from glocal.network.models import Organisation

    slug = f"bench-a1-{stores}-{contacts}"
    org = Organisation.objects.filter(slug=slug).first()
    if org is None:
        org = seed_network(name=f"Bench A1 {stores}", slug=slug, stores=stores, seed=1)
    have = Contact.unscoped.filter(organisation=org).count()
    if have < contacts:
        started = time.perf_counter()
        seed.generate(org, contacts - have, seed=1 + have)
        print(f"A1: seeded {contacts - have} contacts in {time.perf_counter() - started:.0f} s", flush=True)
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE audience_contact; ANALYZE audience_suppression")
    return org


def measure(org: Any, runs: int = 5) -> dict[str, Any]:
    """Time ours vs the reference on ``org``'s data; check they agree; time a store's first page."""
    from django.db import connection
    from django.db.models import Count, Q

    from glocal.audience import selectors
    from glocal.audience.models import Contact
    from glocal.core.scope import Scope, activate
    from glocal.network.models import Entity

    root = Entity.unscoped.get(organisation=org, parent__isnull=True)
    hq = Scope(organisation_id=org.pk, entity_id=root.pk, entity_path=root.path, role="hq_admin")
    criterion = Q(tags__contains="|vip|")

    def ours() -> dict[int, Any]:
        with activate(hq):
            return selectors.audience_counts_by_store(criterion, "email")

    def reference() -> dict[int, tuple[int, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(REFERENCE_SQL, [org.pk])
            return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}

    mine = {k: (v.total, v.consented, v.suppressed, v.reachable, v.matching) for k, v in ours().items()}
    theirs = reference()
    if mine != theirs:
        raise AssertionError("audience_counts_by_store disagrees with the hand-written query")
    t_ours, t_ref = interleaved(ours, reference, runs=runs)

    # One store's contact list, first page: the selector, then the whole page.
    store_id, _n = (
        Contact.unscoped.filter(organisation=org)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "owner_id")
        .first()
    )
    store = Entity.unscoped.get(pk=store_id)
    scope = Scope(organisation_id=org.pk, entity_id=store.pk, entity_path=store.path, role="local_manager")

    def first_page() -> Any:
        with activate(scope):
            return selectors.contact_page(selectors.filtered_contacts(), "")

    page_times = _times(first_page, runs)
    client = _client_for(org, store)
    view_times = _times(lambda: _get(client, "/customers/"), runs)
    hq_client = _client_for(org, root)
    hq_view_times = _times(lambda: _get(hq_client, "/customers/"), runs)
    count_times = _times(lambda: _get(client, "/customers/count/"), runs)
    return {
        "ours": t_ours,
        "reference": t_ref,
        "stores_counted": len(mine),
        "contacts": sum(v[0] for v in mine.values()),
        "store_page_selector_ms": round(1000 * statistics.median(page_times), 2),
        "store_page_view_ms": round(1000 * statistics.median(view_times), 2),
        "store_count_view_ms": round(1000 * statistics.median(count_times), 2),
        "hq_page_view_ms": round(1000 * statistics.median(hq_view_times), 2),
        "store_contacts": _n,
    }


def _times(func: Any, runs: int) -> list[float]:
    func()  # warm-up
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def _get(client: Any, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise AssertionError(f"{url}: {response.status_code}")


def _client_for(org: Any, entity: Any) -> Any:
    from django.test import Client

    from glocal.accounts.models import User
    from glocal.network.models import Membership

    role = "hq_admin" if entity.parent_id is None else "local_manager"
    email = f"bench-{role}-{entity.pk}@bench.glocal.test"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, "bench-pw", full_name=role
    )
    Membership.unscoped.get_or_create(user=user, organisation=org, entity=entity, role=role)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@benchmark("A1")
def run(quick: bool) -> Result:
    _django()
    from django.db import connection

    stores = int(os.environ.get("A1_STORES", 50 if quick else 500))
    contacts = int(os.environ.get("A1_CONTACTS", 20_000 if quick else 1_000_000))
    org = dataset(stores, contacts)
    runs = 5
    figures = measure(org, runs=runs)
    return Result(
        id="A1",
        ours=figures.pop("ours"),
        reference=figures.pop("reference"),
        unit="s",
        target="≤ 1.5",
        dataset=f"{contacts} contacts over {stores} stores on {connection.vendor}",
        runs=runs,
        higher_is_better=False,
        notes=(
            f"store list first page {figures['store_page_view_ms']} ms (selector "
            f"{figures['store_page_selector_ms']} ms, target < 300 ms), HQ first page "
            f"{figures['hq_page_view_ms']} ms, store count {figures['store_count_view_ms']} ms"
        ),
        extra=figures,
    )
