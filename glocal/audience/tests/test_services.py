import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from glocal.audience import selectors, services
from glocal.audience.models import (
    AppendOnlyError,
    AttributeDefinition,
    AudienceSettings,
    ConsentEvent,
    Contact,
    OwnershipTransfer,
    Purchase,
    Suppression,
)
from glocal.audience.services import PurchaseFact, choose_owner
from glocal.core.scope import activate
from glocal.network import services as network_services

OPT_IN = {
    "channel": "email",
    "status": "opt_in",
    "wording": "J'accepte les offres par email",
    "form_version": "v1",
}


def make(network, persona="store_a", **fields):
    with activate(network.scope(persona)):
        return services.contact_create(
            fields=fields, consents=[OPT_IN] if fields.get("email") else []
        ).contact


@pytest.mark.django_db
def test_create_normalises_and_dedupes(network):
    with activate(network.scope("store_a")):
        result = services.contact_create(
            fields={
                "first_name": "Anne",
                "last_name": "Durand",
                "email": " Anne@Example.TEST ",
                "mobile": "06 12 34 56 78",
            },
            consents=[OPT_IN],
        )
        contact = result.contact
        assert contact is not None
        assert contact.email == "anne@example.test"
        assert contact.mobile == "+33612345678"
        assert contact.owner_id == network.store_a.pk and contact.owner_path == network.store_a.path
        assert contact.consent_email == "opt_in"
        with pytest.raises(ValidationError):
            services.contact_create(fields={"email": "ANNE@example.test"})
        with pytest.raises(ValidationError):
            services.contact_create(fields={"email": "not-an-email"})
        with pytest.raises(ValidationError):
            services.contact_create(fields={"mobile": "12"})
    assert OwnershipTransfer.unscoped.filter(contact=contact, reason="created").count() == 1


@pytest.mark.django_db
def test_duplicate_in_another_store_reveals_nothing_by_default(network):
    anne = make(network, "store_a", email="anne@example.test")
    with activate(network.scope("store_b")):
        result = services.contact_create(
            fields={"email": "anne@example.test"},
            consents=[{"channel": "sms", "status": "opt_out"}],
        )
    assert result.contact is None and not result.created
    assert Contact.unscoped.count() == 1
    anne.refresh_from_db()
    # another store's customer is left untouched, even by an opt-out (it is the person's to give)
    assert anne.owner_id == network.store_a.pk and anne.consent_sms == ""
    # When HQ lets stores see that customers exist, the store is told (without a name).
    AudienceSettings.unscoped.update_or_create(organisation=network.org, defaults={"existence_visible": True})
    with activate(network.scope("store_b")), pytest.raises(ValidationError):
        services.contact_create(fields={"email": "anne@example.test"})


@pytest.mark.django_db
def test_consent_ledger_is_append_only_and_derives_current_state(network):
    anne = make(network, email="anne@example.test", mobile="0612345678")
    with activate(network.scope("store_a")):
        services.contact_opt_out(contact=anne, channel="email", source="user")
        event = ConsentEvent.objects.filter(contact=anne).first()
    assert event is not None
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    anne.refresh_from_db()
    assert anne.consent_email == "opt_out"
    statuses = list(
        ConsentEvent.unscoped.filter(contact=anne).order_by("id").values_list("status", "wording")
    )
    assert statuses == [("opt_in", OPT_IN["wording"]), ("opt_out", "")]
    assert services.is_suppressed(organisation_id=network.org.pk, channel="email", email="anne@example.test")
    assert not services.is_suppressed(organisation_id=network.org.pk, channel="sms", mobile="+33612345678")
    # Neither an import nor staff can make her reachable again; only her own confirmed act can.
    with activate(network.scope("store_a")):
        assert (
            services.consent_record(contact=anne, channel="email", status="opt_in", source="import") is None
        )
        assert (
            services.consent_record(
                contact=anne, channel="email", status="opt_in", source="store", wording="w"
            )
            is None
        )
        anne.refresh_from_db()
        assert anne.consent_email == "opt_out"
        assert services.consent_record(
            contact=anne,
            channel="email",
            status="opt_in",
            source="form",
            wording="w",
            confirmation=services.PersonalConfirmation(kind="double_opt_in", reference="pending #1"),
        )
    assert not services.is_suppressed(
        organisation_id=network.org.pk, channel="email", email="anne@example.test"
    )


@pytest.mark.django_db
def test_reachable_contacts_need_consent_address_and_no_suppression(network):
    anne = make(network, email="anne@example.test")
    make(network, email="bob@example.test")
    make(network, first_name="Carl")  # no address at all
    with activate(network.scope("store_a")):
        assert set(selectors.reachable_contacts("email").values_list("email", flat=True)) == {
            "anne@example.test",
            "bob@example.test",
        }
        # A suppression added behind the ledger's back (e.g. a hard bounce) is honoured too.
        Suppression.unscoped.create(
            organisation=network.org, channel="email", value_hash=anne.email_hash, reason="bounce"
        )
        assert list(selectors.reachable_contacts("email").values_list("email", flat=True)) == [
            "bob@example.test"
        ]
        assert selectors.reachable_contacts("sms").count() == 0


