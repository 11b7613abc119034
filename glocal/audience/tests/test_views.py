import io
import json

import pytest
from django.urls import reverse

from glocal.audience import importer, services
from glocal.audience.models import (
    AttributeDefinition,
    AudienceSettings,
    ConsentEvent,
    Contact,
    OwnershipTransfer,
    Purchase,
    Suppression,
)
from glocal.core import jobs
from glocal.core.models import AuditEvent, Job
from glocal.core.scope import activate


def seed_two_stores(network):
    made = {}
    for persona, _entity, names in (
        ("store_a", network.store_a, ["Dupont", "Durand", "Dubois"]),
        ("store_b", network.store_b, ["Dumas", "Duval"]),
    ):
        with activate(network.scope(persona)):
            for i, name in enumerate(names):
                made[name] = services.contact_create(
                    fields={
                        "last_name": name,
                        "email": f"{name.lower()}@example.test",
                        "tags": "vip" if i else "",
                    },
                    consents=[{"channel": "email", "status": "opt_in", "wording": "Offres par email"}],
                ).contact
    return made


def snapshot():
    return {
        "contacts": list(
            Contact.unscoped.order_by("pk").values_list(
                "pk", "last_name", "owner_id", "consent_email", "ownership_locked"
            )
        ),
        "ledger": ConsentEvent.unscoped.count(),
        "purchases": Purchase.unscoped.count(),
        "suppressions": Suppression.unscoped.count(),
        "transfers": OwnershipTransfer.unscoped.count(),
        "settings": list(AudienceSettings.unscoped.values_list("ownership_rule", "existence_visible")),
        "attributes": AttributeDefinition.unscoped.count(),
        "jobs": Job.unscoped.count(),
        "audit": AuditEvent.unscoped.count(),
    }


@pytest.mark.django_db
def test_store_manager_never_sees_another_stores_contacts(network, login):
    made = seed_two_stores(network)
    client = login(network, "store_a")
    # list
    page = client.get(reverse("audience:list")).content.decode()
    assert "DUPONT" in page and "DUMAS" not in page and "DUVAL" not in page
    # search, by name and by email
    for q in ("Dum", "dumas@example.test", "Du"):
        page = client.get(reverse("audience:list"), {"q": q}).content.decode()
        assert "DUMAS" not in page
    # count (capped, lazy)
    count = client.get(reverse("audience:count"), {"q": "Du"}).content.decode()
    assert ">3 contacts<" in count
    count = client.get(reverse("audience:count"), {"tag": "vip", "channel": "email"}).content.decode()
    assert ">2 contacts<" in count
    # detail, edit, export of store B's contact: 404 like a missing one
    foreign = made["Dumas"].pk
    for route in ("audience:contact", "audience:edit", "audience:export"):
        assert client.get(reverse(route, kwargs={"pk": foreign})).status_code == 404
    for route in ("audience:consent", "audience:purchase"):
        assert client.post(reverse(route, kwargs={"pk": foreign}), {"channel": "email"}).status_code == 404
    # HQ sees both stores; the regional manager of the north only store A's
    page = login(network, "hq_admin").get(reverse("audience:list")).content.decode()
    assert "DUPONT" in page and "DUMAS" in page
    page = login(network, "regional").get(reverse("audience:list")).content.decode()
    assert "DUPONT" in page and "DUMAS" not in page


@pytest.mark.django_db
def test_hq_filters_by_store_and_pages_with_a_cursor(network, login, settings):
    seed_two_stores(network)
    client = login(network, "hq_admin")
    page = client.get(reverse("audience:list"), {"owner": network.store_b.pk}).content.decode()
    assert "DUMAS" in page and "DUPONT" not in page
    from glocal.audience import selectors

    with activate(network.scope("hq_admin")):
        first = selectors.contact_page(Contact.objects.all(), size=2)
        second = selectors.contact_page(Contact.objects.all(), first.next_cursor, size=2)
        third = selectors.contact_page(Contact.objects.all(), second.next_cursor, size=2)
    names = [c.last_name for c in first.contacts + second.contacts + third.contacts]
    assert names == ["Dubois", "Dumas", "Dupont", "Durand", "Duval"] and third.next_cursor == ""


