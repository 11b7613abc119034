"""The demo: ``seed_demo`` is what ``glocal demo``, ``glocal seed`` and ``make demo`` run.

Each step is called here, in this order (a later step reads what an earlier one wrote):

1. network: the organisation, its entity tree and a user for every role (:mod:`glocal.demo.network`);
2. creatives: the published email and SMS templates (:mod:`glocal.demo.creatives`);
3. audience: contacts, consents and purchases, ``contacts`` of them (:mod:`glocal.demo.audience`);
4. campaigns: the "Foire aux vins" operation, local campaigns, budgets, calendar slots; it needs the
   templates, and the contacts for its audience estimates (:mod:`glocal.demo.campaigns`);
5. brand: the brand kits, the library's photo, the print and social templates (:mod:`glocal.demo.brand`);
6. targeting: an HQ segment, a store's own segment and a rented list, each used by a store's campaign
   (:mod:`glocal.demo.targeting`).

Steps 2 to 6 act as the organisation's HQ admin. Same arguments, same data.
"""

from __future__ import annotations

from dataclasses import dataclass

from glocal.core.scope import activate
from glocal.network.models import Entity, Organisation
from glocal.reporting import rollup

from . import audience, brand, campaigns, creatives, targeting
from .network import DEMO_PASSWORD, hq_scope, seed_network, seed_users

__all__ = ["DEMO_PASSWORD", "SeedResult", "seed_demo"]


@dataclass
class SeedResult:
    organisation: Organisation
    entities: int
    users: list[tuple[str, str, str]]  # (email, role, entity name)


def seed_demo(
    *, stores: int = 30, regions: int | None = None, seed: int = 42, contacts: int = 0
) -> SeedResult:
    """The demo organisation with one user per persona, plus a second, isolated organisation."""
    org = seed_network(name="Maison Verte", slug="maison-verte", stores=stores, regions=regions, seed=seed)
    entities = Entity.unscoped.filter(organisation=org).count()
    users = seed_users(org)
    hq = Entity.unscoped.get(organisation=org, parent__isnull=True)
    with activate(hq_scope(org, hq)):
        creatives.seed_creatives(org)
        audience.seed_contacts(org, count=contacts, seed=seed)
        campaigns.seed_campaigns(org)
        brand.seed_brand(org)
        targeting.seed_targeting(org)
    rollup.run(settle=0)  # results pages read rollups: count what the seed wrote (the worker does it after)
    return SeedResult(organisation=org, entities=entities, users=users)
