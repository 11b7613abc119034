import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.network import services
from glocal.network.models import Entity, Membership


def test_move_carries_the_whole_subtree(network):
    with activate(network.scope("hq_admin")):
        services.entity_move(entity=network.region_n, new_parent=network.region_s)
        region_n = Entity.objects.get(pk=network.region_n.pk)
        store_a = Entity.objects.get(pk=network.store_a.pk)
    assert region_n.path == f"{network.region_s.path}{region_n.pk}/"
    assert region_n.depth == 2
    assert store_a.path == f"{region_n.path}{store_a.pk}/" and store_a.depth == 3
    # The regional manager of region N still sees exactly their stores after the move.
    membership = Membership.unscoped.get(pk=network.memberships["regional"].pk)
    with activate(membership.as_scope()):
        assert set(Entity.objects.values_list("code", flat=True)) == {"R-N", "S-A", "S-A2"}


def test_move_under_own_descendant_is_refused(network):
    with activate(network.scope("hq_admin")), pytest.raises(ValidationError):
        services.entity_move(entity=network.region_n, new_parent=network.store_a)
    with activate(network.scope("hq_admin")), pytest.raises(ValidationError):
        services.entity_move(entity=network.hq, new_parent=network.region_n)


def test_deactivate_keeps_history_and_blocks_access(network, client):
    with activate(network.scope("hq_admin")):
        with pytest.raises(ValidationError):
            services.entity_deactivate(entity=network.region_n)  # still has active stores
        services.entity_deactivate(entity=network.store_a)
        assert Entity.objects.filter(pk=network.store_a.pk, is_active=False).exists()
        assert AuditEvent.objects.filter(action="entity.deactivate", entity=network.store_a).exists()
    # The store manager's membership no longer opens anything.
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/").status_code == 403


def test_local_manager_edits_only_locally_editable_fields(network):
    with activate(network.scope("store_a")):
        entity = Entity.objects.get(pk=network.store_a.pk)
        services.entity_update(entity=entity, changes={"phone": "+33320000099"}, by_role="local_manager")
        with pytest.raises(PermissionDenied):
            services.entity_update(entity=entity, changes={"name": "Renamed"}, by_role="local_manager")
        with pytest.raises(PermissionDenied):
            services.entity_update(entity=entity, changes={"code": "X"}, by_role="local_manager")
    network.store_a.refresh_from_db()
    assert network.store_a.phone == "+33320000099"
    assert network.store_a.name == "Magasin A"


def test_roles_cannot_be_granted_above_ones_own(network):
    with activate(network.scope("store_a")), pytest.raises(PermissionDenied):
        services.membership_grant(
            user_id=network.users["staff_a"].pk,
            entity=network.store_a,
            role="hq_admin",
            by_user_id=network.users["store_a"].pk,
            by_role="local_manager",
        )


def test_local_manager_edit_form_shows_only_open_fields(network, login):
    client = login(network, "store_a")
    page = client.get(f"/network/entities/{network.store_a.pk}/edit/").content.decode()
    assert 'name="phone"' in page
    assert 'name="name"' not in page and 'name="code"' not in page
    # A forged field is refused as a whole and nothing changes.
    response = client.post(
        f"/network/entities/{network.store_a.pk}/edit/", {"phone": "+33320000055", "name": "Forged"}
    )
    assert response.status_code == 403
    network.store_a.refresh_from_db()
    assert network.store_a.name == "Magasin A" and network.store_a.phone == "+33320000001"


def test_switching_membership(network, login):
    user = network.users["store_a"]
    second = Membership.unscoped.create(
        user=user, organisation=network.org, entity=network.store_a2, role="local_manager"
    )
    client = login(network, "store_a")
    assert client.get(f"/network/entities/{network.store_a2.pk}/").status_code == 404
    assert client.post("/switch/", {"membership": second.pk}).status_code == 302
    assert client.get(f"/network/entities/{network.store_a2.pk}/").status_code == 200
    assert client.get(f"/network/entities/{network.store_a.pk}/").status_code == 404


def test_creating_an_entity_through_the_web_form(network, login):
    from glocal.network.models import EntityType

    client = login(network, "hq_admin")
    with activate(network.scope("hq_admin")):
        store_type = EntityType.objects.get(code="store")
    assert client.get(f"/network/entities/{network.region_n.pk}/new/").status_code == 200
    response = client.post(
        f"/network/entities/{network.region_n.pk}/new/",
        {
            "entity_type": store_type.pk,
            "code": "S-NEW",
            "name": "Magasin Neuf",
            "city": "Roubaix",
            "country": "FR",
            "timezone": "Europe/Paris",
            "hours_mon": "09:00-19:00",
            "catchment": "59100, 59200",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with activate(network.scope("hq_admin")):
        created = Entity.objects.get(code="S-NEW")
        assert response["Location"] == f"/network/entities/{created.pk}/"
        assert created.name == "Magasin Neuf" and created.city == "Roubaix"
        assert created.path == f"{network.region_n.path}{created.pk}/"
        assert created.opening_hours["mon"] == "09:00-19:00"
        assert created.catchment_postcodes == ["59100", "59200"]
        event = AuditEvent.objects.get(action="entity.create", entity_id=created.pk)
    assert "S-NEW" in event.summary
    assert event.actor_id == network.users["hq_admin"].pk


def test_editing_an_entity_through_the_web_form_saves_the_change(network, login):
    client = login(network, "store_a")
    response = client.post(f"/network/entities/{network.store_a.pk}/edit/", {"phone": "+33320000077"})
    assert response.status_code == 302
    network.store_a.refresh_from_db()
    assert network.store_a.phone == "+33320000077"
    with activate(network.scope("store_a")):
        event = AuditEvent.objects.get(action="entity.update", entity_id=network.store_a.pk)
    assert event.data == {"code": "S-A", "fields": ["phone"]}
