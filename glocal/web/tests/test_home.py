"""The home pages as each persona's to-do list: seeded through the services, each item shows with its
link and deadline, and goes away once done. The store's home runs the same number of queries whatever
the number of campaigns."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from glocal.campaigns import selectors as campaign_selectors
from glocal.campaigns import services
from glocal.campaigns.models import Campaign, Operation
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts, in_days, make_operation, publish
from glocal.core import jobs
from glocal.core.scope import activate
from glocal.delivery import dispatch, feedback, launch, tokens, tracking
from glocal.delivery import services as delivery_services
from glocal.delivery.models import DeliverySettings, Message
from glocal.delivery.transports.sms_http import DeliveryReceipt
from glocal.web import selectors

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def page(login, network, persona: str) -> str:
    response = login(network, persona).get(reverse("core:home"))
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, testid: str) -> str:
    """The HTML of the element marked ``data-testid=testid`` (a section of the home)."""
    match = re.search(rf'<(section|ul|li)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    return match.group(2) if match else ""


def local_campaign(network, template, *, days: float, name: str, policy: str = "none", submit: bool = True):
    """Store A's local campaign sent in ``days`` days, submitted (``policy`` none: scheduled at once)."""
    with activate(network.scope("store_a")):
        template.approval_policy = policy
        template.save(update_fields=["approval_policy"])
        c = services.campaign_create(entity=network.store_a, template=template, name=name)
        values = {"headline": "Nous rouvrons !", "body": "<p>Venez</p>"}
        if template.channel == "sms":
            values = {"message": "Soldes ce week-end"}
        services.campaign_update(campaign=c, values=values, scheduled_at=in_days(days))
        if submit:
            services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))
    return Campaign.unscoped.get(pk=c.pk)


# -- the store ------------------------------------------------------------------------------------------


def test_a_store_with_nothing_pending_says_so_plainly(network, login):
    html = page(login, network, "store_a")
    assert "Nothing to do." in section(html, "todo")
    assert "Nothing planned in the next 14 days." in html
    assert "No campaign sent yet." in html
    # the store card and the (short) activity feed stay, below
    assert "My store" in html and "Recent activity" in html
    assert html.index('data-testid="todo"') < html.index("My store") < html.index("Recent activity")


def test_the_kiosk_is_one_tap_away_for_the_store_manager(network, login):
    html = page(login, network, "store_a")
    link = reverse("targeting:lead_store", args=[network.store_a.pk])
    assert f'href="{link}"' in html and "Collect contacts" in html
    # staff may not manage the lead form (the matrix): no dead link
    assert "Collect contacts" not in page(login, network, "staff_a")


def test_an_operation_moves_from_answer_to_personalise_to_approval_to_changes(
    network, templates, contacts, login
):
    op = publish(network, make_operation(network, templates))
    # 1. waiting for the store's answer, with its deadline and the days left
    todo = section(page(login, network, "store_a"), "todo")
    assert "Take part in “Foire aux vins”?" in todo
    assert reverse("campaigns:operation", args=[op.pk]) in todo
    assert "in 3 days" in todo
    assert "Nothing to do." not in todo
    # 2. answered: the answer goes, the wave to personalise comes (personalisation deadline: 5 days)
    with activate(network.scope("store_a")):
        services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
    wave = Campaign.unscoped.get(operation=op, entity=network.store_a)
    todo = section(page(login, network, "store_a"), "todo")
    assert "Take part in" not in todo
    assert "Personalise “Foire aux vins — Email teaser”" in todo
    assert reverse("campaigns:edit", args=[wave.pk]) in todo
    assert "in 5 days" in todo
    # 3. personalised and submitted: it waits for the region's approval, nothing left to do
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=wave, values={"headline": "La foire à Lille"})
        services.campaign_submit(campaign=Campaign.objects.get(pk=wave.pk))
    html = page(login, network, "store_a")
    assert "Nothing to do." in section(html, "todo")
    assert "Foire aux vins — Email teaser" in section(html, "awaiting")
    # 4. sent back by the regional manager: back in the to-do list, with the comment and who asked
    with activate(network.scope("regional")):
        step = campaign_selectors.approval_queue()[0]
        services.approval_decide(step=step, approve=False, comment="Le titre est trop long")
    html = page(login, network, "store_a")
    todo = section(html, "todo")
    assert "Change “Foire aux vins — Email teaser”" in todo
    assert "Sent back by Regional:" in todo and "Le titre est trop long" in todo
    assert reverse("campaigns:edit", args=[wave.pk]) in todo
    assert not section(html, "awaiting")
    # the other store of the operation still has its own answer to give, and nothing of store A's
    other = section(page(login, network, "store_b"), "todo")
    assert "Take part in “Foire aux vins”?" in other and "Le titre" not in other


def test_staff_personalise_but_do_not_answer(network, templates, login):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    todo = section(page(login, network, "staff_a"), "todo")
    assert "Take part in" not in todo  # mandatory: every store is in; and staff never answer
    assert "Personalise “Foire aux vins — Email teaser”" in todo
    assert Campaign.unscoped.filter(operation=op, entity=network.store_a).exists()


