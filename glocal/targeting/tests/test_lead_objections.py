"""Only the person lifts their own objection, and the lead form is how they do it: someone who
unsubscribed, replied STOP or is on the opposition list gets the confirmation (email link, texted code)
like anyone else; their confirmation — and nothing short of it — opts them in again, with its proof in
the ledger and a ``consent.lift`` audit event. The form's answer never tells them apart, and the limits
on confirmation messages count the client behind declared proxies only (``accounts.client_ip``)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from glocal.audience import services as audience
from glocal.audience.models import Channel, ConsentEvent, ConsentSource, Contact, Suppression
from glocal.audience.tests.test_objections import one_click_unsubscribe
from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.delivery import feedback
from glocal.targeting import leads
from glocal.targeting.models import PendingOptIn

from .helpers import answer_shape, kiosk_url, post_entry, texted_code

pytestmark = pytest.mark.usefixtures("fresh_cache")

EMAIL_OPT_IN = {"channel": "email", "status": "opt_in", "wording": "Offres par email", "form_version": "v1"}
SMS_OPT_IN = {"channel": "sms", "status": "opt_in", "wording": "Offres par SMS", "form_version": "v1"}


def customer(network, persona: str, **fields) -> Contact:
    """A customer entered by the store's staff, opted in on the channels of their addresses."""
    consents = ([EMAIL_OPT_IN] if fields.get("email") else []) + (
        [SMS_OPT_IN] if fields.get("mobile") else []
    )
    with activate(network.scope(persona)):
        made = audience.contact_create(fields={"last_name": "Durand", **fields}, consents=consents).contact
    assert made is not None
    return made


def stop_reply(contact: Contact) -> None:
    """What an inbound STOP does (``feedback.sms_inbound``): the number's hash on the opposition list
    and the contact's SMS opt-out in the ledger."""
    audience.suppress(
        organisation_id=contact.organisation_id,
        channel=Channel.SMS,
        hashes=[audience.hash_value(contact.mobile)],
        reason=Suppression.Reason.OPT_OUT,
    )
    assert feedback._opt_out(contact, "sms", source=ConsentSource.FORM, wording=feedback.STOP_WORDING)


def confirmation_link(smtp_server, address: str) -> str:
    mails = [message for _f, rcpt, message in smtp_server.messages if rcpt == [address]]
    assert mails, f"no email to {address}"
    body = mails[-1].get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://[^/\s]+(/l/confirm/[^\s]+/)", body)
    assert found is not None
    return found.group(1)


def suppressed(network, channel: str, **address: str) -> bool:
    return audience.is_suppressed(organisation_id=network.org.pk, channel=channel, **address)


def lifts(contact: Contact) -> list[AuditEvent]:
    return list(
        AuditEvent.unscoped.filter(action="consent.lift", summary__startswith=f"contact #{contact.pk}:")
    )


def test_an_unsubscriber_who_confirms_by_link_is_opted_in_again(client, network, store_form, smtp_server):
    # given store A's customer who unsubscribed by the one-click link of an email
    anne = customer(network, "store_a", email="anne@example.test")
    one_click_unsubscribe(anne)
    assert Contact.unscoped.get(pk=anne.pk).consent_email == "opt_out"
    assert suppressed(network, "email", email="anne@example.test")
    # when she fills in the store's form: the answer is a new person's, and she gets the link
    answer = post_entry(client, kiosk_url(store_form), email="Anne@Example.test", consent_email="on")
    new = post_entry(client, kiosk_url(store_form), email="new@example.test", consent_email="on")
    assert answer_shape(answer) == answer_shape(new) and answer.status_code == 302
    link = confirmation_link(smtp_server, "anne@example.test")
    # a mail scanner prefetching the link changes nothing
    assert client.get(link).status_code == 200
    assert Contact.unscoped.get(pk=anne.pk).consent_email == "opt_out"
    # then her confirmation opts her in again
    confirmed = client.post(link)
    assert confirmed.status_code == 200 and b'data-testid="confirmed"' in confirmed.content
    anne.refresh_from_db()
    assert anne.consent_email == "opt_in" and anne.owner_id == network.store_a.pk
    assert not suppressed(network, "email", email="anne@example.test")
    # the ledger row carries the proof: the pending row confirmed by the link
    pending = PendingOptIn.unscoped.get(email="anne@example.test")
    event = ConsentEvent.unscoped.filter(contact=anne).latest("pk")
    assert pending.consent_event_id == event.pk and pending.confirmed_at is not None
    assert (event.status, event.source) == ("opt_in", ConsentSource.FORM)
    assert event.wording == leads.capture_settings(network.org.pk).wording("email", "fr")
    assert f"double_opt_in: pending opt-in #{pending.pk}" in event.form_version
    assert "double opt-in confirmed" in event.form_version
    [lift] = lifts(anne)
    assert lift.data["channel"] == "email" and f"#{pending.pk}" in lift.data["confirmation"]
    # idempotent: a second click adds nothing
    assert client.post(link).status_code == 200
    assert ConsentEvent.unscoped.filter(contact=anne, status="opt_in").count() == 2  # first entry + this one


