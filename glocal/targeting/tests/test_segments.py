"""Segments: allow-list compilation, guardrails (service and form), one-pass counts, partitioning."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from glocal.audience import services as audience
from glocal.audience.models import AttributeDefinition, Contact
from glocal.core.scope import activate
from glocal.targeting import segments
from glocal.targeting.models import Segment


def _contact(network, store, **fields) -> Contact:
    scope = network.scope("hq_admin")
    with activate(scope):
        contact = audience.contact_create(fields=fields, owner=store).contact
    assert contact is not None
    return contact


@pytest.fixture
def people(network):
    today = timezone.localdate()
    with activate(network.scope("hq_admin")):
        AttributeDefinition.unscoped.create(
            organisation=network.org, key="score", label="Score", field_type="number"
        )
        AttributeDefinition.unscoped.create(
            organisation=network.org, key="pet", label="Pet", field_type="choice", choices=["cat", "dog"]
        )
    a1 = _contact(
        network,
        network.store_a,
        last_name="A1",
        email="a1@example.test",
        city="Lille",
        postcode="59000",
        tags="vip, wine",
        birth_date=today.replace(year=today.year - 30),
        attributes={"score": 7, "pet": "cat"},
    )
    a2 = _contact(
        network, network.store_a, last_name="A2", email="a2@example.test", city="Lille", tags="wine"
    )
    a3 = _contact(network, network.store_a2, last_name="A3", email="a3@example.test", city="Arras")
    b1 = _contact(network, network.store_b, last_name="B1", email="b1@example.test", city="Lille", tags="vip")
    with activate(network.scope("hq_admin")):
        for contact, store in ((a1, network.store_a), (a1, network.store_a), (b1, network.store_b)):
            audience.purchase_record(
                contact=contact, entity=store, date=today - datetime.timedelta(days=10), amount=Decimal("40")
            )
        audience.purchase_record(
            contact=a2, entity=network.store_a, date=today - datetime.timedelta(days=400), amount=Decimal("5")
        )
        for c in (a1, b1):
            audience.consent_record(contact=c, channel="email", status="opt_in", source="user")
    return {"a1": a1, "a2": a2, "a3": a3, "b1": b1}


def _names(network, persona, criteria) -> set[str]:
    with activate(network.scope(persona)):
        return set(segments.segment_contacts(criteria).values_list("last_name", flat=True))


def test_compiles_every_field_kind(network, people):
    today = timezone.localdate()
    assert _names(network, "hq_admin", [{"field": "tag", "op": "has", "value": "VIP"}]) == {"A1", "B1"}
    assert _names(network, "hq_admin", [{"field": "city", "op": "eq", "value": "lille"}]) == {
        "A1",
        "A2",
        "B1",
    }
    assert _names(network, "hq_admin", [{"field": "city", "op": "in", "value": "Arras, Nice"}]) == {"A3"}
    assert _names(network, "hq_admin", [{"field": "postcode", "op": "startswith", "value": "59"}]) == {"A1"}
    assert _names(network, "hq_admin", [{"field": "consent_email", "op": "eq", "value": "granted"}]) == {
        "A1",
        "B1",
    }
    assert _names(network, "hq_admin", [{"field": "kind", "op": "eq", "value": "customer"}]) == {
        "A1",
        "A2",
        "B1",
    }
    assert _names(network, "hq_admin", [{"field": "last_purchase", "op": "within_days", "value": 30}]) == {
        "A1",
        "B1",
    }
    assert _names(
        network, "hq_admin", [{"field": "last_purchase", "op": "not_within_days", "value": 30}]
    ) == {
        "A2",
        "A3",
    }
    before = (today - datetime.timedelta(days=100)).isoformat()
    assert _names(network, "hq_admin", [{"field": "last_purchase", "op": "before", "value": before}]) == {
        "A2"
    }
    assert _names(
        network, "hq_admin", [{"field": "purchase_count", "op": "gte", "value": 2, "days": 90}]
    ) == {"A1"}
    assert _names(network, "hq_admin", [{"field": "purchase_amount", "op": "gte", "value": "40"}]) == {
        "A1",
        "B1",
    }
    assert _names(network, "hq_admin", [{"field": "purchase_count", "op": "eq", "value": 0}]) == {"A2", "A3"}
    assert _names(network, "hq_admin", [{"field": "age_band", "op": "eq", "value": "25_34"}]) == {"A1"}
    assert _names(network, "hq_admin", [{"field": "attr:score", "op": "gte", "value": "5"}]) == {"A1"}
    assert _names(network, "hq_admin", [{"field": "attr:pet", "op": "eq", "value": "cat"}]) == {"A1"}
    both = [{"field": "tag", "op": "has", "value": "wine"}, {"field": "tag", "op": "has_not", "value": "vip"}]
    assert _names(network, "hq_admin", both) == {"A2"}


@pytest.mark.parametrize(
    "criterion",
    [
        {"field": "owner__organisation__name", "op": "eq", "value": "x"},
        {"field": "email", "op": "eq", "value": "a1@example.test"},
        {"field": "city", "op": "regex", "value": ".*"},
        {"field": "city", "op": "eq", "value": ""},
        {"field": "attr:nope", "op": "eq", "value": "1"},
        {"field": "purchase_count", "op": "gte", "value": "many"},
        {"field": "kind", "op": "eq", "value": "robot"},
    ],
)
def test_anything_outside_the_allow_list_is_refused(network, people, criterion):
    with activate(network.scope("hq_admin")), pytest.raises(ValidationError):
        segments.compile_criteria([criterion])


def test_a_store_only_counts_its_own_contacts(network, people):
    crit = [{"field": "city", "op": "eq", "value": "Lille"}]
    assert _names(network, "store_a", crit) == {"A1", "A2"}
    with activate(network.scope("store_a")):
        assert segments.segment_counts_by_store(crit) == {network.store_a.pk: 2}
    with activate(network.scope("regional")):
        assert segments.segment_counts_by_store([]) == {network.store_a.pk: 2, network.store_a2.pk: 1}


def test_counts_for_every_store_in_one_query(network, people):
    crit = [
        {"field": "tag", "op": "has", "value": "vip"},
        {"field": "last_purchase", "op": "within_days", "value": 30},
    ]
    with activate(network.scope("hq_admin")):
        segments.compile_criteria(crit)  # warm the policy / attribute lookups
        with CaptureQueriesContext(connection) as ctx:
            counts = segments.segment_counts_by_store(crit)
        contact_queries = [q for q in ctx.captured_queries if "audience_contact" in q["sql"]]
        assert len(contact_queries) == 1 and "GROUP BY" in contact_queries[0]["sql"]
        assert counts == {network.store_a.pk: 1, network.store_b.pk: 1}
        reachable = segments.segment_counts_by_store(
            [{"field": "city", "op": "eq", "value": "Lille"}], "email"
        )
        assert reachable == {network.store_a.pk: 1, network.store_b.pk: 1}


def test_guardrails_bind_stores_not_hq(network, people):
    with activate(network.scope("hq_admin")):
        segments.policy_update(
            allowed_fields=["city", "tag"], allowed_operators=["eq", "has"], max_criteria=2
        )
    too_many = [{"field": "city", "op": "eq", "value": "Lille"}] * 3
    with activate(network.scope("store_a")):
        with pytest.raises(ValidationError, match="At most 2 criteria"):
            segments.compile_criteria(too_many)
        with pytest.raises(ValidationError, match="does not allow targeting"):
            segments.compile_criteria([{"field": "age_band", "op": "eq", "value": "25_34"}])
        with pytest.raises(ValidationError, match="does not allow the operator"):
            segments.compile_criteria([{"field": "city", "op": "ne", "value": "Lille"}])
        with pytest.raises(ValidationError):
            segments.segment_save(name="x", criteria=[{"field": "kind", "op": "eq", "value": "customer"}])
        assert not Segment.unscoped.exists()
        assert set(segments.fields_for(network.scope("store_a"))) == {"city", "tag"}
    with activate(network.scope("hq_marketer")):
        segments.compile_criteria(too_many + [{"field": "age_band", "op": "eq", "value": "25_34"}])


def test_builder_saves_and_refuses_with_the_same_message(login, network, people):
    with activate(network.scope("hq_admin")):
        segments.policy_update(allowed_fields=["city"], allowed_operators=["eq"], max_criteria=1)
    client = login(network, "store_a")
    url = reverse("targeting:segment_new")
    refused = client.post(
        url,
        {"name": "Old", "field": ["kind"], "op": ["eq"], "value": ["customer"], "days": [""], "save": "1"},
    )
    assert refused.status_code == 200 and "does not allow targeting" in refused.content.decode()
    assert not Segment.unscoped.exists()
    saved = client.post(
        url, {"name": "Lille", "field": ["city"], "op": ["eq"], "value": ["Lille"], "days": [""], "save": "1"}
    )
    segment = Segment.unscoped.get()
    assert saved.status_code == 302 and segment.entity_id == network.store_a.pk
    assert segment.criteria == [{"field": "city", "op": "eq", "value": "Lille"}]
    count = client.post(
        reverse("targeting:segment_count"),
        {"field": ["city"], "op": ["eq"], "value": ["Lille"], "days": [""]},
    )
    assert b'data-testid="segment-total">2<' in count.content
    typing = client.post(
        reverse("targeting:segment_count"), {"field": ["city"], "op": ["eq"], "value": [""], "days": [""]}
    )
    assert b"1 criterion without a value yet is not counted" in typing.content  # no error while typing
    rows = client.post(
        reverse("targeting:segment_rows"),
        {"field": ["city"], "op": ["eq"], "value": ["Lille"], "days": [""], "add": "1"},
    )
    assert rows.status_code == 200 and rows.content.count(b'data-testid="criterion"') == 2
    # store B never sees store A's segment
    other = login(network, "store_b")
    assert other.get(reverse("targeting:segment", kwargs={"pk": segment.pk})).status_code == 404
    assert other.post(reverse("targeting:segment_delete", kwargs={"pk": segment.pk})).status_code == 404
    assert Segment.unscoped.filter(pk=segment.pk).exists()


def test_typed_attributes_date_and_boolean(network):
    with activate(network.scope("hq_admin")):
        AttributeDefinition.unscoped.create(
            organisation=network.org, key="joined", label="Joined", field_type="date"
        )
        AttributeDefinition.unscoped.create(
            organisation=network.org, key="club", label="Club", field_type="boolean"
        )
    _contact(network, network.store_a, last_name="Old", attributes={"joined": "2019-05-01", "club": "yes"})
    _contact(network, network.store_a, last_name="New", attributes={"joined": "2024-02-10", "club": "no"})
    _contact(network, network.store_a, last_name="None")
    assert _names(network, "hq_admin", [{"field": "attr:joined", "op": "before", "value": "2020-01-01"}]) == {
        "Old"
    }
    assert _names(network, "hq_admin", [{"field": "attr:joined", "op": "after", "value": "2020-01-01"}]) == {
        "New"
    }
    assert _names(network, "hq_admin", [{"field": "attr:club", "op": "eq", "value": "true"}]) == {"Old"}
    assert _names(network, "hq_admin", [{"field": "age_band", "op": "ne", "value": "25_34"}]) == set()
