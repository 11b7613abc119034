"""The `seed` command (what `glocal seed` and `make demo` run): every step, in order, once."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from glocal.audience.models import Contact
from glocal.brand.models import BrandKit
from glocal.campaigns.models import Campaign, Operation
from glocal.creatives.models import ChannelTemplate
from glocal.demo.seed import DEMO_PASSWORD
from glocal.network.models import Entity, Organisation

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed", *args, stdout=out)
    return out.getvalue()


def test_seed_writes_the_whole_demo_and_prints_the_logins():
    output = seed("--stores", "12", "--contacts", "200")
    org = Organisation.objects.get(slug="maison-verte")
    assert "Seeded Maison Verte: 15 entities." in output  # HQ, 2 regions, 12 stores
    assert Entity.unscoped.filter(organisation=org).count() == 15
    logins = [line.split()[0] for line in output.splitlines() if line.startswith("  ")]
    personas = ("admin", "marketer", "region", "store-a", "store-b", "staff", "viewer", "other", "operator")
    assert logins == [f"{key}@demo.glocal.test" for key in personas]
    assert f"password: {DEMO_PASSWORD}" in output
    assert get_user_model().objects.get(email="admin@demo.glocal.test").check_password(DEMO_PASSWORD)
    # Each step ran, in order: templates, then contacts, then campaigns (which need both), then brand.
    templates = ChannelTemplate.unscoped.filter(organisation=org).order_by("pk")
    assert [t.channel for t in templates] == ["email", "sms", "print", "social"]
    assert Contact.unscoped.filter(organisation=org).count() == 200
    assert Operation.unscoped.get(organisation=org).name == "Foire aux vins"
    assert Campaign.unscoped.filter(organisation=org, kind="local").count() == 6
    assert BrandKit.unscoped.filter(organisation=org).count() == 2
    # Targeting at work: an HQ segment, a store's own segment and a rented list, each used by a campaign.
    from glocal.targeting.models import ProspectList, Segment

    used = [c.audience_criteria for c in Campaign.unscoped.filter(organisation=org).order_by("pk")]
    segments = {s.pk: s.entity.parent_id is None for s in Segment.unscoped.filter(organisation=org)}
    targeted = [segments[c["segment"]] for c in used if "segment" in c]
    assert sorted(targeted) == [False, True]  # the store's own, HQ's
    plist = ProspectList.unscoped.get(organisation=org)
    assert plist.row_count == 12 and {"prospect_list": plist.pk} in used


def test_seed_refuses_a_database_with_data_unless_if_empty():
    seed("--stores", "1")
    with pytest.raises(CommandError, match="already holds organisations"):
        seed("--stores", "1")
    assert "nothing seeded" in seed("--if-empty")
    assert Organisation.objects.count() == 2  # the demo one and the isolated one


def test_seed_needs_a_store():
    with pytest.raises(CommandError, match="at least 1"):
        seed("--stores", "0")