def test_a_stop_is_lifted_by_the_code_the_person_types(client, network, store_form, gateway):
    # given store A's customer who replied STOP, and also unsubscribed from emails
    paul = customer(network, "store_a", mobile="0612121212", email="paul@example.test")
    stop_reply(paul)
    one_click_unsubscribe(paul)
    assert suppressed(network, "sms", mobile="+33612121212")
    # when he fills in the form for text messages only, he gets a code like anyone
    answer = post_entry(client, kiosk_url(store_form), mobile="06 12 12 12 12", consent_sms="on")
    assert answer.status_code == 302 and answer["Location"].startswith("/l/sms/")
    code = texted_code(gateway, "+33612121212")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert client.post(answer["Location"], {"code": wrong}).status_code == 400
    assert Contact.unscoped.get(pk=paul.pk).consent_sms == "opt_out"
    # then the code he types opts him in again on SMS, and on SMS only
    confirmed = client.post(answer["Location"], {"code": code})
    assert confirmed.status_code == 302 and confirmed["Location"].endswith("?thanks=1&sms=1")
    paul.refresh_from_db()
    assert paul.consent_sms == "opt_in" and paul.consent_email == "opt_out"
    assert not suppressed(network, "sms", mobile="+33612121212")
    assert suppressed(network, "email", email="paul@example.test")
    pending = PendingOptIn.unscoped.get(mobile="+33612121212")
    event = ConsentEvent.unscoped.filter(contact=paul, channel="sms").latest("pk")
    assert pending.consent_event_id == event.pk and event.status == "opt_in"
    assert "SMS code confirmed" in event.form_version
    assert f"double_opt_in: pending opt-in #{pending.pk}" in event.form_version
    [lift] = lifts(paul)
    assert lift.data["channel"] == "sms"


def test_an_opposed_person_who_does_not_confirm_stays_suppressed(
    client, network, store_form, smtp_server, gateway
):
    # given an erased person's email and a number that replied STOP, on the opposition list
    with activate(network.scope("hq_admin")):
        audience.suppress(
            organisation_id=network.org.pk, channel=Channel.SMS,
            hashes=[audience.hash_value("+33622222222")], reason=Suppression.Reason.OPT_OUT,
        )  # fmt: skip
        audience.suppress(
            organisation_id=network.org.pk, channel=Channel.EMAIL,
            hashes=[audience.hash_value("gone@example.test")], reason=Suppression.Reason.ERASURE,
        )  # fmt: skip
    # when someone types them on the form: the confirmations go to the person (they alone can act)
    answer = post_entry(
        client, kiosk_url(store_form), mobile="0622222222", email="gone@example.test",
        consent_sms="on", consent_email="on",
    )  # fmt: skip
    link = confirmation_link(smtp_server, "gone@example.test")
    code = texted_code(gateway, "+33622222222")
    # then, as long as nobody confirms, nothing changes: a scanner's GET, wrong codes, a forged link
    assert client.get(link).status_code == 200
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(leads.SMS_CODE_ATTEMPTS):
        assert client.post(answer["Location"], {"code": wrong}).status_code == 400
    assert client.post(answer["Location"], {"code": code}).status_code == 400  # exhausted
    assert client.post("/l/confirm/forged/").status_code == 404
    contact = Contact.unscoped.get(mobile="+33622222222")
    assert contact.consent_sms == "" and contact.consent_email == ""
    assert suppressed(network, "sms", mobile="+33622222222")
    assert suppressed(network, "email", email="gone@example.test")
    assert Suppression.unscoped.filter(organisation=network.org).count() == 2
    assert not ConsentEvent.unscoped.filter(contact=contact).exists() and lifts(contact) == []


