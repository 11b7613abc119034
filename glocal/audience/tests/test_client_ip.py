"""A consent typed on the contact page is proven with the user's address: the TCP peer, or the address
a declared reverse proxy forwarded; never an ``X-Forwarded-For`` the browser wrote itself."""

from __future__ import annotations

import pytest
from django.urls import reverse

from glocal.audience.models import ConsentEvent

from .test_views import seed_two_stores

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("count", "recorded"), [(0, "10.0.0.2"), (1, "198.51.100.7")])
def test_the_consent_proof_trusts_x_forwarded_for_only_behind_a_declared_proxy(
    network, login, settings, count, recorded
):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = count
    settings.GLOCAL_TRUSTED_PROXIES = []
    pk = seed_two_stores(network)["Dupont"].pk
    client = login(network, "store_a")
    client.post(
        reverse("audience:consent", kwargs={"pk": pk}),
        {"channel": "sms", "status": "opt_out"},
        REMOTE_ADDR="10.0.0.2",
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    event = ConsentEvent.unscoped.filter(contact_id=pk, channel="sms").latest("pk")
    assert (event.status, event.ip) == ("opt_out", recorded)
