"""HQ's marketing rules on segments: who sets the guardrails (``marketing.rules``), age as a threshold
(at least, at most, between; the contacts without a birth date said, not dropped silently), HQ's
required criteria (e.g. age at least 18 on every local segment), the catchment criterion."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from glocal.audience import services as audience
from glocal.audience.models import Contact
from glocal.core.scope import activate
from glocal.network import services as network_services
from glocal.network.models import Entity
from glocal.targeting import segments
from glocal.targeting.models import Segment, SegmentPolicy


def test_an_hq_marketer_sets_the_guardrails(login, network):
    client = login(network, "hq_marketer")
    assert client.get(reverse("targeting:segments")).content.count(b"/segments/guardrails/") == 1
    answer = client.post(
        reverse("targeting:segment_policy"),
        {"allowed_fields": ["city"], "allowed_operators": ["eq"], "max_criteria": "2"},
    )
    assert answer.status_code == 302
    policy = SegmentPolicy.unscoped.get()
    assert (policy.allowed_fields, policy.max_criteria) == (["city"], 2)


@pytest.mark.parametrize("persona", ["regional", "store_a", "viewer"])
def test_the_service_refuses_the_guardrails_to_others(network, persona):
    with activate(network.scope(persona)), pytest.raises(ValidationError, match="Only head office"):
        segments.policy_update(allowed_fields=["city"], allowed_operators=["eq"], max_criteria=12)
    assert not SegmentPolicy.unscoped.exists()


# -- age as a threshold -------------------------------------------------------------------------------


def _contact(network, store, **fields):
    with activate(network.scope("hq_admin")):
        contact = audience.contact_create(fields=fields, owner=store).contact
    assert contact is not None
    return contact


def _born(years: int, days: int = 0) -> datetime.date:
    """The birth date of someone ``years`` old today, ``days`` before (older) or after (younger) their
    birthday."""
    today = timezone.localdate()
    return segments._years_ago(today, years) - datetime.timedelta(days=days)


@pytest.fixture
def ages(network):
    store = network.store_a
    for name, born in (
        ("Seventeen", _born(18) + datetime.timedelta(days=1)),  # 18 tomorrow
        ("Eighteen", _born(18)),  # 18 today
        ("Thirty", _born(30, days=100)),
        ("Seventy", _born(70)),
    ):
        _contact(network, store, last_name=name, email=f"{name.lower()}@example.test", birth_date=born)
    for n in range(3):
        _contact(network, store, last_name=f"Unknown{n}", email=f"u{n}@example.test", city="Lille")
    _contact(network, network.store_b, last_name="OtherStore", email="o@example.test")


def _names(network, persona, criteria) -> set[str]:
    with activate(network.scope(persona)):
        return set(segments.segment_contacts(criteria).values_list("last_name", flat=True))


def test_age_at_least_at_most_between(network, ages):
    def names(op, value):
        return _names(network, "hq_admin", [{"field": "age", "op": op, "value": value}])

    assert names("gte", 18) == {"Eighteen", "Thirty", "Seventy"}
    assert names("gte", "18") == {"Eighteen", "Thirty", "Seventy"}
    assert names("lte", 17) == {"Seventeen"}
    assert names("lte", 30) == {"Seventeen", "Eighteen", "Thirty"}
    assert names("between", [18, 30]) == {"Eighteen", "Thirty"}
    assert names("between", "18 - 30") == {"Eighteen", "Thirty"}
    assert names("between", "31 à 69") == set()
    with activate(network.scope("hq_admin")):
        assert segments.validate_criteria([{"field": "age", "op": "between", "value": "18–30"}]) == [
            {"field": "age", "op": "between", "value": [18, 30]}
        ]


@pytest.mark.parametrize(
    ("op", "value", "message"),
    [
        ("gte", "adult", "Give an age"),
        ("gte", "18-30", "Give an age"),
        ("gte", "-3", "Give an age"),
        ("gte", "200", "at most 150"),
        ("between", "18", "Give two ages"),
        ("between", "30-18", "must not be above"),
        ("between", "18.5-30", "Give two ages"),
        ("eq", "18", "does not apply"),
    ],
)
def test_bad_ages_are_refused(network, op, value, message):
    with activate(network.scope("hq_admin")), pytest.raises(ValidationError, match=message):
        segments.compile_criteria([{"field": "age", "op": op, "value": value}])


def test_of_age_on_the_first_of_march_when_born_on_the_twenty_ninth_of_february(network):
    leap = _contact(network, network.store_a, last_name="Leap", birth_date=datetime.date(2008, 2, 29))
    with activate(network.scope("hq_admin")):
        for today, adult in (
            (datetime.date(2026, 2, 28), False),
            (datetime.date(2026, 3, 1), True),
            (datetime.date(2028, 2, 28), True),
            (datetime.date(2026, 2, 27), False),
        ):
            found = Contact.objects.filter(segments._age_between(18, None, today), pk=leap.pk).exists()
            assert found is adult, today
        # a leap day today: 18 years before is the 28th of February of a common year
        q = segments._age_between(18, None, datetime.date(2028, 2, 29))
        born_28 = _contact(
            network, network.store_a, last_name="Born28", birth_date=datetime.date(2010, 2, 28)
        )
        born_1 = _contact(network, network.store_a, last_name="Born1", birth_date=datetime.date(2010, 3, 1))
        assert set(Contact.objects.filter(q, pk__in=[born_28.pk, born_1.pk])) == {born_28}


def test_the_contacts_without_a_birth_date_are_counted_as_left_out(network, ages):
    _require(network, [], fields=["age", "age_band", "city"], ops=["gte", "in", "eq"], max=3)
    crit = [{"field": "age", "op": "gte", "value": 18}]
    with activate(network.scope("store_a")):
        assert segments.segment_left_out(crit) == {"birth_date": 3}
        # only those the other criteria keep
        assert segments.segment_left_out(crit + [{"field": "city", "op": "eq", "value": "Lille"}]) == {
            "birth_date": 3
        }
        assert segments.segment_left_out(crit + [{"field": "city", "op": "eq", "value": "Arras"}]) == {}
        assert segments.segment_left_out(crit, "email") == {}  # none reachable by email (no consent)
        assert segments.segment_left_out([{"field": "city", "op": "eq", "value": "Lille"}]) == {}
        band = [{"field": "age_band", "op": "in", "value": "under_25, 25_34"}]
        assert segments.segment_left_out(band) == {"birth_date": 3}
    with activate(network.scope("hq_admin")):
        assert segments.segment_left_out(crit) == {"birth_date": 4}


def test_the_live_count_says_who_is_left_out(login, network, ages):
    _require(network, [], fields=["age"], ops=["gte"])
    client = login(network, "store_a")
    count = client.post(
        reverse("targeting:segment_count"), {"field": ["age"], "op": ["gte"], "value": ["18"], "days": [""]}
    )
    text = count.content.decode()
    assert 'data-testid="segment-total">3<' in text
    assert "3 contacts have no birth date and are not counted." in text


def test_the_left_out_count_is_grouped_in_the_readers_language(network):
    from glocal.targeting.segment_views import _left_out_text

    assert _left_out_text("birth_date", 1204) == "1,204 contacts have no birth date and are not counted."
    with translation.override("fr"):
        assert _left_out_text("birth_date", 1204).replace("\u202f", "\xa0") == (
            "1\xa0204 contacts n'ont pas de date de naissance et ne sont pas comptés."
        )


# -- HQ's required criteria -----------------------------------------------------------------------------


ADULTS = [{"field": "age", "op": "gte", "value": 18}]


def _require(network, required, persona="hq_marketer", **policy):
    with activate(network.scope(persona)):
        return segments.policy_update(
            allowed_fields=policy.get("fields", ["city", "tag"]),
            allowed_operators=policy.get("ops", ["eq", "has"]),
            max_criteria=policy.get("max", 2),
            required_criteria=required,
        )


def test_hq_requires_an_age_on_every_local_segment(network, ages):
    policy = _require(network, [{"field": "age", "op": "gte", "value": "18"}])
    assert policy.required_criteria == ADULTS
    city = {"field": "city", "op": "eq", "value": "Lille"}
    with activate(network.scope("store_a")):
        with pytest.raises(ValidationError, match="Head office requires “Age at least 18” on every segment"):
            segments.compile_criteria([city])
        assert segments.segment_contacts(ADULTS).count() == 3  # the required field and operator are allowed
        segments.validate_criteria([{"field": "age", "op": "gte", "value": 21}, city])  # stricter
        segments.validate_criteria([*ADULTS, city, {"field": "tag", "op": "has", "value": "vip"}])  # 2 + 1
        with pytest.raises(ValidationError, match="does not allow the operator"):
            segments.validate_criteria([{"field": "age", "op": "lte", "value": 30}, *ADULTS])
        with pytest.raises(ValidationError, match="Head office requires"):
            segments.segment_save(name="Lille", criteria=[city])
    with activate(network.scope("regional")), pytest.raises(ValidationError, match="Head office requires"):
        segments.validate_criteria([])
    with activate(network.scope("hq_admin")):
        segments.validate_criteria([city])  # HQ's own segments are not bound


def test_a_stricter_age_range_meets_the_requirement(network):
    _require(
        network, ADULTS, fields=["age", "age_band"], ops=["gte", "lte", "between", "eq", "ne", "in"], max=3
    )
    with activate(network.scope("store_a")):
        for ok in (
            [{"field": "age", "op": "between", "value": "25-34"}],
            [{"field": "age", "op": "gte", "value": 16}, {"field": "age", "op": "gte", "value": 18}],
            [{"field": "age", "op": "gte", "value": 20}, {"field": "age", "op": "lte", "value": 30}],
            [{"field": "age_band", "op": "in", "value": "25_34, 65_plus"}],
        ):
            segments.validate_criteria(ok)
        for refused in (
            [{"field": "age", "op": "between", "value": "16-30"}],
            [{"field": "age", "op": "lte", "value": 30}],
            [{"field": "age_band", "op": "eq", "value": "under_25"}],
            [{"field": "age_band", "op": "ne", "value": "under_25"}],
        ):
            with pytest.raises(ValidationError, match="Head office requires"):
                segments.validate_criteria(refused)
    _require(
        network, [{"field": "age", "op": "between", "value": "18-65"}], fields=["age"], ops=["gte", "lte"]
    )
    with activate(network.scope("store_a")):
        segments.validate_criteria(
            [{"field": "age", "op": "gte", "value": 20}, {"field": "age", "op": "lte", "value": 60}]
        )
        with pytest.raises(ValidationError, match="“Age between 18 and 65”"):
            segments.validate_criteria([{"field": "age", "op": "gte", "value": 20}])


def test_required_criteria_are_checked_when_hq_saves_them(network):
    with activate(network.scope("hq_admin")):
        with pytest.raises(ValidationError, match="Give an age"):
            segments.policy_update(
                allowed_fields=["city"],
                allowed_operators=["eq"],
                max_criteria=2,
                required_criteria=[{"field": "age", "op": "gte", "value": "adult"}],
            )
        with pytest.raises(ValidationError, match="At most 3 criteria can be required"):
            segments.policy_update(
                allowed_fields=["city"],
                allowed_operators=["eq"],
                max_criteria=2,
                required_criteria=ADULTS * 4,
            )
        assert not SegmentPolicy.unscoped.exists()
        segments.policy_update(
            allowed_fields=["city"], allowed_operators=["eq"], max_criteria=2, required_criteria=ADULTS
        )
        segments.policy_update(allowed_fields=["city"], allowed_operators=["eq"], max_criteria=3)  # kept
    assert SegmentPolicy.unscoped.get().required_criteria == ADULTS


def test_the_guardrails_page_sets_required_criteria_and_the_builder_starts_with_them(login, network, ages):
    client = login(network, "hq_marketer")
    page = client.get(reverse("targeting:segment_policy"))
    assert b'data-testid="required-criteria"' in page.content
    data = {
        "allowed_fields": ["city"],
        "allowed_operators": ["eq"],
        "max_criteria": "2",
        "required-field_0": "age",
        "required-op_0": "gte",
        "required-value_0": "18",
        "required-field_1": "",
        "required-op_1": "eq",
        "required-value_1": "",
    }
    refused = client.post(reverse("targeting:segment_policy"), {**data, "required-value_0": "adult"})
    assert refused.status_code == 200 and "Give an age" in refused.content.decode()
    assert not SegmentPolicy.unscoped.exists()
    assert client.post(reverse("targeting:segment_policy"), data).status_code == 302
    assert SegmentPolicy.unscoped.get().required_criteria == ADULTS
    page = client.get(reverse("targeting:segment_policy")).content.decode()
    assert 'name="required-value_0" value="18"' in page

    store = login(network, "store_a")
    builder = store.get(reverse("targeting:segment_new")).content.decode()
    assert "Head office requires on every segment (or stricter): Age at least 18" in builder
    assert builder.count('data-testid="criterion"') == 2  # the required one, then an empty one
    assert '<option value="age" selected>' in builder
    count = store.post(
        reverse("targeting:segment_count"),
        {"field": ["city"], "op": ["eq"], "value": ["Lille"], "days": [""]},
    )
    assert "Head office requires “Age at least 18” on every segment." in count.content.decode()
    saved = store.post(
        reverse("targeting:segment_new"),
        {"name": "Adults", "field": ["age"], "op": ["gte"], "value": ["18"], "days": [""], "save": "1"},
    )
    assert saved.status_code == 302
    assert Segment.unscoped.get().criteria == ADULTS


# -- catchment: the contact's postcode among its store's catchment postcodes -------------------------------

IN_AREA = [{"field": "catchment", "op": "eq", "value": True}]
OUT_OF_AREA = [{"field": "catchment", "op": "eq", "value": False}]


@pytest.fixture
def areas(network):
    Entity.unscoped.filter(pk=network.store_a.pk).update(catchment_postcodes=["59000", " 59800", "59800"])
    Entity.unscoped.filter(pk=network.store_b.pk).update(catchment_postcodes=["06000"])
    for name, store, postcode in (
        ("AIn", network.store_a, "59000"),
        ("AInSpaced", network.store_a, " 59800 "),
        ("AOut", network.store_a, "62000"),
        ("BIn", network.store_b, "06000"),
        ("BOut", network.store_b, "59000"),  # store A's area, not its own store's
        ("A2", network.store_a2, "59000"),  # store A2 has no catchment area
    ):
        _contact(network, store, last_name=name, email=f"{name.lower()}@example.test", postcode=postcode)
    _contact(network, network.store_a, last_name="ANone", email="anone@example.test")


def test_in_and_out_of_the_stores_catchment_area(network, areas):
    assert not SegmentPolicy.unscoped.exists()  # stores may use the catchment by default
    assert _names(network, "hq_admin", IN_AREA) == {"AIn", "AInSpaced", "BIn"}
    assert _names(network, "hq_admin", OUT_OF_AREA) == {"AOut", "BOut"}
    assert _names(network, "regional", IN_AREA) == {"AIn", "AInSpaced"}
    assert _names(network, "store_b", IN_AREA) == {"BIn"}
    assert _names(network, "store_a", [{"field": "catchment", "op": "eq", "value": "yes"}]) == {
        "AIn",
        "AInSpaced",
    }
    with activate(network.scope("hq_admin")):
        both = IN_AREA + [{"field": "city", "op": "eq", "value": "Nowhere"}]
        assert segments.segment_contacts(both).count() == 0


def test_the_count_and_the_audience_use_the_same_compiled_condition(network, areas):
    with activate(network.scope("hq_admin")):
        by_store = segments.segment_counts_by_store(IN_AREA)
        assert by_store == {network.store_a.pk: 2, network.store_b.pk: 1}
        assert sum(by_store.values()) == segments.segment_contacts(IN_AREA).count()
        compiled = segments.compile_criteria(IN_AREA)
        assert set(Contact.objects.filter(compiled.q)) == set(segments.segment_contacts(IN_AREA))


def test_a_store_edits_its_catchment_area_and_the_count_follows(network, areas):
    with activate(network.scope("hq_admin")):
        network_services.entity_update(
            entity=Entity.objects.get(pk=network.store_a2.pk),
            changes={"catchment_postcodes": ["59000"]},
            by_role="hq_admin",
        )
    assert _names(network, "hq_admin", IN_AREA) == {"AIn", "AInSpaced", "BIn", "A2"}


def test_contacts_the_catchment_cannot_judge_are_said(login, network, areas):
    with activate(network.scope("hq_admin")):
        assert segments.segment_left_out(IN_AREA) == {"postcode": 1, "catchment": 1}
        assert segments.segment_left_out(OUT_OF_AREA) == {"postcode": 1, "catchment": 1}
    with activate(network.scope("store_a")):
        assert segments.segment_left_out(IN_AREA) == {"postcode": 1}
    count = login(network, "regional").post(
        reverse("targeting:segment_count"),
        {"field": ["catchment"], "op": ["eq"], "value": ["true"], "days": [""]},
    )
    text = count.content.decode()
    assert 'data-testid="segment-total">2<' in text
    assert "1 contact has no postcode and is not counted." in text
    assert "1 contact belongs to a store without a catchment area (store profile) and is not counted." in text


def test_no_catchment_area_anywhere_matches_nobody(network):
    _contact(network, network.store_a, last_name="Somebody", postcode="59000")
    with activate(network.scope("hq_admin")):
        assert segments.segment_contacts(IN_AREA).count() == 0
        assert segments.segment_counts_by_store(IN_AREA) == {}
        assert segments.segment_left_out(IN_AREA) == {"catchment": 1}
