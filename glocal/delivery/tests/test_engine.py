"""The delivery engine end to end on a real SMTP server (aiosmtpd): launch → outbox → dispatch → sink,
the recipient's endpoints, retries and bounces, sending windows, pressure arbitration."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from glocal.audience.models import ConsentStatus, Contact, Suppression, hash_value
from glocal.campaigns import services as campaign_services
from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts, in_days
from glocal.core.scope import activate
from glocal.delivery import dispatch, launch, tracking
from glocal.delivery.dispatch import outbox, sending
from glocal.delivery.models import DeliverySettings, Exclusion, Message, MessageEvent

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def scheduled_campaign(network, template, *, store=None, name="Réouverture", persona="store_a", when=None):
    """A store's campaign, approved (policy: none) and scheduled, its send date moved to ``when``."""
    store = store or network.store_a
    with activate(network.scope(persona)):
        template.approval_policy = "none"
        template.save(update_fields=["approval_policy"])
        c = campaign_services.campaign_create(entity=store, template=template, name=name)
        values = {"headline": "Nous rouvrons !", "body": "<p>Venez nous voir</p>"}
        if template.channel == "sms":
            values = {"message": "Soldes ce week-end"}
        # no control group (test_control_group.py has them): every contact is messaged
        campaign_services.campaign_update(
            campaign=c, values=values, scheduled_at=in_days(3), holdout_percent=0
        )
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=c.pk))
    campaign = Campaign.unscoped.get(pk=c.pk)
    assert campaign.state == State.SCHEDULED
    Campaign.unscoped.filter(pk=c.pk).update(scheduled_at=when or timezone.now() - dt.timedelta(minutes=1))
    return Campaign.unscoped.get(pk=c.pk)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    return smtp_server


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def campaign_mail(sink, campaign):
    return [m for _f, _to, m in sink.messages if m["List-Id"] and f"g{campaign.pk}." in m["List-Id"]]


