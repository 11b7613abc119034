"""Overseas mobiles typed in national format (0692…, 0690…, 0694…, 0696…, 0639…) are numbers of their own
territory (+262, +590, +594, +596), not invalid mainland numbers: a store in Réunion or Guadeloupe can
register its customers, and the launch then times their SMS in their own zone."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from glocal.audience import importer, services
from glocal.audience.models import Contact
from glocal.core.scope import activate
from glocal.core.uploads import save_upload


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0694 20 12 34", "+594694201234"),  # Guyane
        ("0692 12 34 56", "+262692123456"),  # Réunion
        ("0693 00 12 34", "+262693001234"),  # Réunion
        ("0690 00 12 34", "+590690001234"),  # Guadeloupe (and Saint-Barthélemy, Saint-Martin)
        ("0691 23 01 23", "+590691230123"),  # Guadeloupe
        ("0696 20 12 34", "+596696201234"),  # Martinique
        ("0697 00 12 34", "+596697001234"),  # Martinique
        ("0639 01 23 45", "+262639012345"),  # Mayotte
        ("06.12.34.56.78", "+33612345678"),  # mainland stays mainland
    ],
)
def test_a_national_overseas_mobile_typed_in_france_gets_its_territorys_code(typed, expected):
    assert services.normalise_mobile(typed) == expected
    assert services.normalise_mobile(typed, "FR") == expected


@pytest.mark.parametrize(
    ("typed", "country", "expected"),
    [
        ("0692 12 34 56", "RE", "+262692123456"),
        ("0639 01 23 45", "YT", "+262639012345"),
        ("0690 00 12 34", "GP", "+590690001234"),
        # a mainland mobile of a contact living overseas
        ("06 12 34 56 78", "RE", "+33612345678"),
        ("06 12 34 56 78", "GP", "+33612345678"),
    ],
)
def test_the_contacts_own_territory_is_tried_first_then_the_other_french_plans(typed, country, expected):
    assert services.normalise_mobile(typed, country) == expected


@pytest.mark.parametrize(
    ("typed", "country"),
    [
        ("0698 12 34 5", "FR"),  # too short anywhere
        ("0699 99 99 99 99", "FR"),  # too long
        ("0692 12 34 56", "US"),  # not a French contact: no French plan is tried
        ("+33 692 12 34 56", "FR"),  # written international: the code given is the one that counts
    ],
)
def test_numbers_valid_in_no_plan_are_still_refused(typed, country):
    with pytest.raises(ValidationError):
        services.normalise_mobile(typed, country)


def test_international_forms_are_unchanged():
    assert services.normalise_mobile("+262 692 12 34 56") == "+262692123456"
    assert services.normalise_mobile("00590690001234") == "+590690001234"
    assert services.normalise_mobile("+1 212 555 0123", "US") == "+12125550123"


@pytest.mark.django_db
def test_a_store_creates_a_contact_with_a_guyane_mobile_typed_nationally(network):
    with activate(network.scope("store_a")):
        result = services.contact_create(fields={"last_name": "Lapierre", "mobile": "0694 20 12 34"})
    assert result.contact is not None
    assert Contact.unscoped.get(pk=result.contact.pk).mobile == "+594694201234"


@pytest.mark.django_db
def test_an_import_reads_reunion_and_martinique_mobiles_in_national_format(network):
    rows = [["Nom", "Portable", "Pays"], ["Hoarau", "0692 12 34 56", "FR"], ["Joseph", "0696201234", "MQ"]]
    with activate(network.scope("store_a")):
        name = save_upload(importer.csv_bytes(rows), suffix=".csv")
        mapping = importer.guess_mapping(importer.read_header(name, "c.csv"), [])
        plan = importer.Plan(source=name, filename="c.csv", mapping=mapping, wording="Offres par SMS")
        report = importer.import_contacts(plan)
    assert report.ok, report.as_dict()
    assert set(Contact.unscoped.values_list("mobile", flat=True)) == {"+262692123456", "+596696201234"}
