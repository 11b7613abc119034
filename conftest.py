"""Shared fixtures: the persona network every access test runs against.

Personas (Healthchecks' alice/bob/charlie pattern): HQ admin, HQ marketer, regional manager of region
N, manager of store A (region N), manager of store B (region S), staff of store A, viewer at HQ, and
the HQ admin of another organisation.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from glocal.accounts.models import User
from glocal.core.roles import Role
from glocal.core.scope import Scope, activate
from glocal.network import services
from glocal.network.models import Entity, EntityType, Membership, Organisation

# The session's one chromium (the ``browser`` fixture), shared by every browser test wherever it lives:
# Playwright refuses a second sync browser in the same session.
pytest_plugins = ["tests.browser.chromium"]


@dataclass
class Network:
    org: Organisation
    hq: Entity
    region_n: Entity
    region_s: Entity
    store_a: Entity
    store_a2: Entity
    store_b: Entity
    other_org: Organisation
    other_hq: Entity
    other_store: Entity
    users: dict[str, User]
    memberships: dict[str, Membership]

    def scope(self, persona: str) -> Scope:
        return self.memberships[persona].as_scope()


def _child(org: Organisation, parent: Entity, code: str, name: str, type_code: str, **fields) -> Entity:
    scope = Scope(organisation_id=org.pk, entity_id=parent.pk, entity_path=parent.path, role=Role.HQ_ADMIN)
    with activate(scope):
        etype = EntityType.objects.get(code=type_code)
        return services.entity_create(
            parent=parent, fields={"code": code, "name": name, "entity_type": etype, **fields}
        )


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language: a request through LocaleMiddleware leaves its language
    active in the thread, which would leak a French user's language into the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


def build_network() -> Network:
    org, hq = services.organisation_create(name="Maison Test", slug="maison-test")
    region_n = _child(org, hq, "R-N", "Région Nord", "region")
    region_s = _child(org, hq, "R-S", "Région Sud", "region")
    store_a = _child(org, region_n, "S-A", "Magasin A", "store", city="Lille", phone="+33320000001")
    store_a2 = _child(org, region_n, "S-A2", "Magasin A2", "store", city="Arras")
    store_b = _child(org, region_s, "S-B", "Magasin B", "store", city="Nice")
    other_org, other_hq = services.organisation_create(name="Autre", slug="autre")
    other_store = _child(other_org, other_hq, "S-A", "Autre magasin", "store")
    personas = {
        "hq_admin": (Role.HQ_ADMIN, hq),
        "hq_marketer": (Role.HQ_MARKETER, hq),
        "regional": (Role.REGIONAL_MANAGER, region_n),
        "store_a": (Role.LOCAL_MANAGER, store_a),
        "store_b": (Role.LOCAL_MANAGER, store_b),
        "staff_a": (Role.LOCAL_STAFF, store_a),
        "viewer": (Role.VIEWER, hq),
        "other_org": (Role.HQ_ADMIN, other_hq),
    }
    users, memberships = {}, {}
    for key, (role, entity) in personas.items():
        user = User.objects.create_user(f"{key}@example.test", "pw-correct-horse", full_name=key.title())
        users[key] = user
        memberships[key] = Membership.unscoped.create(
            user=user, organisation=entity.organisation, entity=entity, role=role
        )
    for entity in (hq, region_n, region_s, store_a, store_a2, store_b, other_hq, other_store):
        entity.refresh_from_db()
    return Network(
        org,
        hq,
        region_n,
        region_s,
        store_a,
        store_a2,
        store_b,
        other_org,
        other_hq,
        other_store,
        users,
        memberships,
    )


@pytest.fixture
def network(db) -> Network:
    return build_network()


@pytest.fixture
def login(client):
    """Log the test client in as a persona of ``network``."""

    def _login(network: Network, persona: str):
        client.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


class _Collector:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on a free loopback port; Django sends to it over SMTP."""
    from aiosmtpd.controller import Controller

    collector = _Collector()
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield collector
    finally:
        controller.stop()
