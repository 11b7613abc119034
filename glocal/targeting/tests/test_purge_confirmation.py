"""Purging a prospect list asks first: the GET says how many people will be deleted (grouped digits)
and deletes nothing; the POST purges."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from glocal.targeting.models import ProspectList, ProspectRecord

pytestmark = pytest.mark.django_db


def test_purge_asks_first_with_the_number_of_people(network, login):
    plist = ProspectList.unscoped.create(
        organisation=network.org,
        entity=network.store_a,
        name="Fichier loué",
        campaign_ref="c-1",
        purge_after=datetime.date(2099, 1, 1),
        row_count=1240,
    )
    ProspectRecord.unscoped.bulk_create(
        ProspectRecord(organisation=network.org, prospect_list=plist, email=f"p{i}@example.test")
        for i in range(1240)
    )
    client = login(network, "store_a")
    url = reverse("targeting:prospect_purge", args=[plist.pk])
    detail = client.get(reverse("targeting:prospect_list", args=[plist.pk])).content.decode()
    assert f'href="{url}"' in detail
    r = client.get(url)
    assert r.status_code == 200 and "Deletes 1,240 people." in r.content.decode()
    assert ProspectRecord.unscoped.filter(prospect_list=plist).count() == 1240
    assert client.post(url).status_code == 302
    assert ProspectRecord.unscoped.filter(prospect_list=plist).count() == 0
    assert ProspectList.unscoped.get(pk=plist.pk).status == ProspectList.Status.PURGED
    assert 'data-testid="confirm-refused"' in client.get(url).content.decode()