@pytest.mark.django_db
def test_contact_page_shows_consent_proof_and_export(network, login):
    made = seed_two_stores(network)
    client = login(network, "store_a")
    pk = made["Dupont"].pk
    page = client.get(reverse("audience:contact", kwargs={"pk": pk})).content.decode()
    assert "Offres par email" in page
    response = client.get(reverse("audience:export", kwargs={"pk": pk}))
    data = json.loads(response.content)
    assert response["Content-Disposition"].startswith("attachment")
    assert data["profile"]["email"] == "dupont@example.test"
    assert data["consent_ledger"][0]["wording"] == "Offres par email"
    # objection from the contact page, then a purchase
    client.post(reverse("audience:consent", kwargs={"pk": pk}), {"channel": "email", "status": "opt_out"})
    client.post(
        reverse("audience:purchase", kwargs={"pk": pk}),
        {"entity": network.store_a.pk, "date": "2026-01-02", "amount": "19.90", "category": "vin"},
    )
    contact = Contact.unscoped.get(pk=pk)
    assert contact.consent_email == "opt_out" and contact.kind == "customer"
    assert Purchase.unscoped.filter(contact=contact).count() == 1


@pytest.mark.django_db
def test_create_records_the_wording_shown(network, login):
    client = login(network, "staff_a")
    response = client.post(
        reverse("audience:create"),
        {
            "kind": "prospect",
            "last_name": "Nouveau",
            "email": "nouveau@example.test",
            "mobile": "0611223344",
            "country": "FR",
            "language": "fr",
            "consent_sms": "on",
        },
    )
    assert response.status_code == 302
    contact = Contact.unscoped.get(email="nouveau@example.test")
    assert (
        contact.owner_id == network.store_a.pk
        and contact.consent_sms == "opt_in"
        and contact.consent_email == ""
    )
    event = ConsentEvent.unscoped.get(contact=contact)
    assert event.wording == "I agree to receive offers and news by SMS." and event.source == "store"
    page = client.get(reverse("audience:create")).content.decode()
    assert event.wording in page


@pytest.mark.django_db
def test_import_wizard_upload_mapping_check_import(network, login):
    client = login(network, "store_a")
    data = importer.csv_bytes([["Courriel", "Nom", "Colonne inconnue"], ["wiz@example.test", "Wizard", "x"]])
    upload = io.BytesIO(data)
    upload.name = "clients.csv"
    response = client.post(reverse("audience:import"), {"file": upload})
    assert response.status_code == 302
    mapping_url = response["Location"]
    page = client.get(mapping_url).content.decode()
    assert "wiz@example.test" in page  # sample values help the mapping
    response = client.post(
        mapping_url, {"col_0": "email", "col_1": "last_name", "col_2": "", "wording": "Offres"}
    )
    assert response.status_code == 302
    jobs.run_pending("test")
    check = Job.unscoped.get(kind="audience.import")
    assert check.result["ok"] and check.result["dry_run"] and Contact.unscoped.count() == 0
    page = client.get(reverse("audience:import_job", kwargs={"pk": check.pk})).content.decode()
    assert "Import now" in page
    response = client.post(reverse("audience:import_run", kwargs={"pk": check.pk}))
    jobs.run_pending("test")
    assert Contact.unscoped.get(email="wiz@example.test").owner_id == network.store_a.pk
    # store B cannot run store A's checked import
    assert (
        login(network, "store_b").post(reverse("audience:import_run", kwargs={"pk": check.pk})).status_code
        == 404
    )


@pytest.mark.django_db
def test_hq_settings_and_attributes(network, login):
    client = login(network, "hq_admin")
    body = {
        "s-ownership_rule": "last_purchase",
        "s-ownership_months": "6",
        "s-prospect_retention_years": "2",
        "settings-submit": "1",
    }
    preview = client.post(reverse("audience:settings"), body)  # a new rule: its impact first
    assert preview.status_code == 200 and not AudienceSettings.unscoped.exists()
    client.post(reverse("audience:settings"), {**body, "digest": preview.context["impact"].digest})
    config = AudienceSettings.unscoped.get(organisation=network.org)
    assert (config.ownership_rule, config.prospect_retention_years) == ("last_purchase", 2)
    client.post(
        reverse("audience:settings"),
        {
            "attr-key": "size",
            "attr-label": "Taille",
            "attr-field_type": "choice",
            "attr-choices_text": "S, M",
            "attr-submit": "1",
        },
    )
    assert AttributeDefinition.unscoped.get(organisation=network.org).choices == ["S", "M"]