def test_a_campaign_goes_out_with_the_store_details_tracking_and_one_click_unsubscribe(
    network, templates, smtp_settings
):
    # given a scheduled local campaign of store A: 5 consenting contacts, 2 without consent, 1 opposed
    sink = smtp_settings
    reachable = add_contacts(network.store_a, 5, first_name="Camille")
    add_contacts(network.store_a, 2, consent="", prefix="noconsent")
    opposed = add_contacts(network.store_a, 1, prefix="opposed")[0]
    Suppression.unscoped.create(
        organisation=network.org, channel="email", value_hash=opposed.email_hash, reason="manual"
    )
    network.store_a.latitude, network.store_a.longitude = 50.6365, 3.0635  # its map link has a "&"
    network.store_a.save(update_fields=["latitude", "longitude"])
    campaign = scheduled_campaign(network, templates.email)
    # when the engine launches and sends
    reports = launch.launch_due()
    assert [r.queued for r in reports] == [5]
    dispatch.drain("test-worker")
    dispatch.finish_campaigns()
    # then each reachable contact got exactly one message, the others are excluded with their reason
    received = campaign_mail(sink, campaign)
    assert sorted(m["To"].addresses[0].addr_spec for m in received) == sorted(c.email for c in reachable)
    reasons = dict(Exclusion.unscoped.filter(campaign=campaign).values_list("contact__last_name", "reason"))
    assert reasons == {"noconsent0": "no_consent", "noconsent1": "no_consent", "opposed0": "opposition"}
    campaign.refresh_from_db()
    assert campaign.state == State.SENT and campaign.sent_count == 5
    message = received[0]
    # the store's details, RFC 5322 and RFC 8058 headers, the signed stable id as Message-ID
    assert network.store_a.name in str(message["From"])
    contact = Contact.unscoped.get(email=message["To"].addresses[0].addr_spec)
    assert message["Message-ID"] == f"<{tracking.make_ref(f'g{campaign.pk}-{contact.pk}')}@glocal.localhost>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    assert network.store_a.name in html
    unsubscribe_url = found(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"])
    click_url = found(r'href="(http://testserver/c/[^"]+)"', html).replace("&amp;", "&")
    pixel_url = found(r'src="(http://testserver/o/[^"]+\.gif)"', html)
    client = Client()
    # a tracked link redirects to its own target (unescaped) and counts a click
    answer = client.get(click_url.removeprefix("http://testserver"))
    assert answer.status_code == 302 and answer["Location"].startswith("http")
    targets = [
        client.get(url.replace("&amp;", "&").removeprefix("http://testserver"))["Location"]
        for url in re.findall(r'href="(http://testserver/c/[^"]+)"', html)
    ]
    assert "https://www.openstreetmap.org/?mlat=50.636500&mlon=3.063500#map=17/50.636500/3.063500" in targets
    assert client.get(pixel_url.removeprefix("http://testserver"))["Content-Type"] == "image/gif"
    sent = Message.unscoped.get(campaign=campaign, contact=contact)
    assert sent.clicked_at is not None and sent.opened_at is not None
    # GET shows the preference page and unsubscribes nobody (link scanners prefetch)
    path = unsubscribe_url.removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    contact.refresh_from_db()
    assert contact.consent_email == ConsentStatus.OPT_IN
    # a POST without cookies or CSRF token unsubscribes, answers 200 and no redirect
    answer = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    contact.refresh_from_db()
    assert contact.consent_email == ConsentStatus.OPT_OUT
    assert Suppression.unscoped.filter(channel="email", value_hash=contact.email_hash).exists()
    assert MessageEvent.unscoped.filter(message=sent, kind="unsubscribed").count() == 1
    # a replay changes nothing; a forged token is a 404
    assert Client().post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert MessageEvent.unscoped.filter(message=sent, kind="unsubscribed").count() == 1
    assert Client().post(path[:-6] + "xxxxx/").status_code == 404


def test_a_contact_who_unsubscribes_while_the_campaign_is_sending_gets_nothing_more(
    network, templates, smtp_settings
):
    sink = smtp_settings
    people = add_contacts(network.store_a, 6)
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    # given the first two messages went out
    worker = dispatch.Dispatcher("test-worker", claim_size=2)
    assert worker.run_once().sent == 2
    # when a contact still waiting unsubscribes (through the link of another campaign, say)
    waiting = Message.unscoped.filter(campaign=campaign, status="queued").order_by("id")[0]
    late = Contact.unscoped.get(pk=waiting.contact_id)
    with activate(network.scope("hq_admin")):
        from glocal.audience import services as audience_services

        audience_services.contact_opt_out(contact=late, channel="email")
    for _ in range(10):  # a few batches are enough for the 4 left
        worker.run_once()
    worker.close()
    assert not Message.unscoped.filter(campaign=campaign, status="queued").exists()
    # then they received nothing, their message says why, and everybody else got theirs
    addresses = [m["To"].addresses[0].addr_spec for m in campaign_mail(sink, campaign)]
    assert late.email not in addresses
    assert len(addresses) == len(people) - 1
    skipped = Message.unscoped.get(pk=waiting.pk)
    assert skipped.status == "skipped" and "unsubscribed" in skipped.last_error


def test_temporary_failures_retry_later_and_hard_bounces_suppress(network, templates, settings, faulty_smtp):
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", faulty_smtp.port
    for local in ("rcpt-temp", "rcpt-perm", "data-perm", "ok"):
        email = f"{local}@example.test"
        Contact.unscoped.create(
            organisation=network.org, owner=network.store_a, owner_path=network.store_a.path, last_name=local,
            email=email, email_hash=hash_value(email), consent_email="opt_in",
        )  # fmt: skip
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    outcome = dispatch.drain("test-worker")
    assert (outcome.sent, outcome.retried, outcome.failed) == (1, 1, 2)
    rows = {m.to_address.split("@")[0]: m for m in Message.unscoped.filter(campaign=campaign)}
    # 4.x.x: back in the queue, later (exponential backoff), never dropped
    assert rows["rcpt-temp"].status == "queued" and rows["rcpt-temp"].not_before > timezone.now()
    # 5.1.1: failed, and the address goes on the opposition list
    assert rows["rcpt-perm"].status == "failed" and rows["rcpt-perm"].enhanced_code == "5.1.1"
    assert Suppression.unscoped.filter(
        value_hash=hash_value("rcpt-perm@example.test"), reason="bounce"
    ).exists()
    # 5.7.1 (sender policy): failed, the operator is alerted, the recipient is NOT suppressed
    assert rows["data-perm"].status == "failed"
    assert (
        MessageEvent.unscoped.get(message=rows["data-perm"], kind="failed").detail["operator_alert"] is True
    )
    assert not Suppression.unscoped.filter(value_hash=hash_value("data-perm@example.test")).exists()
    # the campaign is not finished while a retry is pending
    dispatch.finish_campaigns()
    assert Campaign.unscoped.get(pk=campaign.pk).state == State.SENDING


def test_an_unknown_outcome_is_retried_and_counted_as_a_possible_duplicate(
    network, templates, settings, faulty_smtp
):
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", faulty_smtp.port
    email = "drop-after-dot@example.test"
    Contact.unscoped.create(
        organisation=network.org, owner=network.store_a, owner_path=network.store_a.path,
        email=email, email_hash=hash_value(email), consent_email="opt_in",
    )  # fmt: skip
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    dispatch.drain("test-worker")
    row = Message.unscoped.get(campaign=campaign)
    assert row.status == "queued" and row.possible_duplicate is True
    assert len(faulty_smtp.received) == 1  # the server had it: a resend would be the duplicate we count


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Sunday 6 December 2026, 10:00 in Paris → Monday 08:00
        (dt.datetime(2026, 12, 6, 10, 0, tzinfo=PARIS), dt.datetime(2026, 12, 7, 8, 0, tzinfo=PARIS)),
        # Friday 25 December 2026 (Christmas) → Saturday 26 December 08:00
        (dt.datetime(2026, 12, 25, 9, 0, tzinfo=PARIS), dt.datetime(2026, 12, 26, 8, 0, tzinfo=PARIS)),
        # Monday 7 December, 21:30 → Tuesday 08:00
        (dt.datetime(2026, 12, 7, 21, 30, tzinfo=PARIS), dt.datetime(2026, 12, 8, 8, 0, tzinfo=PARIS)),
    ],
)
def test_french_sms_outside_the_window_waits_for_the_next_allowed_time(network, templates, now, expected):
    add_contacts(network.store_a, 2)
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=5))
    launch.launch_due(now=now)
    waits = set(Message.unscoped.filter(campaign=campaign).values_list("not_before", flat=True))
    assert waits == {expected}
    # nothing is sent before, nothing is dropped
    assert dispatch.claim("w", now=expected - dt.timedelta(seconds=1)) == []
    assert len(dispatch.claim("w", now=expected)) == 2


