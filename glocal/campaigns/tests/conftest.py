from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from glocal.audience.models import Contact, hash_value
from glocal.campaigns import services
from glocal.campaigns.models import Operation
from glocal.core.scope import activate
from glocal.creatives import rendering
from glocal.creatives.tests.conftest import Templates, publish_demo


@pytest.fixture(autouse=True)
def _fresh_render_caches():
    rendering.clear_caches()
    yield
    rendering.clear_caches()


@pytest.fixture
def templates(network) -> Templates:
    return demo_templates(network)


def demo_templates(network) -> Templates:
    """HQ's demo email and SMS templates, published; the stores get a postal address."""
    for store in (network.store_a, network.store_a2, network.store_b):
        store.address_line1 = "1 rue du Port"
        store.postcode = "59000"
        store.save(update_fields=["address_line1", "postcode"])
    return publish_demo(network)


_serial = itertools.count(1000)


def add_contacts(entity, n: int, *, consent: str = "opt_in", prefix: str = "c", **fields) -> list[Contact]:
    made = []
    for i in range(n):
        email, mobile = f"{prefix}{i}.{entity.pk}@example.test", f"+33612{next(_serial):06d}"
        made.append(
            Contact.unscoped.create(
                organisation=entity.organisation,
                owner=entity,
                owner_path=entity.path,
                last_name=f"{prefix}{i}",
                email=email,
                email_hash=hash_value(email),
                mobile=mobile,
                mobile_hash=hash_value(mobile),
                consent_email=consent,
                consent_sms=consent,
                **fields,
            )
        )
    return made


@dataclass
class Audiences:
    a: list[Contact]
    b: list[Contact]


@pytest.fixture
def contacts(network) -> Audiences:
    a = add_contacts(network.store_a, 5, kind="customer", tags="|vip|")
    a += add_contacts(network.store_a, 2, consent="", prefix="noconsent")
    b = add_contacts(network.store_b, 4)
    return Audiences(a, b)


def in_days(days: float, hour: int = 10) -> dt.datetime:
    base = timezone.now() + dt.timedelta(days=days)
    return base.replace(hour=hour, minute=0, second=0, microsecond=0)


def make_operation(network, templates: Templates, **overrides) -> Operation:
    fields = {
        "name": "Foire aux vins",
        "description": "La foire d'automne",
        "visible_from": timezone.localdate() - dt.timedelta(days=1),
        "subscription_deadline": in_days(3),
        "personalisation_deadline": in_days(5),
        "in_market_start": (timezone.now() + dt.timedelta(days=7)).date(),
        "in_market_end": (timezone.now() + dt.timedelta(days=20)).date(),
        "participation": Operation.Mode.OPT_IN,
        "approval_policy": "regional",
    }
    fields.update(overrides)
    version = templates.email.published_version()
    assert version is not None
    with activate(network.scope("hq_marketer")):
        op = services.operation_create(fields=fields)
        services.wave_add(
            operation=op,
            name="Email teaser",
            version=version,
            send_at=in_days(8),
            zone_defaults={"headline": "La foire aux vins arrive"},
        )
    return op


def publish(network, op: Operation) -> Operation:
    with activate(network.scope("hq_marketer")):
        return services.operation_publish(operation=Operation.objects.get(pk=op.pk))


ZERO = Decimal("0")
