"""Feedback from providers and recipients: DSN and ARF reports (the bounce webhook and the mailbox pipe
command), SMS receipts and STOP replies, an email provider's tracking events; authentication of every
webhook, malformed bodies, replays.

Messages are sent for real first (email to a local SMTP server, SMS through the capture provider in the
sending window), then the feedback arrives."""

from __future__ import annotations

import datetime as dt
import io
import json
from email.message import Message as MimeMessage
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from glocal.audience.models import ConsentEvent, Contact, Suppression, hash_value
from glocal.campaigns.models import Campaign
from glocal.campaigns.tests.conftest import add_contacts
from glocal.campaigns.tests.factories import make_campaign
from glocal.delivery import dispatch, feedback, launch
from glocal.delivery.models import Message, MessageEvent
from glocal.delivery.tests.test_engine import scheduled_campaign
from glocal.delivery.tests.test_providers import (
    BOUNCE_HOOK_TOKEN,
    NOW,
    SMS_HOOK_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    bearer,
    by_contact,
    kinds,
    send_sms_at,
    twilio_post,
    twilio_signature,
    use_hooks,
)
from glocal.delivery.tracking import make_ref
from glocal.delivery.transports.sms_http import DeliveryReceipt, InboundSms

pytestmark = pytest.mark.django_db

DOMAIN = "glocal.localhost"


# -- messages sent for real, then their feedback -----------------------------------------------------


@pytest.fixture
def sent_email(network, templates, settings, smtp_server) -> dict[int, Message]:
    """Three emails of store A's campaign, sent through a local SMTP server: contact id → message."""
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", settings.EMAIL_PORT
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    add_contacts(network.store_a, 3, prefix="mail")
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    assert dispatch.drain("feedback-worker").sent == 3
    assert len(smtp_server.messages) == 3
    return by_contact(campaign)


@pytest.fixture
def sent_sms(network, templates, settings) -> dict[int, Message]:
    """Three SMS of store A's campaign, sent in the window through the capture provider."""
    settings.GLOCAL_SMS_PROVIDER = "capture"
    add_contacts(network.store_a, 3, prefix="text")
    campaign = scheduled_campaign(network, templates.sms, when=NOW - dt.timedelta(minutes=1))
    launch.launch_due(now=NOW)
    rows = by_contact(campaign)  # 3, or 6 with the contacts of ``sent_email`` (their SMS consent too)
    assert send_sms_at(NOW).sent == len(rows) >= 3
    return by_contact(campaign)


@pytest.fixture
def hooks(settings) -> Client:
    return use_hooks(settings)


def contact_of(message: Message) -> Contact:
    return Contact.unscoped.get(pk=message.contact_id)


def fresh(message: Message) -> Message:
    return Message.unscoped.get(pk=message.pk)


def snapshot() -> dict[str, Any]:
    """Everything feedback may change."""
    return {
        "messages": sorted(Message.unscoped.values_list("pk", "status", "enhanced_code")),
        "events": MessageEvent.unscoped.count(),
        "suppressions": sorted(Suppression.unscoped.values_list("channel", "value_hash", "reason")),
        "consents": ConsentEvent.unscoped.count(),
        "contacts": sorted(Contact.unscoped.values_list("pk", "consent_email", "consent_sms")),
    }


# -- reports built with the email package -------------------------------------------------------------


def original_headers(message: Message) -> str:
    return (
        f"Message-ID: <{make_ref(message.stable_id)}@{DOMAIN}>\n"  # as sent: signed
        f"From: Magasin A <s-a@{DOMAIN}>\n"
        f"To: {message.to_address}\n"
        "Subject: Nous rouvrons !\n"
    )


