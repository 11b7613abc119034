"""The demo's contacts step: deterministic, and consistent with the audience rules."""

import pytest

from glocal.audience import services
from glocal.audience.models import ConsentEvent, Contact, Purchase
from glocal.demo.audience import generate


@pytest.mark.django_db
def test_seed_is_deterministic_and_consistent(network):
    generate(network.org, 300, seed=7)
    names = list(Contact.unscoped.order_by("pk").values_list("first_name", "last_name", "owner_id"))
    assert len(names) == 300
    assert {owner for _f, _l, owner in names} <= {network.store_a.pk, network.store_a2.pk, network.store_b.pk}
    for contact in Contact.unscoped.exclude(consent_email=""):
        last = ConsentEvent.unscoped.filter(contact=contact, channel="email").latest("created_at")
        assert last.status == contact.consent_email
    opted_out = Contact.unscoped.filter(consent_email="opt_out")
    assert opted_out.exists()
    assert all(
        services.is_suppressed(organisation_id=network.org.pk, channel="email", email=c.email)
        for c in opted_out
    )
    assert Purchase.unscoped.filter(contact__kind="customer").exists()
    for mobile in Contact.unscoped.exclude(mobile="").values_list("mobile", flat=True):
        assert services.normalise_mobile(mobile) == mobile
    Contact.unscoped.all().delete()
    generate(network.org, 300, seed=7)
    again = list(Contact.unscoped.order_by("pk").values_list("first_name", "last_name", "owner_id"))
    assert again == names