def test_an_overseas_recipient_gets_sms_in_their_own_time(network, templates):
    # given a Réunion mobile (+262 692…) and a Paris one, launched at 07:30 in Paris (10:30 in Réunion)
    email = "reunion@example.test"
    Contact.unscoped.create(
        organisation=network.org, owner=network.store_a, owner_path=network.store_a.path, email=email,
        email_hash=hash_value(email), mobile="+262692123456", mobile_hash=hash_value("+262692123456"),
        consent_sms="opt_in", country="RE",
    )  # fmt: skip
    add_contacts(network.store_a, 1)
    now = dt.datetime(2026, 12, 8, 7, 30, tzinfo=PARIS)
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    waits = dict(Message.unscoped.filter(campaign=campaign).values_list("to_address", "not_before"))
    assert waits["+262692123456"] == now  # already 10:30 in Réunion: goes now
    paris = next(v for k, v in waits.items() if k.startswith("+33"))
    assert paris == dt.datetime(2026, 12, 8, 8, 0, tzinfo=PARIS)


def test_sms_go_out_through_the_capture_provider_with_their_text_kept(network, templates, settings):
    settings.GLOCAL_SMS_PROVIDER = "capture"
    add_contacts(network.store_a, 3)
    now = dt.datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    worker = dispatch.Dispatcher("sms-worker")
    for message in dispatch.claim("sms-worker", now=now):
        worker.process([message], dispatch.Outcome())
    bodies = list(Message.unscoped.filter(campaign=campaign).values_list("status", "body"))
    assert len(bodies) == 3 and all(status == "sent" and "STOP" in body for status, body in bodies)