@pytest.mark.django_db
def test_erasure_keeps_hash_and_anonymised_ledger(network):
    anne = make(network, email="anne@example.test", mobile="+33612345678", first_name="Anne")
    with activate(network.scope("store_a")):
        services.purchase_record(
            contact=anne, entity=network.store_a, date=datetime.date(2026, 1, 5), amount=Decimal("12.50")
        )
    with activate(network.scope("hq_admin")):
        exported = services.contact_export(Contact.objects.get(pk=anne.pk))
        assert exported["profile"]["email"] == "anne@example.test"
        assert exported["consent_ledger"][0]["wording"] == OPT_IN["wording"]
        assert len(exported["purchases"]) == 1
        services.contact_erase(contact=Contact.objects.get(pk=anne.pk))
    assert not Contact.unscoped.filter(pk=anne.pk).exists()
    assert ConsentEvent.unscoped.filter(contact__isnull=True, ip__isnull=True).count() == 1
    assert Purchase.unscoped.filter(contact__isnull=True).count() == 1
    for channel in ("email", "sms", "postal", "phone"):
        assert services.is_suppressed(
            organisation_id=network.org.pk, channel=channel, email="anne@example.test", mobile="+33612345678"
        )
    # She comes back through an import-like creation: not reachable for marketing.
    with activate(network.scope("store_a")):
        again = services.contact_create(
            fields={"email": "anne@example.test"}, consents=[OPT_IN], source="import"
        ).contact
        assert again is not None
        assert again.consent_email == ""
        assert selectors.reachable_contacts("email").count() == 0


def facts(*rows):
    return [PurchaseFact(entity, datetime.date.fromisoformat(day), i) for i, (entity, day) in enumerate(rows)]


def test_choose_owner_rules_are_pure_and_total():
    purchases = facts(
        (1, "2026-01-01"), (2, "2026-02-01"), (1, "2026-03-01"), (2, "2026-03-05"), (2, "2025-01-01")
    )
    today = datetime.date(2026, 4, 1)
    assert choose_owner(rule="explicit", current=9, purchases=purchases) == 9
    assert choose_owner(rule="last_purchase", current=9, purchases=purchases) == 2
    assert choose_owner(rule="most_purchases", current=9, purchases=purchases, months=12, today=today) == 2
    assert choose_owner(rule="most_purchases", current=9, purchases=purchases, months=2, today=today) == 2
    tie = facts((1, "2026-03-01"), (2, "2026-02-01"))
    assert choose_owner(rule="most_purchases", current=9, purchases=tie, months=12, today=today) == 1
    assert choose_owner(rule="last_purchase", current=9, purchases=[]) == 9
    catch = {"59000": [4, 3]}
    assert choose_owner(rule="catchment", current=9, purchases=[], postcode="59000", catchments=catch) == 3
    assert choose_owner(rule="catchment", current=4, purchases=[], postcode="59000", catchments=catch) == 4
    assert choose_owner(rule="catchment", current=9, purchases=[], postcode="75001", catchments=catch) == 9


@pytest.mark.django_db
def test_purchases_move_ownership_and_hq_override_is_sticky(network):
    AudienceSettings.unscoped.create(organisation=network.org, ownership_rule="last_purchase")
    anne = make(network, "store_a", email="anne@example.test")
    today = timezone.localdate()
    with activate(network.scope("hq_admin")):
        services.purchase_record(contact=anne, entity=network.store_a, date=today, amount=Decimal("10"))
        services.purchase_record(contact=anne, entity=network.store_b, date=today, amount=Decimal("10"))
    anne.refresh_from_db()
    assert anne.owner_id == network.store_b.pk and anne.owner_path == network.store_b.path
    assert anne.kind == "customer"
    with activate(network.scope("store_a")):
        assert not Contact.objects.filter(pk=anne.pk).exists()
    with activate(network.scope("hq_admin")):
        services.contact_assign(contact=anne, entity=network.store_a)
        services.purchase_record(contact=anne, entity=network.store_b, date=today, amount=Decimal("10"))
    anne.refresh_from_db()
    assert anne.owner_id == network.store_a.pk
    reasons = list(
        OwnershipTransfer.unscoped.filter(contact=anne).order_by("id").values_list("reason", flat=True)
    )
    assert reasons == ["created", "rule", "manual"]