def test_upcoming_sends_are_the_next_14_days(network, templates, contacts, login):
    local_campaign(network, templates.email, days=5, name="Soirée dégustation")
    local_campaign(network, templates.sms, days=20, name="Vente privée")
    upcoming = section(page(login, network, "store_a"), "upcoming")
    assert "Soirée dégustation" in upcoming and "Email" in upcoming
    assert "Vente privée" not in upcoming
    assert "Soirée dégustation" not in section(page(login, network, "store_b"), "upcoming")


def test_last_results_count_and_rate_opens_clicks_and_unsubscribes(
    network, templates, login, settings, smtp_server
):
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    contacts = add_contacts(network.store_a, 4)
    campaign = local_campaign(network, templates.email, days=3, name="Réouverture")
    Campaign.unscoped.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    launch.launch_due()
    dispatch.drain("home-test")
    dispatch.finish_campaigns()
    messages = list(Message.unscoped.filter(campaign=campaign).order_by("pk"))
    assert len(messages) == 4
    for m in messages[:2]:
        delivery_services.record_open(tracking.make_ref(m.stable_id))
    delivery_services.record_click(tracking.make_ref(messages[0].stable_id), "https://example.test/")
    contact = next(c for c in contacts if c.pk == messages[1].contact_id)
    claim = tokens.UnsubscribeClaim(contact.pk, network.org.pk, "email", messages[1].stable_id)
    delivery_services.unsubscribe(claim, contact)

    results = section(page(login, network, "store_a"), "results")
    assert "Réouverture" in results
    assert reverse("delivery:campaign", args=[campaign.pk]) in results
    figures = re.findall(
        r"<dt>([^<]+)</dt><dd>(\d+)(?: <span class=\"muted\">\(([^)]+)\)</span>)?</dd>", results
    )
    assert figures == [
        ("Messages sent", "4", ""),
        ("Opens", "2", "50%"),
        ("Clicks", "1", "25%"),
        ("Unsubscribes", "1", "25%"),
    ]


def test_the_store_home_runs_the_same_queries_whatever_the_number_of_campaigns(
    network, templates, contacts, login
):
    def queries() -> int:
        client = login(network, "store_a")
        client.get(reverse("core:home"))  # warm: session, caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("core:home")).status_code == 200
        return len(captured)

    def one_of_each(n: int) -> None:
        op = publish(network, make_operation(network, templates, name=f"Opération {n}"))
        with activate(network.scope("store_a")):
            services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
        publish(network, make_operation(network, templates, name=f"À répondre {n}"))
        local_campaign(network, templates.email, days=4, name=f"Programmée {n}")
        local_campaign(network, templates.email, days=6, name=f"À valider {n}", policy="regional")
        sent_back = local_campaign(network, templates.email, days=8, name=f"Renvoyée {n}", policy="hq")
        with activate(network.scope("hq_admin")):
            step = next(s for s in campaign_selectors.approval_queue() if s.campaign_id == sent_back.pk)
            services.approval_decide(step=step, approve=False, comment="Autre visuel")
        sent = local_campaign(network, templates.email, days=2, name=f"Envoyée {n}")
        with activate(network.scope("store_a")):
            services.campaign_start_sending(campaign=Campaign.objects.get(pk=sent.pk))
            services.campaign_mark_sent(campaign=Campaign.objects.get(pk=sent.pk), sent_count=0)

    # many campaigns to the same few contacts: HQ's pressure cap must not refuse them
    DeliverySettings.unscoped.create(organisation=network.org, caps=[{"limit": 100, "days": 1}])
    one_of_each(1)
    few = queries()
    for n in range(2, 5):
        one_of_each(n)
    html = page(login, network, "store_a")
    assert html.count('data-testid="task-answer"') == 4
    assert html.count('data-testid="task-personalise"') == 4
    assert html.count('data-testid="task-sent-back"') == 4
    assert queries() == few


# -- the region -----------------------------------------------------------------------------------------


def test_the_region_sees_its_approvals_its_silent_stores_and_its_sends(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates))
    local_campaign(network, templates.email, days=6, name="Réouverture", policy="regional")
    html = page(login, network, "regional")
    todo = section(html, "todo")
    assert "1 proof waits for your approval" in todo
    assert reverse("campaigns:approvals") in todo
    # region N's two stores have not answered; store B (region S) is not the regional manager's
    assert "“Foire aux vins”: 2 stores have not answered" in todo
    assert "Magasin A, Magasin A2" in todo and "Magasin B" not in todo
    assert "in 3 days" in todo
    # one answers, the other is still to chase; the approval is given: both lines change
    with activate(network.scope("store_a")):
        services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
    with activate(network.scope("regional")):
        services.approval_decide(step=campaign_selectors.approval_queue()[0], approve=True)
    html = page(login, network, "regional")
    todo = section(html, "todo")
    assert "proof" not in todo
    assert "“Foire aux vins”: 1 store has not answered" in todo and "Magasin A2" in todo
    # the approved campaign is scheduled: among the region's sends, with its store
    upcoming = section(html, "upcoming")
    assert "Magasin A" in upcoming and "Réouverture" in upcoming
    # the last store answers: nothing left to do
    with activate(network.scope("hq_admin")):
        services.participation_decide(operation=op, entity=network.store_a2, subscribe=False)
    assert "Nothing to do." in section(page(login, network, "regional"), "todo")