def test_pressure_keeps_local_first_and_explains_each_exclusion(network, templates, smtp_settings):
    # given two campaigns of store A due together, a third one due later, and HQ's rule "at most 1 email
    # per 7 days" (set once they are scheduled: a submission the cap would leave empty is refused)
    people = add_contacts(network.store_a, 3)
    local = scheduled_campaign(network, templates.email, name="Week-end ensoleillé")
    central = scheduled_campaign(network, templates.email, name="Foire aux vins")
    Campaign.unscoped.filter(pk=central.pk).update(kind=Campaign.Kind.OPERATION)
    later = scheduled_campaign(network, templates.email, name="Rentrée", when=in_days(2))
    DeliverySettings.unscoped.create(
        organisation=network.org, caps=[{"limit": 1, "days": 7, "channel": "email"}]
    )
    # when they launch
    launch.launch_due()
    # then the local campaign wins (the default priority), the central one is excluded with the reason
    assert Message.unscoped.filter(campaign=local).count() == len(people)
    assert Message.unscoped.filter(campaign=central).count() == 0
    reasons = {x.explanation() for x in Exclusion.unscoped.filter(campaign=central, reason="pressure")}
    assert len(reasons) == 1
    (reason,) = reasons
    assert "1 email" in reason and "Week-end ensoleillé" in reason
    # and a later campaign the same week is excluded by the history
    Campaign.unscoped.filter(pk=later.pk).update(scheduled_at=timezone.now() - dt.timedelta(minutes=1))
    launch.launch_due()
    assert Message.unscoped.filter(campaign=later).count() == 0
    assert Exclusion.unscoped.filter(campaign=later, reason="pressure").count() == len(people)


def test_cancelling_a_sending_campaign_stops_its_queued_messages(network, templates, smtp_settings):
    add_contacts(network.store_a, 4)
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    with activate(network.scope("store_a")):
        campaign_services.campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk))
    dispatch.drain("w")
    assert set(Message.unscoped.filter(campaign=campaign).values_list("status", flat=True)) == {"cancelled"}
    assert campaign_mail(smtp_settings, campaign) == []


def test_a_killed_workers_claims_go_back_to_the_queue(network, templates, settings):
    add_contacts(network.store_a, 3)
    scheduled_campaign(network, templates.email)
    launch.launch_due()
    claimed = dispatch.claim("dead-worker")  # claimed, then the worker "dies" (never beats)
    assert len(claimed) == 3
    later = timezone.now() + dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS + 1)
    assert dispatch.requeue_stale(now=later) == 3
    assert set(Message.unscoped.values_list("status", flat=True)) == {"queued"}
    assert MessageEvent.unscoped.filter(kind="requeued").count() == 3