def test_another_stores_unsubscriber_lifts_it_on_their_own_contact_unseen_by_the_form_store(
    client, network, store_form, smtp_server
):
    # given store B's customer, who unsubscribed
    jean = customer(network, "store_b", email="jean@example.test", first_name="Jean")
    one_click_unsubscribe(jean)
    # when he fills in store A's form (with another name) and confirms by the link
    post_entry(
        client, kiosk_url(store_form), last_name="Autre", email="jean@example.test", consent_email="on"
    )
    assert client.post(confirmation_link(smtp_server, "jean@example.test")).status_code == 200
    # then the consent is his, recorded on his contact: not duplicated, not moved, not renamed
    assert Contact.unscoped.filter(email="jean@example.test").count() == 1
    jean.refresh_from_db()
    assert (jean.owner_id, jean.last_name, jean.consent_email) == (network.store_b.pk, "Durand", "opt_in")
    assert not suppressed(network, "email", email="jean@example.test")
    event = ConsentEvent.unscoped.filter(contact=jean).latest("pk")
    assert event.entity_id == network.store_a.pk  # given on store A's form (the ledger is store B's)
    # store A learns nothing: no ledger row, pending row or audit line of theirs names him
    with activate(network.scope("store_a")):
        assert not ConsentEvent.objects.filter(contact=jean).exists()
        assert not PendingOptIn.objects.filter(contact=jean).exists()
        assert not [e for e in AuditEvent.objects.all() if f"#{jean.pk}" in e.summary]
    # the lift is on the trail of the store that owns him (and HQ's)
    [lift] = lifts(jean)
    assert lift.entity_id == network.store_b.pk


def test_a_number_that_is_not_the_known_contacts_is_never_texted(client, network, store_form, gateway):
    # given a customer known by email, with another number
    customer(network, "store_a", email="known@example.test", mobile="0613131313")
    # when someone types that email with a stranger's number: nothing is sent to the stranger
    answer = post_entry(
        client, kiosk_url(store_form), email="known@example.test", mobile="0614141414", consent_sms="on"
    )
    assert answer_shape(answer)[0] == 302 and answer["Location"].startswith("/l/sms/")
    assert gateway.requests == []
    assert PendingOptIn.unscoped.get(mobile="+33614141414").sendable is False


# -- the client's address behind declared proxies ----------------------------------------------------


def test_without_a_declared_proxy_a_forged_x_forwarded_for_does_not_escape_the_client_limits(
    network, store_form, gateway, settings
):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = 0
    settings.GLOCAL_TRUSTED_PROXIES = []
    config = leads.capture_settings(network.org.pk)
    config.ip_limit_per_hour = 3
    config.save()
    client = Client(REMOTE_ADDR="198.51.100.20")
    statuses = [
        post_entry(
            client, kiosk_url(store_form), {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"}, mobile=f"067000000{n}"
        ).status_code
        for n in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]  # a new forged address each time changes nothing
    # the per-client limit on confirmation messages holds the same way
    cache.clear()
    settings.GLOCAL_LEAD_SENDS_PER_IP = 2
    for n in range(4):
        post_entry(
            client, kiosk_url(store_form), {"HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"},
            mobile=f"067100000{n}", consent_sms="on",
        )  # fmt: skip
    assert len(gateway.requests) == 2
    assert set(PendingOptIn.unscoped.values_list("ip", flat=True)) == {"198.51.100.20"}


def test_behind_a_declared_proxy_each_client_has_its_own_limits(network, store_form, gateway, settings):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = 1
    config = leads.capture_settings(network.org.pk)
    config.ip_limit_per_hour = 2
    config.save()
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    first = {"HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.5"}  # a forged entry, then the real client
    statuses = [
        post_entry(proxy, kiosk_url(store_form), first, mobile=f"067200000{n}").status_code for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    # another client behind the same proxy is not held by the first one's entries
    other = post_entry(
        proxy, kiosk_url(store_form), {"HTTP_X_FORWARDED_FOR": "203.0.113.6"}, mobile="0672000009"
    )
    assert other.status_code == 302
    # and the proof keeps the client's address, not the proxy's
    post_entry(proxy, kiosk_url(store_form), {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, mobile="0672000008",
             consent_sms="on")  # fmt: skip
    assert PendingOptIn.unscoped.get(mobile="+33672000008").ip == "203.0.113.7"
