"""The consent proof of a one-click unsubscribe records the client's address: the TCP peer, unless the
operator declared the reverse proxies in front of Glocal; only then is ``X-Forwarded-For`` read (a
recipient's mail client could write anything in that header)."""

from __future__ import annotations

import pytest
from django.test import Client

from glocal.audience.models import ConsentEvent, Contact
from glocal.delivery.tests import factories

pytestmark = pytest.mark.django_db

CLIENT = "198.51.100.7"
FORGED = "192.0.2.66"


@pytest.mark.parametrize(
    ("count", "proxies", "peer", "forwarded", "recorded"),
    [
        (0, [], "203.0.113.9", CLIENT, "203.0.113.9"),  # no proxy declared: the header is ignored
        (1, [], "10.0.0.2", f"{FORGED}, {CLIENT}", CLIENT),  # one proxy: its entry, not the client's own
        (0, ["10.0.0.0/8"], "10.0.0.2", f"{FORGED}, {CLIENT}", CLIENT),  # from a declared proxy
        (0, ["10.0.0.0/8"], "203.0.113.9", CLIENT, "203.0.113.9"),  # not from a declared proxy
    ],
)
def test_the_unsubscribe_proof_records_the_forwarded_address_only_behind_a_declared_proxy(
    network, settings, count, proxies, peer, forwarded, recorded
):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = count
    settings.GLOCAL_TRUSTED_PROXIES = proxies
    token = factories.unsubscribe_kwargs("store_a")(network)["token"]
    contact = Contact.unscoped.filter(owner=network.store_a).order_by("-pk").first()
    assert contact is not None
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=peer)  # a mail client: no cookie, no CSRF
    answer = client.post(
        f"/u/{token}/", {"List-Unsubscribe": "One-Click"}, headers={"X-Forwarded-For": forwarded}
    )
    assert answer.status_code == 200
    event = ConsentEvent.unscoped.get(contact=contact, channel="email", status="opt_out")
    assert event.ip == recorded
