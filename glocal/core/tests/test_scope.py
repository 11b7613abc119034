from typing import cast

import pytest
from django.apps import apps
from django.db.models import Q

from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, ScopeMissing, TenantModel, activate
from glocal.network.models import Entity, Membership


def test_tenant_query_without_scope_raises(network):
    # given no active scope, when tenant data is queried, then it fails closed
    with pytest.raises(ScopeMissing):
        list(Entity.objects.all())
    with pytest.raises(ScopeMissing):
        Membership.objects.count()


def test_store_scope_sees_only_its_subtree(network):
    with activate(network.scope("store_a")):
        assert set(Entity.objects.values_list("code", flat=True)) == {"S-A"}
        assert not Entity.objects.filter(pk=network.store_b.pk).exists()


def test_region_scope_sees_its_stores(network):
    with activate(network.scope("regional")):
        assert set(Entity.objects.values_list("code", flat=True)) == {"R-N", "S-A", "S-A2"}


def test_hq_scope_never_sees_another_organisation(network):
    with activate(network.scope("hq_admin")):
        codes = list(Entity.objects.values_list("organisation_id", flat=True))
        assert set(codes) == {network.org.pk}
        assert not Entity.objects.filter(pk=network.other_store.pk).exists()
    with activate(network.scope("other_org")):
        assert set(Entity.objects.values_list("code", flat=True)) == {"HQ", "S-A"}


def test_unscoped_is_the_explicit_escape(network):
    assert Entity.unscoped.filter(code="S-A").count() == 2


# One scope_q per ownership shape: the two common rules live on OrganisationOwned / EntityOwned.

_SAMPLE = Scope(organisation_id=7, entity_id=9, entity_path="1/5/9/", role="store_manager")


def _conjuncts(q: Q) -> frozenset[tuple[str, object]] | None:
    """The leaves of ``q`` when it is a plain AND of lookups (however nested), else None."""
    if q.negated or (q.connector != Q.AND and len(q.children) > 1):
        return None
    leaves: set[tuple[str, object]] = set()
    for child in q.children:
        if isinstance(child, Q):
            inner = _conjuncts(child)
            if inner is None:
                return None
            leaves |= inner
        else:
            key, value = cast(tuple[str, object], child)
            leaves.add((key, value))
    return frozenset(leaves)


_SHAPES = {
    OrganisationOwned: _conjuncts(OrganisationOwned.scope_q(_SAMPLE)),
    EntityOwned: _conjuncts(EntityOwned.scope_q(_SAMPLE)),
}


def _tenant_models() -> list[type[TenantModel]]:
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def test_every_tenant_model_has_a_scope_rule():
    # given every concrete tenant model, then it inherits a ready-made shape or defines its own rule
    models = _tenant_models()
    assert len(models) > 40
    for model in models:
        own = any("scope_q" in vars(klass) for klass in model.__mro__[: model.__mro__.index(TenantModel)])
        assert own, f"{model.__name__}: inherit OrganisationOwned or EntityOwned, or define scope_q"


def test_no_model_writes_a_ready_made_shape_by_hand():
    # given a tenant model, then it either inherits a shape untouched, or its own rule is not a shape
    for model in _tenant_models():
        inherited = [base for base in _SHAPES if issubclass(model, base)]
        if inherited:
            owner = next(klass for klass in model.__mro__ if "scope_q" in vars(klass))
            assert owner is inherited[0], (
                f"{model.__name__} overrides {inherited[0].__name__}.scope_q: subclass TenantModel instead"
            )
            continue
        rule = _conjuncts(model.scope_q(_SAMPLE))
        for base, shape in _SHAPES.items():
            assert rule != shape, f"{model.__name__}.scope_q is {base.__name__}'s rule: inherit it instead"


def test_the_two_shapes():
    assert OrganisationOwned.scope_q(_SAMPLE) == Q(organisation_id=7)
    assert EntityOwned.scope_q(_SAMPLE) == Q(organisation_id=7, entity__path__startswith="1/5/9/")