def dsn(
    message: Message,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown",
    recipient: str | None = None,
) -> bytes:
    """A delivery status notification (RFC 3464) about ``message``, as a receiving MTA sends it."""
    to = recipient or message.to_address
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = f"bounces@{DOMAIN}"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(
        MIMEText("This is the mail system at host mx.example.net.\nYour message could not be delivered.")
    )
    per_message, per_recipient = MimeMessage(), MimeMessage()
    per_message["Reporting-MTA"] = "dns; mx.example.net"
    per_message["Arrival-Date"] = "Tue, 1 Dec 2026 09:00:00 +0000"
    per_recipient["Final-Recipient"] = f"rfc822; {to}"
    per_recipient["Original-Recipient"] = f"rfc822; {to}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic.format(to=to)
    status_part = MIMEBase("message", "delivery-status")
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    report.attach(MIMEText(original_headers(message), "rfc822-headers"))
    return report.as_bytes()


def arf(message: Message, *, recipient: str | None = None) -> bytes:
    """An abuse feedback report (ARF, RFC 5965): the recipient pressed "spam"."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "feedback@mailbox.example.net"
    report["To"] = f"abuse@{DOMAIN}"
    report["Subject"] = "Abuse report"
    report.attach(MIMEText("This is an email abuse report for an email message received from us."))
    fields = MimeMessage()
    fields["Feedback-Type"] = "abuse"
    fields["User-Agent"] = "ExampleFBL/1.0"
    fields["Version"] = "1"
    fields["Original-Mail-From"] = f"<bounces@{DOMAIN}>"
    fields["Original-Rcpt-To"] = f"<{recipient if recipient is not None else message.to_address}>"
    fields["Arrival-Date"] = "Tue, 1 Dec 2026 09:00:00 +0000"
    report.attach(MIMEMessage(fields, "feedback-report"))
    original = MimeMessage()
    for line in original_headers(message).splitlines():
        name, _sep, value = line.partition(": ")
        original[name] = value
    original.set_payload("Venez nous voir")
    report.attach(MIMEMessage(original))
    return report.as_bytes()


def post_report(client: Client, raw: bytes, token: str = BOUNCE_HOOK_TOKEN) -> Any:
    return client.post("/hooks/email/bounce/", raw, content_type="message/rfc822", **bearer(token))


# -- DSN --------------------------------------------------------------------------------------------


def test_a_hard_bounce_report_bounces_the_message_and_suppresses_the_address_once(sent_email, hooks):
    # given a sent email
    message = next(iter(sent_email.values()))
    contact = contact_of(message)
    # when the recipient's MTA reports 5.1.1 (user unknown), and the forwarder posts the report twice
    for attempt in range(2):
        answer = post_report(hooks, dsn(message))
        assert answer.status_code == 200
        assert answer.json() == {"matched": True, "recorded": ["bounced"] if attempt == 0 else []}
    # then the message bounced, once, and the address is on the opposition list (hash only)
    row = fresh(message)
    assert row.status == "bounced" and row.enhanced_code == "5.1.1"
    assert kinds(row).count("bounced") == 1
    event = MessageEvent.unscoped.get(message=row, kind="bounced")
    assert event.detail["source"] == "dsn" and event.detail["suppressed"] is True
    assert Suppression.unscoped.filter(
        channel="email", value_hash=contact.email_hash, reason="bounce"
    ).exists()
    # the other messages are untouched
    assert {fresh(m).status for m in sent_email.values() if m.pk != message.pk} == {"sent"}


def test_a_delay_is_only_recorded_and_a_policy_refusal_keeps_the_recipient(sent_email, hooks):
    delayed, refused, confirmed = sent_email.values()
    # when an MTA reports a delay (4.4.1), twice
    raw = dsn(delayed, action="delayed", status="4.4.1", diagnostic="smtp; 421 4.4.1 connection timed out")
    assert post_report(hooks, raw).json()["recorded"] == ["retry"]
    assert post_report(hooks, raw).json()["recorded"] == []
    # then only an event: the message is still sent, nobody suppressed
    assert fresh(delayed).status == "sent" and kinds(delayed).count("retry") == 1
    # when another reports a sender-policy refusal (5.7.1: our side is refused, not the recipient)
    raw = dsn(refused, status="5.7.1", diagnostic="smtp; 550 5.7.1 rejected by DMARC policy")
    assert post_report(hooks, raw).status_code == 200
    # then the message bounced, the operator is alerted, and the recipient stays reachable
    assert fresh(refused).status == "bounced"
    event = MessageEvent.unscoped.get(message=refused, kind="bounced")
    assert event.detail["operator_alert"] is True and "suppressed" not in event.detail
    assert not Suppression.unscoped.filter(
        value_hash__in=[hash_value(delayed.to_address), hash_value(refused.to_address)]
    ).exists()
    # and a "delivered" report (a relay confirming delivery) marks the last one delivered
    raw = dsn(confirmed, action="delivered", status="2.0.0", diagnostic="smtp; 250 2.0.0 Ok: queued")
    assert post_report(hooks, raw).json()["recorded"] == ["delivered"]
    assert fresh(confirmed).status == "delivered"


def test_a_report_about_another_recipient_or_an_unknown_message_changes_nothing(sent_email, hooks):
    message = next(iter(sent_email.values()))
    before = snapshot()
    # a report naming our stable id but another address (forwarded, or forged)
    answer = post_report(hooks, dsn(message, recipient="someone.else@example.net"))
    assert answer.status_code == 200 and answer.json() == {"matched": True, "recorded": []}
    # a report about a message Glocal did not send
    stranger = Message(stable_id="g999999-1", to_address=message.to_address)
    answer = post_report(hooks, dsn(stranger))
    assert answer.status_code == 200 and answer.json() == {"matched": False, "recorded": []}
    assert snapshot() == before


# -- ARF, through the mailbox pipe -------------------------------------------------------------------


def test_a_complaint_from_the_mailbox_pipe_suppresses_and_records_the_objection(
    sent_email, tmp_path, monkeypatch
):
    message = next(iter(sent_email.values()))
    contact = contact_of(message)
    # when the feedback loop's report arrives in the bounce mailbox, piped to the command (a file here)
    path = tmp_path / "complaint.eml"
    path.write_bytes(arf(message))
    out = io.StringIO()
    call_command("ingest_bounce", str(path), stdout=out)
    assert out.getvalue().strip() == f"{message.stable_id}: complaint"
    # then a complaint event, the address suppressed for complaint, and the contact's email opt-out
    assert kinds(message).count("complaint") == 1
    assert Suppression.unscoped.filter(
        channel="email", value_hash=contact.email_hash, reason="complaint"
    ).exists()
    contact.refresh_from_db()
    assert contact.consent_email == "opt_out" and contact.consent_sms == "opt_in"
    assert ConsentEvent.unscoped.filter(contact=contact, channel="email", status="opt_out").count() == 1
    # when the same report comes again on standard input: nothing more
    before = snapshot()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(arf(message))))
    out = io.StringIO()
    call_command("ingest_bounce", stdout=out)
    assert out.getvalue().strip() == f"{message.stable_id}: nothing new"
    assert snapshot() == before


def test_the_command_exits_1_on_what_is_not_a_report(sent_email, tmp_path, monkeypatch):
    before = snapshot()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Subject: Re: Nous rouvrons\n\nMerci !\n")))
    with pytest.raises(CommandError) as refused:
        call_command("ingest_bounce")
    assert refused.value.returncode == 1 and "not a delivery status" in str(refused.value)
    with pytest.raises(CommandError) as missing:
        call_command("ingest_bounce", str(tmp_path / "absent.eml"))
    assert missing.value.returncode == 1
    assert snapshot() == before


def test_a_bounce_after_the_contact_was_erased_still_suppresses_the_address(sent_email, hooks):
    message = next(iter(sent_email.values()))
    Contact.unscoped.filter(pk=message.contact_id).delete()  # e.g. the retention purge
    assert post_report(hooks, dsn(message)).json()["recorded"] == ["bounced"]
    assert Suppression.unscoped.filter(channel="email", value_hash=hash_value(message.to_address)).exists()


# -- SMS receipts and replies --------------------------------------------------------------------------


def test_sms_receipts_are_matched_by_stable_id_or_provider_id_and_recorded_once(sent_sms, hooks):
    first, second, third = sent_sms.values()
    receipts = [
        {"id": "ignored-id", "status": "delivered", "idempotency_key": make_ref(first.stable_id)},
        {"id": second.provider_id, "status": "failed", "error_code": "30003"},  # unreachable handset
        {"id": third.provider_id, "status": "sent"},  # not final: nothing to record
        {"id": "gw-unknown", "status": "delivered"},
    ]
    for _ in range(2):
        answer = hooks.post(
            "/hooks/sms/json/receipt/", receipts, content_type="application/json", **bearer(SMS_HOOK_TOKEN)
        )
        assert answer.status_code == 200 and answer.json() == {"received": 4, "matched": 3}
    assert fresh(first).status == "delivered" and kinds(first).count("delivered") == 1
    assert fresh(second).status == "failed" and kinds(second).count("failed") == 1
    assert Suppression.unscoped.filter(
        channel="sms", value_hash=hash_value(second.to_address), reason="bounce"
    ).exists()
    assert fresh(third).status == "sent" and "delivered" not in kinds(third)


def test_a_stop_reply_opts_out_in_every_organisation_that_texted_the_number(network, sent_sms, hooks):
    message = next(iter(sent_sms.values()))
    number = message.to_address
    # given another organisation texted the same number, its contact since deleted
    elsewhere = Contact.unscoped.create(
        organisation=network.other_org, owner=network.other_store, owner_path=network.other_store.path,
        mobile=number, mobile_hash=hash_value(number), consent_sms="opt_in",
    )  # fmt: skip
    campaign_id = make_campaign("other_store")(network)["pk"]
    Message.unscoped.create(
        organisation=network.other_org, entity=network.other_store, entity_path=network.other_store.path,
        campaign_id=campaign_id, contact=elsewhere, channel="sms", to_address=number,
        stable_id=launch.stable_id(campaign_id, elsewhere.pk), status="sent", sent_at=timezone.now(),
        not_before=timezone.now(),
    )  # fmt: skip
    elsewhere.delete()
    # when the person replies "stop" (national format, as some gateways pass it on), twice
    national = "0" + number.removeprefix("+33")
    for attempt in range(2):
        answer = hooks.post(
            "/hooks/sms/json/inbound/",
            {"from": national, "to": "36111", "text": " stop "},
            content_type="application/json",
            **bearer(SMS_HOOK_TOKEN),
        )
        assert answer.status_code == 200 and answer.json()["opted_out"] == (1 if attempt == 0 else 0)
    # then store A's contact is opted out on SMS (proof in the ledger, once), and both organisations
    # keep the number's hash on their opposition list
    contact = contact_of(message)
    assert contact.consent_sms == "opt_out"
    assert ConsentEvent.unscoped.filter(contact=contact, channel="sms", status="opt_out").count() == 1
    for organisation in (network.org, network.other_org):
        assert Suppression.unscoped.filter(
            organisation=organisation, channel="sms", value_hash=hash_value(number)
        ).exists()
    assert kinds(message).count("unsubscribed") == 1


def test_a_reply_that_is_not_stop_is_recorded_nowhere(sent_sms, hooks):
    message = next(iter(sent_sms.values()))
    before = snapshot()
    for text in ("Merci, à samedi !", "STOP au 36111", ""):
        answer = hooks.post(
            "/hooks/sms/json/inbound/",
            {"from": message.to_address, "to": "36111", "text": text},
            content_type="application/json",
            **bearer(SMS_HOOK_TOKEN),
        )
        assert answer.status_code == 200 and answer.json()["opted_out"] == 0
    # a STOP from a number nobody texted changes nothing either
    assert feedback.sms_inbound("json", InboundSms("+33699999999", "36111", "STOP")).opted_out == []
    assert snapshot() == before


def test_a_twilio_failed_status_callback_for_an_invalid_number_suppresses_it(sent_sms, hooks, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    message = next(iter(sent_sms.values()))
    url = f"http://testserver/hooks/sms/twilio/status/?m={make_ref(message.stable_id)}"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "undelivered", "ErrorCode": "30005"}
    assert twilio_post(hooks, url, params).status_code == 204
    assert fresh(message).status == "failed"
    assert Suppression.unscoped.filter(channel="sms", value_hash=hash_value(message.to_address)).exists()


# -- the email provider's tracking events (django-anymail) ----------------------------------------------


def send_tracking(message: Message, event_type: str, **fields: Any) -> list[Any]:
    event = AnymailTrackingEvent(
        event_type=event_type,
        metadata={"glocal_id": f"<{make_ref(message.stable_id)}@{DOMAIN}>"},
        message_id="0b2b1c7e-pm",
        recipient=message.to_address,
        **fields,
    )
    return tracking.send(sender=object, event=event, esp_name="Postmark")


def test_anymail_events_reach_the_feedback_receiver(sent_email):
    soft, hard, leaving = sent_email.values()
    # the receiver is connected (glocal.delivery.signals, imported by the app's ready())
    assert any(receiver is feedback.anymail_tracking for receiver, _response in send_tracking(soft, "opened"))
    # a bounce with a 4.x.x reply (mailbox temporarily over quota) is only recorded
    send_tracking(
        soft, "bounced", reject_reason="bounced", mta_response="452 4.2.2 Mailbox over quota, try later"
    )
    assert fresh(soft).status == "sent" and kinds(soft).count("retry") == 1
    # a hard bounce without an SMTP reply: Anymail's reject reason decides
    send_tracking(hard, "bounced", reject_reason="invalid", description="Invalid email address")
    assert fresh(hard).status == "bounced"
    assert Suppression.unscoped.filter(
        channel="email", value_hash=hash_value(hard.to_address), reason="bounce"
    ).exists()
    # an unsubscribe at the provider is the contact's objection
    for _ in range(2):
        send_tracking(leaving, "unsubscribed", reject_reason="unsubscribed")
    contact = contact_of(leaving)
    assert contact.consent_email == "opt_out" and kinds(leaving).count("unsubscribed") == 1
    assert ConsentEvent.unscoped.get(contact=contact, channel="email", status="opt_out").source == "api"
    # the deferred one is finally refused for our sender's policy (DMARC): failed, the operator is
    # alerted, the recipient is kept
    send_tracking(soft, "rejected", reject_reason="blocked", mta_response="550 5.7.26 DMARC policy")
    event = MessageEvent.unscoped.get(message=soft, kind="failed")
    assert fresh(soft).status == "failed" and event.detail["operator_alert"] is True
    assert not Suppression.unscoped.filter(value_hash=hash_value(soft.to_address)).exists()
    # an event about a message we do not know changes nothing
    before = snapshot()
    stranger = Message(stable_id="g999999-2", to_address="nobody@example.test")
    send_tracking(stranger, "bounced", reject_reason="bounced", mta_response="550 5.1.1 unknown")
    assert snapshot() == before


def test_the_sms_receipt_service_ignores_receipts_for_nothing_and_replays(sent_sms):
    message = next(iter(sent_sms.values()))
    receipt = DeliveryReceipt(
        provider_id=message.provider_id, status="delivered", stable_id=make_ref(message.stable_id)
    )
    assert feedback.sms_receipt("json", receipt).recorded == ["delivered"]
    assert feedback.sms_receipt("json", receipt).recorded == []
    assert not feedback.sms_receipt("json", DeliveryReceipt("nope", "delivered")).matched


# -- authentication ----------------------------------------------------------------------------------


def bodies(email_message: Message, sms_message: Message) -> dict[str, tuple[str, bytes, str]]:
    """For each bearer endpoint: a body that WOULD change something if it were accepted."""
    return {
        "/hooks/sms/json/receipt/": (
            "application/json",
            json.dumps({"id": sms_message.provider_id, "status": "delivered"}).encode(),
            SMS_HOOK_TOKEN,
        ),
        "/hooks/sms/json/inbound/": (
            "application/json",
            json.dumps({"from": sms_message.to_address, "to": "36111", "text": "STOP"}).encode(),
            SMS_HOOK_TOKEN,
        ),
        "/hooks/email/bounce/": ("message/rfc822", dsn(email_message), BOUNCE_HOOK_TOKEN),
    }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        "Bearer ",
        "Basic {token}",
        "bearer{token}",
        "Bearer {other}",
        "Bearer {token}x",
    ],
)
def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(sent_email, sent_sms, hooks, authorization):
    email_message, sms_message = next(iter(sent_email.values())), next(iter(sent_sms.values()))
    before = snapshot()
    for path, (content_type, body, token) in bodies(email_message, sms_message).items():
        other = BOUNCE_HOOK_TOKEN if token == SMS_HOOK_TOKEN else SMS_HOOK_TOKEN
        headers = {}
        if authorization is not None:
            headers["HTTP_AUTHORIZATION"] = authorization.format(token=token, other=other)
        answer = hooks.post(path, body, content_type=content_type, **headers)
        assert answer.status_code == 403, (path, authorization)
        assert answer.json() == {"error": "forbidden"}
    assert snapshot() == before


def test_an_unset_token_refuses_everything(sent_email, sent_sms, hooks, settings):
    settings.GLOCAL_SMS_WEBHOOK_TOKEN = ""
    settings.GLOCAL_BOUNCE_WEBHOOK_TOKEN = ""
    email_message, sms_message = next(iter(sent_email.values())), next(iter(sent_sms.values()))
    before = snapshot()
    for path, (content_type, body, _token) in bodies(email_message, sms_message).items():
        for header in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": "Bearer"}):
            assert hooks.post(path, body, content_type=content_type, **header).status_code == 403
    assert snapshot() == before


def test_twilio_webhooks_refuse_a_forged_or_misplaced_signature(sent_sms, hooks, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    first, second, _third = sent_sms.values()
    status_url = f"http://testserver/hooks/sms/twilio/status/?m={first.stable_id}"
    status = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "undelivered", "ErrorCode": "30005"}
    inbound_url = "http://testserver/hooks/sms/twilio/inbound/"
    stop = {"From": first.to_address, "To": "+33757000000", "Body": "STOP"}
    before = snapshot()
    cases = [
        (status_url, status, "forged"),
        (status_url, status, ""),
        (status_url, status, twilio_signature(status_url, status, token="another-account")),
        # signed for another host (the public URL is what Twilio signs, never the Host header)
        (status_url, status, twilio_signature(status_url.replace("testserver", "evil.example"), status)),
        # the query changed after signing: the callback now names another message
        (
            status_url.replace(first.stable_id, second.stable_id),
            status,
            twilio_signature(status_url, status),
        ),
        # a field changed after signing
        (inbound_url, stop, twilio_signature(inbound_url, {**stop, "Body": "Merci"})),
    ]
    for url, params, signature in cases:
        assert twilio_post(hooks, url, params, signature=signature).status_code == 403, (url, signature)
    settings.TWILIO_AUTH_TOKEN = ""  # not configured: nothing is accepted, even "signed" with an empty key
    assert (
        twilio_post(
            hooks, inbound_url, stop, signature=twilio_signature(inbound_url, stop, token="")
        ).status_code
        == 403
    )
    assert snapshot() == before


# -- malformed input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "body", "reason"),
    [
        ("/hooks/sms/json/receipt/", "application/json", b"{not json", "malformed JSON"),
        ("/hooks/sms/json/receipt/", "application/json", b"", "malformed JSON"),
        ("/hooks/sms/json/receipt/", "application/json", b"\xff\xfe{}", "not UTF-8"),
        ("/hooks/sms/json/receipt/", "application/json", b"[1, 2]", "JSON object"),
        ("/hooks/sms/json/receipt/", "application/json", b"[]", "JSON object"),
        ("/hooks/sms/json/receipt/", "application/json", b'"delivered"', "JSON object"),
        ("/hooks/sms/json/receipt/", "application/json", b'{"status": "delivered"}', '"id" is required'),
        ("/hooks/sms/json/receipt/", "application/json", b'{"id": {"$gt": ""}}', '"id" must be a string'),
        (
            "/hooks/sms/json/receipt/",
            "application/json",
            b'{"id": "x", "status": ["delivered"]}',
            "must be a string",
        ),
        ("/hooks/sms/json/inbound/", "application/json", b'{"text": "STOP"}', '"from" is required'),
        (
            "/hooks/sms/json/inbound/",
            "application/json",
            b'{"from": true, "text": "STOP"}',
            "must be a string",
        ),
        ("/hooks/email/bounce/", "message/rfc822", b"", "empty body"),
        (
            "/hooks/email/bounce/",
            "message/rfc822",
            b"Subject: Absent\n\nI am on holiday.\n",
            "not a delivery status",
        ),
        ("/hooks/email/bounce/", "message/rfc822", b"\x00\xff\xfe binary \x80", "not a delivery status"),
        (
            "/hooks/email/bounce/",
            "message/rfc822",
            b"Content-Type: multipart/report; report-type=delivery-status\n\nno boundary, no parts\n",
            None,  # a report with nothing in it: accepted, names no message
        ),
        (
            "/hooks/email/bounce/",
            "message/rfc822",
            b"Content-Type: multipart/report; report-type*=utf-8''delivery-status; boundary=\"b\"\n\n--b--\n",
            "not a delivery status",
        ),
    ],
)
def test_malformed_bodies_answer_400_with_a_reason_never_500(
    sent_email, hooks, path, content_type, body, reason
):
    token = BOUNCE_HOOK_TOKEN if path.startswith("/hooks/email/") else SMS_HOOK_TOKEN
    before = snapshot()
    answer = hooks.post(path, body, content_type=content_type, **bearer(token))
    if reason is None:
        assert answer.status_code == 200 and answer.json() == {"matched": False, "recorded": []}
    else:
        assert answer.status_code == 400 and reason in answer.json()["error"]
    assert snapshot() == before


def test_a_body_over_the_upload_limit_answers_413(sent_email, hooks, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = snapshot()
    raw = dsn(next(iter(sent_email.values())), diagnostic="smtp; 550 5.1.1 " + "x" * 2000)
    answer = post_report(hooks, raw)
    assert answer.status_code == 413 and answer.json() == {"error": "body too large"}
    assert snapshot() == before


def test_signed_twilio_callbacks_without_their_fields_answer_400(hooks, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    for url, params, reason in [
        ("http://testserver/hooks/sms/twilio/status/?m=g1-1", {"MessageStatus": "delivered"}, "MessageSid"),
        ("http://testserver/hooks/sms/twilio/inbound/", {"Body": "STOP"}, "From"),
    ]:
        answer = twilio_post(hooks, url, params)
        assert answer.status_code == 400 and reason in answer.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/hooks/sms/json/receipt/",
        "/hooks/sms/json/inbound/",
        "/hooks/sms/twilio/status/",
        "/hooks/sms/twilio/inbound/",
        "/hooks/email/bounce/",
    ],
)
def test_webhooks_answer_only_post(hooks, path):
    assert hooks.get(path).status_code == 405


def test_a_campaign_left_untouched_by_feedback_still_finishes(sent_email, hooks):
    # feedback moves messages among the "done" statuses only: the campaign's end is unaffected
    message = next(iter(sent_email.values()))
    post_report(hooks, dsn(message))
    dispatch.finish_campaigns()
    campaign = Campaign.unscoped.get(pk=message.campaign_id)
    assert campaign.state == "sent" and campaign.sent_count == 3