# -- head office ----------------------------------------------------------------------------------------


def test_hq_sees_operations_in_progress_with_their_participation(network, templates, contacts, login):
    op = publish(network, make_operation(network, templates))
    with activate(network.scope("store_a")):
        services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
    with activate(network.scope("store_b")):
        services.participation_decide(operation=op, entity=network.store_b, subscribe=False)
    html = page(login, network, "hq_admin")
    table = section(html, "in-progress")
    assert "Foire aux vins" in table and reverse("campaigns:operation", args=[op.pk]) in table
    cells = re.findall(r"<td>(\d+ / \d+)</td>", table)
    assert cells == ["2 / 3", "1 / 3", "0 / 1"]  # answered, taking part (of 3 stores), personalised
    assert "Answers by" in table and "in 3 days" in table
    todo = section(html, "todo")
    assert "“Foire aux vins”: 1 store has not answered" in todo and "Magasin A2" in todo
    # store A personalises and submits its wave: personalised 1 of 1
    wave = Campaign.unscoped.get(operation=op, entity=network.store_a)
    with activate(network.scope("store_a")):
        services.campaign_update(campaign=wave, values={"headline": "La foire à Lille"})
        services.campaign_submit(campaign=Campaign.objects.get(pk=wave.pk))
    cells = re.findall(r"<td>(\d+ / \d+)</td>", section(page(login, network, "hq_admin"), "in-progress"))
    assert cells == ["2 / 3", "1 / 3", "1 / 1"]


def test_hq_approvals_are_those_waiting_for_head_office(network, templates, contacts, login):
    regional = local_campaign(network, templates.email, days=6, name="Pour la région", policy="regional")
    hq = local_campaign(network, templates.email, days=6, name="Pour le siège", policy="hq")
    todo = section(page(login, network, "hq_marketer"), "todo")
    assert "1 proof waits for head office's approval" in todo
    assert f"{reverse('campaigns:approvals')}?level=hq" in todo
    with activate(network.scope("hq_marketer")):
        step = next(s for s in campaign_selectors.approval_queue() if s.campaign_id == hq.pk)
        services.approval_decide(step=step, approve=True)
    assert "Nothing to do." in section(page(login, network, "hq_marketer"), "todo")
    assert Campaign.unscoped.get(pk=regional.pk).state == State.SUBMITTED


def test_hq_sees_failed_background_work(network, login):
    @jobs.job_handler("test.home_fail")
    def _fail(job, report):
        raise ValueError("broken input")

    with activate(network.scope("hq_admin")):
        job = jobs.enqueue(
            "test.home_fail",
            scope=network.scope("hq_admin"),
            params={"filename": "clients.csv"},
            by_user_id=None,
        )
    jobs.run_pending("w1")
    todo = section(page(login, network, "hq_admin"), "todo")
    assert "Failed: test.home_fail — clients.csv" in todo
    assert reverse("core:job", args=[job.pk]) in todo
    # a week later it is no longer news
    with activate(network.scope("hq_admin")):
        assert selectors.failed_jobs(now=timezone.now() + dt.timedelta(days=8)) == []


def test_hq_sees_campaigns_with_many_bounces(network, templates, login, settings):
    settings.GLOCAL_SMS_PROVIDER = "capture"
    add_contacts(network.store_a, 20)
    now = dt.datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)  # a Tuesday morning: SMS may go out
    campaign = local_campaign(network, templates.sms, days=3, name="Soldes")
    # no control group: all 20 contacts get the SMS
    Campaign.unscoped.filter(pk=campaign.pk).update(
        scheduled_at=now - dt.timedelta(minutes=1), holdout_percent=0
    )
    launch.launch_due(now=now)
    worker = dispatch.Dispatcher("sms-worker")
    for message in dispatch.claim("sms-worker", now=now):
        worker.process([message], dispatch.Outcome())
    assert "Many bounces" not in section(page(login, network, "hq_admin"), "todo")
    for m in Message.unscoped.filter(campaign=campaign).order_by("pk")[:2]:
        receipt = DeliveryReceipt(provider_id=m.provider_id, status="failed", stable_id=m.stable_id)
        feedback.sms_receipt("json", receipt)
    todo = section(page(login, network, "hq_admin"), "todo")
    assert "Many bounces: “Soldes” (10%)" in todo
    assert "2 of 20 messages bounced or were refused" in todo
    assert reverse("delivery:campaign", args=[campaign.pk]) in todo


def test_the_home_speaks_french(network, templates, login, settings):
    publish(network, make_operation(network, templates))
    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client.get(reverse("core:home")).content.decode()
    assert "Participer à «\u00a0Foire aux vins\u00a0»\u00a0?" in html
    assert "Collecter des contacts" in html
    assert "dans 3\u00a0jours" in html
    assert "À faire" in html and "Derniers résultats" in html and "Rien de prévu" in html
