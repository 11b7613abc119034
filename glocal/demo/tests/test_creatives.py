"""The demo templates render for 30 demo stores, each with its own details."""

from __future__ import annotations

import pytest

from glocal.core.scope import activate
from glocal.creatives import rendering, selectors
from glocal.creatives.models import ChannelTemplate
from glocal.demo.creatives import seed_creatives
from glocal.demo.network import hq_scope, seed_network
from glocal.network.models import Entity

pytestmark = pytest.mark.django_db


def test_one_template_renders_for_thirty_stores_with_their_own_details():
    org = seed_network(name="Maison Verte", slug="maison-verte", stores=30, seed=7)
    hq = Entity.unscoped.get(organisation=org, parent__isnull=True)
    with activate(hq_scope(org, hq)):
        seed_creatives(org)
        email = ChannelTemplate.objects.get(channel="email")
        sms = ChannelTemplate.objects.get(channel="sms")
        stores = list(Entity.objects.filter(entity_type__is_local=True).order_by("code"))
        assert len(stores) == 30
        before = rendering.stats["mjml_compiles"]
        for store in stores:
            mail = selectors.preview(email.published_version(), store, {"headline": f"Fête à {store.city}"})
            assert mail.rendered.errors == []
            assert [f.code for f in mail.findings if f.severity == "error"] == []
            assert store.name in mail.rendered.html and store.postcode in mail.rendered.html
            assert f"Fête à {store.city}" in mail.rendered.subject
            assert "Bonjour Camille" in mail.rendered.html and store.name in mail.rendered.text
            text = selectors.preview(sms.published_version(), store, {})
            assert text.rendered.text.startswith(f"Maison Verte {store.city} :")
            assert text.rendered.sms is not None and text.rendered.sms.segments == 1
            assert [f.code for f in text.findings if f.severity == "error"] == []
        assert rendering.stats["mjml_compiles"] - before == 30  # once per store variant
