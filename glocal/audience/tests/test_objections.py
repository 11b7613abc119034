"""Only the person lifts their own objection; a store never touches (nor learns about) a contact it does
not own. Each path a store could use is tried: the new-contact form, the contact page's consent form, an
import; the person's objection comes from a one-click unsubscribe, an opt-out or an erasure."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from glocal.audience import importer, services
from glocal.audience.models import ConsentEvent, Contact, Suppression
from glocal.core import jobs
from glocal.core.models import Job
from glocal.core.scope import activate
from glocal.delivery import tokens

pytestmark = pytest.mark.django_db

OPT_IN = {"channel": "email", "status": "opt_in", "wording": "Offres par email", "form_version": "v1"}


def customer(network, persona: str, email: str, **fields) -> Contact:
    with activate(network.scope(persona)):
        made = services.contact_create(fields={"email": email, **fields}, consents=[OPT_IN]).contact
    assert made is not None
    return made


def state(contact: Contact) -> tuple:
    """Everything a change of consent would touch for this person."""
    fresh = Contact.unscoped.get(pk=contact.pk)
    return (
        fresh.owner_id,
        fresh.first_name,
        fresh.consents(),
        list(ConsentEvent.unscoped.filter(contact=contact).values_list("status", "source")),
        sorted(
            Suppression.unscoped.filter(value_hash__in=[fresh.email_hash, fresh.mobile_hash]).values_list(
                "channel", "reason"
            )
        ),
    )


def new_contact_form(email: str, **extra: str) -> dict:
    return {
        "kind": "prospect",
        "first_name": "Hugo",
        "email": email,
        "country": "FR",
        "language": "fr",
        "consent_email": "on",
        **extra,
    }


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def one_click_unsubscribe(contact: Contact) -> None:
    token = tokens.unsubscribe_token(
        contact_id=contact.pk, organisation_id=contact.organisation_id, channel="email", message_id="g0-0"
    )
    answer = Client(enforce_csrf_checks=True).post(
        reverse("recipient:unsubscribe", kwargs={"token": token}), {"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200


# -- POST /customers/new/ -----------------------------------------------------------------------------


def test_a_store_entering_another_stores_opted_out_customer_changes_and_learns_nothing(network, client):
    hugo = customer(network, "store_b", "hugo@example.test", first_name="Hugo", mobile="0611223344")
    with activate(network.scope("store_b")):
        services.contact_opt_out(contact=hugo, channel="email")
    before = state(hugo)
    client.force_login(network.users["staff_a"], backend="django.contrib.auth.backends.ModelBackend")
    existing = client.post(
        reverse("audience:create"), new_contact_form("HUGO@example.test", first_name="Changed")
    )
    after_existing = flashed(existing)
    client.get(existing["Location"])  # shows (and consumes) the messages
    # the same answer as for a person nobody knows
    fresh = client.post(reverse("audience:create"), new_contact_form("nobody@example.test"))
    assert (existing.status_code, existing["Location"]) == (fresh.status_code, fresh["Location"])
    assert after_existing == flashed(fresh)
    assert "hugo" not in existing["Location"].lower()
    # and nothing changed for Hugo: still opted out, still on the opposition list, no new ledger row
    assert state(hugo) == before
    assert Contact.unscoped.get(email="nobody@example.test").owner_id == network.store_a.pk


def test_a_store_entering_another_stores_customer_adds_no_consent_either(network, client):
    anne = customer(network, "store_b", "anne@example.test")
    with activate(network.scope("store_b")):
        services.consent_record(contact=anne, channel="sms", status="opt_out", source="user")
    before = state(anne)
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    client.post(reverse("audience:create"), new_contact_form("anne@example.test", consent_sms="on"))
    with activate(network.scope("store_a")):
        result = services.contact_create(
            fields={"email": "anne@example.test"},
            consents=[{"channel": "postal", "status": "opt_in", "wording": "w"}],
        )
    assert result.contact is None and not result.created
    assert state(anne) == before


# -- POST /customers/<id>/consent/ --------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
def test_staff_cannot_resubscribe_a_one_click_unsubscriber(network, client, settings, language):
    hugo = customer(network, "store_a", "hugo@example.test", first_name="Hugo")
    one_click_unsubscribe(hugo)
    before = state(hugo)
    assert before[2]["email"] == "opt_out" and ("email", "opt_out") in before[4]
    client.force_login(network.users["staff_a"], backend="django.contrib.auth.backends.ModelBackend")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.post(
        reverse("audience:consent", kwargs={"pk": hugo.pk}),
        {"channel": "email", "status": "opt_in", "wording": "Il a dit oui au comptoir"},
    )
    assert response.status_code == 302
    assert state(hugo) == before
    (message,) = flashed(response)
    expected = "Seule la personne" if language == "fr" else "Only the person"
    assert expected in message, message


def test_a_manager_cannot_resubscribe_an_erased_person_they_enter_again(network, client):
    hugo = customer(network, "store_a", "hugo@example.test", first_name="Hugo", mobile="0611223344")
    with activate(network.scope("hq_admin")):
        services.contact_erase(contact=Contact.objects.get(pk=hugo.pk))
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("audience:create"),
        new_contact_form("hugo@example.test", mobile="0611223344", consent_sms="on"),
    )
    assert response.status_code == 302
    again = Contact.unscoped.get(email="hugo@example.test")
    assert again.consent_email == "" and again.consent_sms == ""
    for channel in ("email", "sms"):
        response = client.post(
            reverse("audience:consent", kwargs={"pk": again.pk}),
            {"channel": channel, "status": "opt_in", "wording": "Il a dit oui au comptoir"},
        )
        assert "Only the person" in flashed(response)[-1]
    again.refresh_from_db()
    assert again.consent_email == "" and again.consent_sms == ""
    erased = Suppression.unscoped.filter(reason="erasure")
    assert set(erased.filter(value_hash=again.email_hash).values_list("channel", flat=True)) == {
        "email",
        "postal",
    }
    assert set(erased.filter(value_hash=again.mobile_hash).values_list("channel", flat=True)) == {
        "sms",
        "postal",
        "phone",
    }


def test_staff_still_record_an_opt_out_and_a_first_opt_in_with_its_wording(network, client):
    anne = customer(network, "store_a", "anne@example.test")
    client.force_login(network.users["staff_a"], backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("audience:consent", kwargs={"pk": anne.pk})
    client.post(url, {"channel": "sms", "status": "opt_in", "wording": ""})  # no proof: refused
    assert Contact.unscoped.get(pk=anne.pk).consent_sms == ""
    client.post(url, {"channel": "postal", "status": "opt_in", "wording": "Offres par courrier"})
    assert Contact.unscoped.get(pk=anne.pk).consent_postal == "opt_in"
    client.post(url, {"channel": "postal", "status": "opt_out"})
    assert Contact.unscoped.get(pk=anne.pk).consent_postal == "opt_out"
    client.post(url, {"channel": "postal", "status": "opt_in", "wording": "Offres par courrier"})
    assert Contact.unscoped.get(pk=anne.pk).consent_postal == "opt_out"


# -- the service layer (imports, views and any future API share it) ----------------------------------


def test_an_objection_is_lifted_only_by_the_persons_confirmed_act(network):
    anne = customer(network, "store_a", "anne@example.test")
    with activate(network.scope("store_a")):
        services.contact_opt_out(contact=anne, channel="email", source="user")
        for source in ("store", "user", "import", "api", "form"):
            assert (
                services.consent_record(
                    contact=anne, channel="email", status="opt_in", source=source, wording="w"
                )
                is None
            ), source
    assert Contact.unscoped.get(pk=anne.pk).consent_email == "opt_out"
    assert services.is_suppressed(organisation_id=network.org.pk, channel="email", email=anne.email)
    # her own confirmed double opt-in (the lead form's link) lifts it, with its proof in the ledger
    confirmation = services.PersonalConfirmation(kind="double_opt_in", reference="pending #7")
    with activate(network.scope("store_a")):
        event = services.consent_record(
            contact=anne,
            channel="email",
            status="opt_in",
            source="form",
            wording="J'accepte les offres par email",
            form_version="lead-v2",
            confirmation=confirmation,
        )
    assert event is not None and "double_opt_in" in event.form_version
    assert Contact.unscoped.get(pk=anne.pk).consent_email == "opt_in"
    assert not services.is_suppressed(organisation_id=network.org.pk, channel="email", email=anne.email)


def test_an_objection_survives_a_change_of_address(network):
    anne = customer(network, "store_a", "anne@example.test")
    with activate(network.scope("store_a")):
        services.contact_opt_out(contact=anne, channel="email")
        services.contact_update(contact=anne, changes={"email": "anne.new@example.test"})
        assert (
            services.consent_record(
                contact=anne, channel="email", status="opt_in", source="user", wording="w"
            )
            is None
        )
    assert Contact.unscoped.get(pk=anne.pk).consent_email == "opt_out"


def test_a_store_never_writes_on_a_contact_it_does_not_own(network):
    dumas = customer(network, "store_b", "dumas@example.test")
    before = state(dumas)
    with activate(network.scope("store_a")):
        with pytest.raises(PermissionDenied):
            services.consent_record(contact=dumas, channel="email", status="opt_out", source="user")
        with pytest.raises(PermissionDenied):
            services.contact_update(contact=dumas, changes={"first_name": "Hacked"})
    assert state(dumas) == before


# -- import --------------------------------------------------------------------------------------------


def run_import(network, client, rows: list[list[str]]) -> dict:
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    upload = io.BytesIO(importer.csv_bytes(rows))
    upload.name = "clients.csv"
    mapping_url = client.post(reverse("audience:import"), {"file": upload})["Location"]
    columns = {f"col_{i}": name for i, name in enumerate(["email", "first_name", "consent_email"])}
    client.post(mapping_url, {**columns, "wording": "Offres par email"})
    jobs.run_pending("test")
    check = Job.unscoped.filter(kind="audience.import").latest("pk")
    assert check.result["ok"], check.result
    client.post(reverse("audience:import_run", kwargs={"pk": check.pk}))
    jobs.run_pending("test")
    return Job.unscoped.filter(kind="audience.import").latest("pk").result


def test_an_import_saying_yes_never_lifts_an_objection(network, client):
    unsubscribed = customer(network, "store_a", "hugo@example.test")
    one_click_unsubscribe(unsubscribed)
    moved = customer(network, "store_a", "anne@example.test")
    with activate(network.scope("store_a")):
        services.contact_opt_out(contact=moved, channel="email")
        services.contact_update(contact=moved, changes={"email": "anne.new@example.test"})
    erased = customer(network, "store_a", "carl@example.test")
    with activate(network.scope("hq_admin")):
        services.contact_erase(contact=Contact.objects.get(pk=erased.pk))
    result = run_import(
        network,
        client,
        [
            ["Courriel", "Prénom", "Optin email"],
            ["hugo@example.test", "Hugo", "oui"],
            ["anne.new@example.test", "Anne", "yes"],
            ["carl@example.test", "Carl", "1"],
        ],
    )
    assert result["consent_refused"] == 3
    assert Contact.unscoped.get(pk=unsubscribed.pk).consent_email == "opt_out"
    assert Contact.unscoped.get(pk=moved.pk).consent_email == "opt_out"
    assert Contact.unscoped.get(email="carl@example.test").consent_email == ""
    assert services.is_suppressed(organisation_id=network.org.pk, channel="email", email="hugo@example.test")
    assert services.is_suppressed(organisation_id=network.org.pk, channel="email", email="carl@example.test")
