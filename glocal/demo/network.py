"""Demo step 1: the network (a deterministic French retail network) and a user for every role.

``seed_network`` writes what :func:`glocal.demo.generator.generate_network` draws; ``seed_users`` adds the
personas, the pilot group, a second, isolated organisation and the platform operator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from glocal.accounts.models import User
from glocal.core.roles import Role
from glocal.core.scope import Scope, activate, system_scope
from glocal.network import services
from glocal.network.models import Entity, EntityGroup, EntityType, Membership, Organisation

from .generator import SeedEntity, generate_network

DEMO_PASSWORD = "glocal-demo"  # noqa: S105 - documented demo credential
DEMO_DOMAIN = "demo.glocal.test"


def _entity_fields(item: SeedEntity) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "legal_name": item.legal_name,
        "address_line1": item.address_line1,
        "postcode": item.postcode,
        "city": item.city,
        "country": item.country,
        "phone": item.phone,
        "email": item.email,
        "website": item.website,
        "manager_name": item.manager_name,
        "manager_signature": f"{item.manager_name}\n{item.name}" if item.kind == "store" else "",
        "timezone": item.timezone,
        "latitude": Decimal(str(round(item.latitude, 6))),
        "longitude": Decimal(str(round(item.longitude, 6))),
        "catchment_postcodes": list(item.catchment_postcodes),
        "opening_hours": dict(item.opening_hours),
        "social_links": {"facebook": f"https://facebook.example/{item.code.lower()}"}
        if item.kind == "store"
        else {},
    }


def seed_network(
    *, name: str, slug: str, stores: int, regions: int | None = None, seed: int = 42
) -> Organisation:
    """Create an organisation and its network in bulk (thousands of stores in seconds)."""
    items = generate_network(stores=stores, regions=regions, seed=seed, brand=name)
    with transaction.atomic():
        org, root = services.organisation_create(
            name=name, slug=slug, hq_code=items[0].code, hq_name=items[0].name
        )
        types = {t.code: t for t in EntityType.unscoped.filter(organisation=org)}
        Entity.unscoped.filter(pk=root.pk).update(
            **{k: v for k, v in _entity_fields(items[0]).items() if k != "code"}
        )
        by_code = {root.code: Entity.unscoped.get(pk=root.pk)}
        for kind in ("region", "store"):
            level = [i for i in items if i.kind == kind]
            created = Entity.unscoped.bulk_create(
                [
                    Entity(
                        organisation=org,
                        entity_type=types[kind],
                        parent=by_code[i.parent_code or ""],
                        **_entity_fields(i),
                    )
                    for i in level
                ],
                batch_size=500,
            )
            for entity in created:
                parent = by_code[entity.parent.code]
                entity.path = f"{parent.path}{entity.pk}/"
                entity.depth = parent.depth + 1
                by_code[entity.code] = entity
            Entity.unscoped.bulk_update(created, ["path", "depth"], batch_size=500)
    return org


def hq_scope(org: Organisation, hq: Entity) -> Scope:
    """The scope seeding acts in: the organisation's HQ admin."""
    return system_scope(org.pk, root=hq)


def seed_users(org: Organisation) -> list[tuple[str, str, str]]:
    """One user per persona in ``org``, a pilot group, a second, isolated organisation and the platform
    operator. Returns the logins as ``(email, role, entity name)``."""
    entities = list(Entity.unscoped.filter(organisation=org).select_related("entity_type").order_by("path"))
    hq = entities[0]
    region_nodes = [e for e in entities if e.entity_type.code == "region"]
    stores_by_region = {r.pk: [e for e in entities if e.parent_id == r.pk] for r in region_nodes}
    region_a = region_nodes[0]
    region_b = next((r for r in region_nodes[1:] if stores_by_region[r.pk]), region_a)
    store_a = stores_by_region[region_a.pk][0]
    store_b = stores_by_region[region_b.pk][0]
    personas = [
        ("admin", "Alice Martin", Role.HQ_ADMIN, hq),
        ("marketer", "Hugo Bernard", Role.HQ_MARKETER, hq),
        ("region", "Claire Dubois", Role.REGIONAL_MANAGER, region_a),
        ("store-a", "Thomas Petit", Role.LOCAL_MANAGER, store_a),
        ("store-b", "Léa Moreau", Role.LOCAL_MANAGER, store_b),
        ("staff", "Nina Laurent", Role.LOCAL_STAFF, store_a),
        ("viewer", "Paul Girard", Role.VIEWER, hq),
    ]
    users = []
    with transaction.atomic():
        for key, full_name, role, entity in personas:
            email = f"{key}@{DEMO_DOMAIN}"
            user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name, language="fr")
            Membership.unscoped.create(user=user, organisation=org, entity=entity, role=role)
            users.append((email, str(role.label), entity.name))
        # Manager of two stores: switches between them.
        second = stores_by_region[region_a.pk][1] if len(stores_by_region[region_a.pk]) > 1 else None
        if second:
            Membership.unscoped.create(
                user=User.objects.get(email=f"store-a@{DEMO_DOMAIN}"),
                organisation=org,
                entity=second,
                role=Role.LOCAL_MANAGER,
            )
        pilot = EntityGroup.unscoped.create(organisation=org, code="pilot", name="Magasins pilotes")
        with activate(hq_scope(org, hq)):
            pilot.entities.set([store_a, store_b])
        other, other_root = services.organisation_create(name="Autre Enseigne", slug="autre-enseigne")
        other_user = User.objects.create_user(f"other@{DEMO_DOMAIN}", DEMO_PASSWORD, full_name="Otto Autre")
        Membership.unscoped.create(user=other_user, organisation=other, entity=other_root, role=Role.HQ_ADMIN)
        users.append((other_user.email, str(Role.HQ_ADMIN.label), other.name))
        operator = User.objects.create_superuser(
            f"operator@{DEMO_DOMAIN}", DEMO_PASSWORD, full_name="Platform operator"
        )
        users.append((operator.email, "platform operator (/ops/)", "—"))
    return users