def test_a_store_narrows_its_sms_hours_and_never_widens_them(network, templates, client):
    from glocal.delivery.models import SendingWindow

    # given store A's manager sets SMS between 10:00 and 18:00
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    answer = client.post("/delivery/window/", {"sms_start": "10:00", "sms_end": "18:00"})
    assert answer.status_code == 302
    # a window outside the law's (21:00-22:00 in France) is refused with the reason, and not saved
    answer = client.post("/delivery/window/", {"sms_start": "21:00", "sms_end": "22:00"})
    assert answer.status_code == 200 and "leaves no time" in answer.content.decode()
    window = SendingWindow.unscoped.get(entity=network.store_a)
    assert (window.sms_start.hour, window.sms_end.hour) == (10, 18)
    # when an SMS campaign launches at 09:00 on a Tuesday (allowed by law from 08:00)
    add_contacts(network.store_a, 2)
    now = dt.datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)
    campaign = scheduled_campaign(network, templates.sms, when=now - dt.timedelta(minutes=1))
    launch.launch_due(now=now)
    # then its messages wait for the store's 10:00
    waits = set(Message.unscoped.filter(campaign=campaign).values_list("not_before", flat=True))
    assert waits == {dt.datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)}
    # and store B's SMS are not affected by store A's window
    add_contacts(network.store_b, 1)
    other = scheduled_campaign(
        network, templates.sms, store=network.store_b, persona="store_b", when=now - dt.timedelta(minutes=1)
    )
    launch.launch_due(now=now)
    assert set(Message.unscoped.filter(campaign=other).values_list("not_before", flat=True)) == {now}


def test_an_unexpected_error_retries_the_message_later_and_the_batch_goes_on(
    network, templates, smtp_settings, monkeypatch
):
    add_contacts(network.store_a, 4)
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    worker = dispatch.Dispatcher("w")
    real = dispatch.Dispatcher._deliver
    calls = {"n": 0}

    def flaky(self, message, contact):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full while rendering")
        return real(self, message, contact)

    monkeypatch.setattr(dispatch.Dispatcher, "_deliver", flaky)
    outcome = worker.run_once()
    # the failing message waits for a retry, the others went out; nothing is left "sending"
    assert (outcome.sent, outcome.retried) == (3, 1)
    statuses = sorted(Message.unscoped.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == ["queued", "sent", "sent", "sent"]


def test_a_database_error_mid_batch_hands_the_claimed_rows_back_at_once(
    network, templates, smtp_settings, monkeypatch
):
    sink = smtp_settings
    add_contacts(network.store_a, 5)
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    real = sending.mark_sent
    calls = {"n": 0}

    def broken(message, provider_id, body, worker=""):
        calls["n"] += 1
        if calls["n"] == 2:
            raise sending.transaction.TransactionManagementError("database went away")
        return real(message, provider_id, body, worker)

    monkeypatch.setattr(sending, "mark_sent", broken)
    worker = dispatch.Dispatcher("w")
    with pytest.raises(sending.transaction.TransactionManagementError):
        worker.run_once()
    rows = {m.status for m in Message.unscoped.filter(campaign=campaign)}
    assert rows == {"sent", "queued"}  # nothing held "sending" until the lease ends
    flagged = Message.unscoped.filter(campaign=campaign, possible_duplicate=True)
    assert flagged.count() == 1  # accepted by the server, not recorded: it will be sent again, counted
    assert MessageEvent.unscoped.filter(kind="requeued").count() == 4
    # when sending resumes, everybody gets the message; the flagged one twice, as counted
    monkeypatch.setattr(sending, "mark_sent", real)
    dispatch.drain("w2")
    addresses = [m["To"].addresses[0].addr_spec for m in campaign_mail(sink, campaign)]
    assert len(set(addresses)) == 5 and len(addresses) == 6


def test_requeueing_leaves_a_row_another_worker_claimed_meanwhile(network, templates, settings):
    add_contacts(network.store_a, 2)
    scheduled_campaign(network, templates.email)
    launch.launch_due()
    dead = dispatch.claim("dead-worker")
    later = timezone.now() + dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS + 1)
    rows = [(m.pk, m.organisation_id, "dead-worker") for m in dead]
    # given one row was requeued and re-claimed by a live worker after the stale rows were read
    Message.unscoped.filter(pk=dead[0].pk).update(claimed_by="live-worker", claimed_at=later)
    grace = later - dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS)
    assert outbox._requeue(rows, later, claimed_at__lt=grace) == 1
    fresh = Message.unscoped.get(pk=dead[0].pk)
    assert fresh.status == "sending" and fresh.claimed_by == "live-worker"
    assert MessageEvent.unscoped.filter(kind="requeued").count() == 1