@pytest.mark.django_db
def test_denied_writes_change_nothing(network, client):
    made = seed_two_stores(network)
    a, b = made["Dupont"].pk, made["Dumas"].pk
    before = snapshot()
    attempts = [
        (
            "viewer",
            "audience:create",
            {},
            {"last_name": "X", "country": "FR", "language": "fr", "kind": "prospect"},
        ),
        (
            "store_b",
            "audience:edit",
            {"pk": a},
            {"last_name": "Hacked", "country": "FR", "language": "fr", "kind": "prospect"},
        ),
        ("store_a", "audience:consent", {"pk": b}, {"channel": "email", "status": "opt_out"}),
        (
            "store_a",
            "audience:purchase",
            {"pk": b},
            {"entity": network.store_a.pk, "date": "2026-01-01", "amount": "1"},
        ),
        ("store_a", "audience:assign", {"pk": a}, {"entity": network.store_a.pk, "lock": "on"}),
        ("hq_marketer", "audience:erase", {"pk": a}, {}),
        ("store_a", "audience:erase", {"pk": a}, {}),
        ("other_org", "audience:erase", {"pk": a}, {}),
        ("other_org", "audience:assign", {"pk": a}, {"entity": network.other_store.pk}),
        ("store_a", "audience:settings", {}, {"s-ownership_rule": "catchment", "settings-submit": "1"}),
        ("regional", "audience:import", {}, {}),
        ("viewer", "audience:export", {"pk": a}, {}),
        ("staff_a", "audience:export", {"pk": a}, {}),
        ("store_b", "audience:export", {"pk": a}, {}),
    ]
    for persona, route, kwargs, data in attempts:
        client.logout()
        client.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
        method = client.get if route == "audience:export" else client.post
        response = method(reverse(route, kwargs=kwargs), data)
        assert response.status_code in {403, 404}, f"{persona} {route}: {response.status_code}"
    assert snapshot() == before


@pytest.mark.django_db
def test_hq_erases_and_a_store_never_reaches_the_person_again(network, login):
    made = seed_two_stores(network)
    client = login(network, "hq_admin")
    pk = made["Dupont"].pk
    assert client.get(reverse("audience:erase", kwargs={"pk": pk})).status_code == 200
    client.post(reverse("audience:erase", kwargs={"pk": pk}))
    assert not Contact.unscoped.filter(pk=pk).exists()
    assert services.is_suppressed(
        organisation_id=network.org.pk, channel="email", email="dupont@example.test"
    )


@pytest.mark.django_db
def test_pages_are_in_french_for_french_users(network, login, settings):
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get(reverse("audience:list")).content.decode()
    assert "Clients et prospects" in page
    assert (
        "J’accepte de recevoir les offres et actualités par SMS."
        in client.get(reverse("audience:create")).content.decode()
    )


@pytest.mark.django_db
def test_the_import_report_speaks_the_users_language_and_consents_need_their_wording(
    network, login, settings
):
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    upload = io.BytesIO(importer.csv_bytes([["Courriel", "Optin email"], ["pas-un-email", "oui"]]))
    upload.name = "clients.csv"
    mapping_url = client.post(reverse("audience:import"), {"file": upload})["Location"]
    page = client.post(
        mapping_url, {"col_0": "email", "col_1": "consent_email", "wording": ""}
    ).content.decode()
    assert "indiquez le texte accepté" in page and not Job.unscoped.exists()
    client.post(mapping_url, {"col_0": "email", "col_1": "consent_email", "wording": "Offres par e-mail"})
    jobs.run_pending("test")
    errors = Job.unscoped.get().result["errors"]
    assert errors[0]["row"] == 2 and "n'est pas une adresse e-mail valide" in errors[0]["messages"][0]
    assert errors[0]["messages"][0].startswith("E-mail")
