"""External prospect lists: apart from contacts, one campaign only, all-or-nothing upload, purge record."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from glocal.audience import services as audience
from glocal.audience.models import Channel, Contact, Suppression
from glocal.core import jobs
from glocal.core.scope import activate
from glocal.targeting import prospects
from glocal.targeting.models import ProspectList, ProspectListPurge, ProspectRecord

from .helpers import upload_prospects

GOOD = b"email;mobile;first_name;nom;cp\nann@example.test;;Ann;Lee;06000\n;0612345678;Bob;Roe;06100\n"


def test_upload_keeps_people_apart_from_contacts(network):
    plist, report = upload_prospects(network, GOOD)
    assert plist is not None and plist.row_count == 2 and not report.errors
    assert ProspectRecord.unscoped.filter(prospect_list=plist).count() == 2
    assert not Contact.unscoped.exists()  # never contacts
    row = ProspectRecord.unscoped.get(email="ann@example.test")
    assert (row.first_name, row.last_name, row.postcode) == ("Ann", "Lee", "06000")
    assert ProspectRecord.unscoped.get(mobile="+33612345678").first_name == "Bob"


def test_bad_rows_are_all_reported_and_nothing_is_written(network):
    data = b"email,mobile,first_name\nok@example.test,,\nbroken,,\n,,Bob\nok@example.test,,\n,12,\n\n"
    plist, report = upload_prospects(network, data)
    assert plist is None
    assert [e.row for e in report.errors] == [3, 4, 5, 6]
    assert not ProspectList.unscoped.exists() and not ProspectRecord.unscoped.exists()


def test_opposition_list_is_excluded_at_upload(network):
    audience.suppress(
        organisation_id=network.org.pk,
        channel=Channel.EMAIL,
        hashes=[audience.hash_value("ann@example.test")],
        reason=Suppression.Reason.OPT_OUT,
    )
    plist, _report = upload_prospects(network, GOOD)
    assert plist.row_count == 1 and plist.excluded_count == 1
    assert not ProspectRecord.unscoped.filter(email="ann@example.test").exists()


def test_only_its_campaign_may_use_the_list(network):
    plist, _ = upload_prospects(network, GOOD)
    with activate(network.scope("store_b")):
        assert prospects.records_for_campaign(prospect_list=plist, campaign_ref="spring-2027").count() == 2
        with pytest.raises(ValidationError, match="only be used by the campaign"):
            prospects.records_for_campaign(prospect_list=plist, campaign_ref="summer-2027")
    with activate(network.scope("store_a")):
        assert not ProspectList.objects.filter(pk=plist.pk).exists()
        assert not ProspectRecord.objects.exists()


def test_purge_deletes_rows_and_records_who_when_how_many(network):
    plist, _ = upload_prospects(network, GOOD)
    with activate(network.scope("store_b")):
        purge = prospects.purge_list(prospect_list=plist)
        assert purge.rows_deleted == 2 and purge.purged_by_id == network.users["store_b"].pk
        assert plist.status == ProspectList.Status.PURGED
        assert not ProspectRecord.unscoped.exists()
        with pytest.raises(ValidationError, match="purged"):
            prospects.records_for_campaign(prospect_list=plist, campaign_ref="spring-2027")
        stats = prospects.prospect_list_stats()
    assert stats == {
        "lists": 1,
        "active": 0,
        "purged": 1,
        "uploaded_rows": 2,
        "excluded_rows": 0,
        "rows_held": 0,
    }


def test_scheduled_purge_by_job_and_command(network):
    due, _ = upload_prospects(network, GOOD)
    later, _ = upload_prospects(network, GOOD)
    ProspectList.unscoped.filter(pk=due.pk).update(
        purge_after=timezone.localdate() - datetime.timedelta(days=1)
    )
    jobs.enqueue(prospects.JOB_KIND, scope=network.scope("hq_admin"), params={}, by_user_id=None)
    jobs.run_pending("test")
    assert ProspectList.unscoped.get(pk=due.pk).status == ProspectList.Status.PURGED
    assert ProspectList.unscoped.get(pk=later.pk).status == ProspectList.Status.ACTIVE
    record = ProspectListPurge.unscoped.get()
    assert (record.reason, record.rows_deleted, record.purged_by_id) == ("scheduled", 2, None)
    ProspectList.unscoped.filter(pk=later.pk).update(
        purge_after=timezone.localdate() - datetime.timedelta(days=1)
    )
    call_command("purge_prospect_lists", "--org", network.org.slug)
    assert ProspectList.unscoped.get(pk=later.pk).status == ProspectList.Status.PURGED


def test_upload_page_reports_rows_and_store_b_cannot_reach_store_a_lists(login, network):
    client = login(network, "store_a")
    response = client.post(
        reverse("targeting:prospect_upload"),
        {
            "name": "L",
            "campaign_ref": "c1",
            "purge_after": (timezone.localdate() + datetime.timedelta(days=5)).isoformat(),
            "entity": network.store_a.pk,
            "file": SimpleUploadedFile("l.csv", b"email\nbad\n"),
        },
    )
    assert response.status_code == 200 and b'data-testid="row-errors"' in response.content
    assert not ProspectList.unscoped.exists()
    response = client.post(
        reverse("targeting:prospect_upload"),
        {
            "name": "L",
            "campaign_ref": "c1",
            "purge_after": (timezone.localdate() + datetime.timedelta(days=5)).isoformat(),
            "entity": network.store_b.pk,  # not store A's to choose
            "file": SimpleUploadedFile("l.csv", GOOD),
        },
    )
    assert response.status_code == 200 and not ProspectList.unscoped.exists()
    plist, _ = upload_prospects(network, GOOD, persona="store_a", store=network.store_a)
    other = login(network, "store_b")
    assert other.get(reverse("targeting:prospect_list", kwargs={"pk": plist.pk})).status_code == 404
    assert other.post(reverse("targeting:prospect_purge", kwargs={"pk": plist.pk})).status_code == 404
    assert ProspectList.unscoped.get(pk=plist.pk).status == ProspectList.Status.ACTIVE
    # the contact list and search know nothing of them
    contacts = login(network, "store_a").get(reverse("audience:list"), {"q": "ann@example.test"})
    assert b"No contact matches." in contacts.content


def _campaign(entity, state: str = "draft"):
    from glocal.campaigns.models import Campaign
    from glocal.creatives.models import ChannelTemplate, TemplateVersion

    template = ChannelTemplate.unscoped.create(
        organisation=entity.organisation, entity=entity, channel="sms", name="T", status="published"
    )
    version = TemplateVersion.unscoped.create(
        organisation=entity.organisation,
        template=template,
        number=1,
        source="{{ store.name }} STOP au 36180",
        zones=[],
        published_at=timezone.now(),
    )
    return Campaign.unscoped.create(
        organisation=entity.organisation, entity=entity, name="Spring", version=version, state=state
    )


def test_a_list_bound_to_a_campaign_serves_that_campaign_only(network):
    spring, other = _campaign(network.store_b), _campaign(network.store_b)
    with pytest.raises(ValidationError, match="not this store"):
        upload_prospects(network, GOOD, campaign=_campaign(network.store_a))
    plist, _ = upload_prospects(network, GOOD, campaign=spring)
    assert plist.campaign_id == spring.pk
    with activate(network.scope("store_b")):
        assert prospects.records_for_campaign(prospect_list=plist, campaign=spring).count() == 2
        assert list(prospects.lists_for_campaign(spring)) == [plist]
        for wrong in ({"campaign": other}, {"campaign_ref": plist.campaign_ref}, {}):
            with pytest.raises(ValidationError):
                prospects.records_for_campaign(prospect_list=plist, **wrong)
        type(spring).unscoped.filter(pk=spring.pk).update(state="cancelled")
        assert list(prospects.due_lists()) == [plist]  # a cancelled campaign's list is due for purge