@pytest.mark.django_db
def test_entity_move_carries_owned_contacts(network):
    anne = make(network, "store_a", email="anne@example.test")
    with activate(network.scope("hq_admin")):
        network_services.entity_move(entity=network.store_a, new_parent=network.region_s)
    anne.refresh_from_db()
    network.store_a.refresh_from_db()
    assert anne.owner_path == network.store_a.path
    with activate(network.scope("regional")):
        assert not Contact.objects.filter(pk=anne.pk).exists()
    with activate(network.scope("store_a")):
        assert Contact.objects.filter(pk=anne.pk).exists()


@pytest.mark.django_db
def test_retention_deletes_only_inactive_prospects(network):
    old = make(network, email="old@example.test")
    make(network, email="new@example.test")
    customer = make(network, email="customer@example.test")
    long_ago = timezone.now() - datetime.timedelta(days=4 * 365)
    Contact.unscoped.filter(pk__in=[old.pk, customer.pk]).update(last_activity_at=long_ago)
    Contact.unscoped.filter(pk=customer.pk).update(kind="customer")
    with activate(network.scope("hq_admin")):
        assert services.purge_inactive_prospects() == 1
    assert set(Contact.unscoped.values_list("email", flat=True)) == {
        "new@example.test",
        "customer@example.test",
    }
    assert not services.is_suppressed(
        organisation_id=network.org.pk, channel="email", email="old@example.test"
    )


@pytest.mark.django_db
def test_attributes_are_typed(network):
    AttributeDefinition.unscoped.create(
        organisation=network.org, key="size", label="Size", field_type="choice", choices=["S", "M"]
    )
    AttributeDefinition.unscoped.create(
        organisation=network.org, key="vip", label="VIP", field_type="boolean"
    )
    with activate(network.scope("store_a")):
        c = services.contact_create(
            fields={"last_name": "X", "attributes": {"size": "M", "vip": "oui"}}
        ).contact
        assert c is not None
        assert c.attributes == {"size": "M", "vip": True}
        with pytest.raises(ValidationError):
            services.contact_create(fields={"last_name": "Y", "attributes": {"size": "XL"}})


@pytest.mark.django_db
def test_counts_by_store_in_one_query(network, django_assert_num_queries):
    make(network, "store_a", email="a1@example.test", tags="vip")
    make(network, "store_a", email="a2@example.test")
    make(network, "store_b", email="b1@example.test", tags="vip")
    with activate(network.scope("store_b")):
        b1 = Contact.objects.get()
        services.contact_opt_out(contact=b1, channel="email")
    with activate(network.scope("hq_admin")), django_assert_num_queries(1):
        counts = selectors.audience_counts_by_store({"tags__contains": "|vip|"}, "email")
    a, b = counts[network.store_a.pk], counts[network.store_b.pk]
    assert (a.total, a.consented, a.suppressed, a.reachable, a.matching) == (2, 2, 0, 2, 1)
    assert (b.total, b.consented, b.suppressed, b.reachable, b.matching) == (1, 0, 1, 0, 0)
    with activate(network.scope("store_a")):
        assert set(selectors.audience_counts_by_store(None, "email")) == {network.store_a.pk}


@pytest.mark.django_db
def test_a_hash_on_several_channels_never_duplicates_rows(network):
    anne = make(
        network,
        "store_a",
        email="anne@example.test",
        mobile="+33612345678",
        address_line1="1 rue",
        postcode="59000",
    )
    with activate(network.scope("store_a")):
        services.consent_record(contact=anne, channel="postal", status="opt_in", source="store", wording="w")
        for channel in ("email", "sms", "postal", "phone"):
            services.suppress(
                organisation_id=network.org.pk,
                channel=channel,
                hashes=[anne.email_hash, anne.mobile_hash],
                reason="manual",
            )
        for channel in ("email", "sms", "postal", "phone"):
            counts = selectors.audience_counts_by_store(None, channel)[network.store_a.pk]
            assert (counts.total, counts.suppressed, counts.reachable) == (1, 1, 0), channel
            assert selectors.reachable_contacts(channel).count() == 0
            assert Contact.objects.filter(selectors.suppressed_q(channel)).count() == 1
            assert Contact.objects.filter(selectors.reachable_q(channel)).count() == 0
        Suppression.unscoped.filter(channel="postal").delete()
        assert selectors.reachable_contacts("postal").count() == 1
        assert selectors.audience_counts_by_store(None, "postal")[network.store_a.pk].reachable == 1


@pytest.mark.django_db
def test_a_new_ownership_rule_is_applied_to_every_contact_in_the_background(network):
    from glocal.core import jobs

    anne = make(network, "store_a", email="anne@example.test")
    with activate(network.scope("hq_admin")):
        services.purchase_record(
            contact=anne, entity=network.store_b, date=timezone.localdate(), amount=Decimal("5")
        )
        anne.refresh_from_db()
        assert anne.owner_id == network.store_a.pk  # explicit rule: purchases do not move anyone
        services.settings_update(changes={"ownership_rule": "last_purchase"})
    assert jobs.run_pending("test") == 1
    anne.refresh_from_db()
    assert anne.owner_id == network.store_b.pk
