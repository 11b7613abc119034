"""RFC 8058 one-click unsubscribe at the exact URL of the List-Unsubscribe header, with or without its
trailing slash: a mail client that drops (or a proxy that strips) the slash still unsubscribes; never a
500 (in DEBUG, CommonMiddleware's APPEND_SLASH cannot redirect a POST and raised) nor a redirect."""

from __future__ import annotations

import pytest
from django.test import Client

from glocal.audience.models import ConsentEvent, Contact
from glocal.delivery.tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("slash", ["/", ""])
def test_one_click_post_unsubscribes_with_or_without_the_trailing_slash(network, settings, debug, slash):
    settings.DEBUG = debug
    token = factories.unsubscribe_kwargs("store_a")(network)["token"]
    claim_contact = Contact.unscoped.filter(owner=network.store_a).order_by("-pk").first()
    assert claim_contact is not None
    client = Client(enforce_csrf_checks=True)  # a mail client: no cookie, no CSRF token
    answer = client.post(f"/u/{token}{slash}", {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    claim_contact.refresh_from_db()
    assert claim_contact.consent_email == "opt_out"
    assert ConsentEvent.unscoped.filter(contact=claim_contact, channel="email", status="opt_out").count() == 1
    # the preference page answers at both URLs too; a forged token is a clean 404 at both
    assert client.get(f"/u/{token}{slash}").status_code == 200
    assert client.post(f"/u/forged{slash}", {"List-Unsubscribe": "One-Click"}).status_code == 404
