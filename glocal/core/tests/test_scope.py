import pytest

from glocal.core.scope import ScopeMissing, activate
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
