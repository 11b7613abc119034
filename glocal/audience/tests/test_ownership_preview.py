"""A rule change shows its impact before anything moves; the recomputation logs every transfer."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from glocal.audience import services
from glocal.audience.models import AudienceSettings, Contact, OwnershipTransfer
from glocal.audience.tests.test_services import make
from glocal.core import jobs
from glocal.core.models import Job
from glocal.core.scope import activate

BODY = {
    "s-ownership_rule": "last_purchase",
    "s-ownership_months": "12",
    "s-prospect_retention_years": "3",
    "settings-submit": "1",
}


def seed(network):
    """Three of store A's contacts bought last at store B, one at store A2, one bought nowhere."""
    made = [make(network, "store_a", email=f"c{i}@example.test", last_name=f"C{i}") for i in range(5)]
    today = timezone.localdate()
    with activate(network.scope("hq_admin")):
        for contact, store in zip(made, [network.store_b] * 3 + [network.store_a2], strict=False):
            services.purchase_record(contact=contact, entity=store, date=today, amount=Decimal("9"))
    return made


def owners():
    return list(Contact.unscoped.order_by("pk").values_list("pk", "owner_id"))


@pytest.mark.django_db
def test_preview_writes_nothing_and_matches_what_the_job_applies(network, login):
    seed(network)
    client = login(network, "hq_admin")
    before = (owners(), OwnershipTransfer.unscoped.count(), Job.unscoped.count())
    preview = client.post(reverse("audience:settings"), BODY)
    assert preview.status_code == 200
    assert (owners(), OwnershipTransfer.unscoped.count(), Job.unscoped.count()) == before
    assert not AudienceSettings.unscoped.exists()
    impact = preview.context["impact"]
    flows = {(a.pk, b.pk): n for a, b, n in impact.flows}
    assert impact.total == 4
    assert flows == {
        (network.store_a.pk, network.store_b.pk): 3,
        (network.store_a.pk, network.store_a2.pk): 1,
    }
    assert "Magasin B" in preview.content.decode()

    response = client.post(reverse("audience:settings"), {**BODY, "digest": impact.digest})
    job = Job.unscoped.get(kind=services.OWNERSHIP_JOB)
    assert response.status_code == 302 and response.url == reverse("core:job", args=[job.pk])
    assert jobs.run_pending("test") == 1
    job.refresh_from_db()
    logged = OwnershipTransfer.unscoped.filter(job=job, reason="rule")
    applied: dict[tuple[int, int], int] = {}
    for t in logged:
        applied[(t.from_entity_id, t.to_entity_id)] = applied.get((t.from_entity_id, t.to_entity_id), 0) + 1
        assert t.detail == "last_purchase"
    assert applied == flows and job.result["changed"] == impact.total == logged.count()
    page = client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert "4 contacts moved" in page and reverse("audience:transfers") in page


@pytest.mark.django_db
def test_confirming_a_stale_preview_shows_the_new_impact(network, login):
    made = seed(network)
    client = login(network, "hq_admin")
    digest = client.post(reverse("audience:settings"), BODY).context["impact"].digest
    with activate(network.scope("hq_admin")):  # meanwhile, one more sale elsewhere
        services.purchase_record(
            contact=made[4], entity=network.store_b, date=timezone.localdate(), amount=Decimal("1")
        )
    again = client.post(reverse("audience:settings"), {**BODY, "digest": digest})
    assert again.status_code == 200 and again.context["stale"] and again.context["impact"].total == 5
    assert not Job.unscoped.exists() and not AudienceSettings.unscoped.exists()


def transfers(network, t0):
    """Two transfers: A → B yesterday, A → A2 ten days ago (and one in another organisation's store)."""
    made = [make(network, "store_a", email=f"t{i}@example.test") for i in range(3)]
    with activate(network.scope("hq_admin")):
        services.contact_assign(contact=made[0], entity=network.store_b)
        services.contact_assign(contact=made[1], entity=network.store_a2)
    first, second = OwnershipTransfer.unscoped.filter(reason="manual").order_by("pk")
    OwnershipTransfer.unscoped.filter(pk=first.pk).update(created_at=t0 - datetime.timedelta(days=1))
    OwnershipTransfer.unscoped.filter(pk=second.pk).update(created_at=t0 - datetime.timedelta(days=10))
    return first, second


def listed(response):
    assert response.status_code == 200
    return {t.pk for t in response.context["page"]}


@pytest.mark.django_db
def test_the_log_is_filtered_by_store_and_dates(network, login):
    now = timezone.now()
    first, second = transfers(network, now)
    client = login(network, "hq_admin")
    url = reverse("audience:transfers")
    assert listed(client.get(url)) == {first.pk, second.pk}
    assert listed(client.get(url, {"store": network.store_b.pk})) == {first.pk}
    assert listed(client.get(url, {"store": network.store_a2.pk})) == {second.pk}
    since = (timezone.localdate(now) - datetime.timedelta(days=3)).isoformat()
    assert listed(client.get(url, {"since": since})) == {first.pk}
    assert listed(client.get(url, {"until": since})) == {second.pk}


@pytest.mark.django_db
def test_a_store_sees_only_its_own_transfers(network, login):
    first, second = transfers(network, timezone.now())
    url = reverse("audience:transfers")
    assert listed(login(network, "store_b").get(url)) == {first.pk}  # in
    store_a = login(network, "store_a").get(url)
    assert listed(store_a) == {first.pk, second.pk}  # out
    assert f"#{first.contact_id}" in store_a.content.decode()  # a lost contact: no name, no link
    assert listed(login(network, "other_org").get(url)) == set()


@pytest.mark.django_db
def test_the_log_names_the_rule_in_french(network, login):
    contact = make(network, "store_a", email="rule@example.test")
    OwnershipTransfer.unscoped.create(
        organisation=network.org,
        contact=contact,
        from_entity=network.store_a,
        to_entity=network.store_b,
        reason=OwnershipTransfer.Reason.RULE,
        detail=AudienceSettings.OwnershipRule.LAST_PURCHASE,
    )
    client = login(network, "hq_admin")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get(reverse("audience:transfers")).content.decode()
    assert "Règle de rattachement (Magasin du dernier achat)" in page
    assert "last_purchase" not in page
