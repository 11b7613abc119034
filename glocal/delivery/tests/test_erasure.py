"""Erasure reaches the outbox: once HQ erases a person, the store's delivery pages and the outbox rows no
longer hold their address, their personalised text or any provider detail quoting them — written in the
same transaction as the erasure (a failed erasure leaves everything as it was)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from glocal.audience import services as audience_services
from glocal.audience.models import Contact
from glocal.campaigns.tests.conftest import add_contacts
from glocal.core.scope import activate
from glocal.delivery import capture, dispatch, launch
from glocal.delivery.models import Exclusion, Message, MessageEvent
from glocal.delivery.tests.test_engine import scheduled_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings, tmp_path):
    """The demo's real mail catcher (an SMTP server keeping each message as <stable id>.eml)."""
    controller, port = capture.start(tmp_path)
    settings.GLOCAL_MAILBOX_DIR = tmp_path
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = port
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    try:
        yield tmp_path
    finally:
        controller.stop()


def sent_to_hugo(network, templates):
    hugo = add_contacts(network.store_a, 1, first_name="Hugo", prefix="hugo")[0]
    others = add_contacts(network.store_a, 2, first_name="Camille")
    hidden = add_contacts(network.store_a, 1, consent="", first_name="Hugo", prefix="hugo-excluded")[0]
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    dispatch.drain("test-worker")
    message = Message.unscoped.get(campaign=campaign, contact=hugo)
    # a provider's diagnostic quoting the address, as bounces and failures record them
    MessageEvent.unscoped.create(
        organisation=network.org,
        message=message,
        kind="failed",
        detail={"error": f"550 5.1.1 <{hugo.email}>: user unknown", "enhanced": "5.1.1", "suppressed": True},
    )
    Message.unscoped.filter(pk=message.pk).update(last_error=f"550 5.1.1 <{hugo.email}>")
    return campaign, hugo, hidden, others, message


def test_erasure_reaches_the_outbox_and_the_store_no_longer_sees_the_person(
    network, templates, mailbox, client, django_capture_on_commit_callbacks
):
    campaign, hugo, hidden, others, message = sent_to_hugo(network, templates)
    assert (mailbox / f"{message.stable_id}.eml").is_file()
    client.force_login(network.users["store_a"], backend="django.contrib.auth.backends.ModelBackend")
    pages = [
        reverse("delivery:messages"),
        reverse("delivery:message", kwargs={"pk": message.pk}),
        reverse("delivery:campaign", kwargs={"pk": campaign.pk}),
    ]
    before = [client.get(url).content.decode() for url in pages]
    assert hugo.email in before[0] and "Bonjour Hugo" in before[1] and "hugo-excluded0" in before[2]
    # when HQ erases Hugo and the excluded person
    hq = client.__class__()
    hq.force_login(network.users["hq_admin"], backend="django.contrib.auth.backends.ModelBackend")
    with django_capture_on_commit_callbacks(execute=True):
        for person in (hugo, hidden):
            assert hq.post(reverse("audience:erase", kwargs={"pk": person.pk})).status_code == 302
    # then the store's pages hold neither their address nor their personalised text
    after = [client.get(url).content.decode() for url in pages]
    for page in after:
        for secret in (hugo.email, hugo.mobile, "Bonjour Hugo", "hugo0", hidden.email, "hugo-excluded0"):
            assert secret not in page
    assert "(erased)" in after[0]
    # and neither do the outbox rows, their events and the exclusions
    message.refresh_from_db()
    assert (message.to_address, message.body, message.last_error, message.contact_id) == ("", "", "", None)
    assert message.status == Message.Status.SENT  # the campaign's counts do not change
    for event in MessageEvent.unscoped.filter(message=message):
        assert hugo.email not in str(event.detail)
    assert MessageEvent.unscoped.filter(message=message, kind="failed").get().detail == {
        "enhanced": "5.1.1",
        "suppressed": True,
    }
    exclusion = Exclusion.unscoped.get(campaign=campaign)
    assert exclusion.contact_id is None and exclusion.reason == "no_consent" and exclusion.detail == ""
    assert not (mailbox / f"{message.stable_id}.eml").exists()
    # the other recipients keep theirs
    assert set(
        Message.unscoped.filter(campaign=campaign).exclude(to_address="").values_list("to_address", flat=True)
    ) == {c.email for c in others}


def test_a_waiting_message_of_an_erased_person_never_goes(network, templates, mailbox):
    hugo = add_contacts(network.store_a, 1, first_name="Hugo", prefix="hugo")[0]
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    with activate(network.scope("hq_admin")):
        audience_services.contact_erase(contact=Contact.objects.get(pk=hugo.pk))
    dispatch.drain("test-worker")
    message = Message.unscoped.get(campaign=campaign)
    assert (message.status, message.to_address) == (Message.Status.SKIPPED, "")
    assert not list(mailbox.iterdir())


def test_a_failed_erasure_leaves_the_outbox_as_it_was(network, templates, mailbox, monkeypatch):
    campaign, hugo, _hidden, _others, message = sent_to_hugo(network, templates)

    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(audience_services.audit, "record", broken)
    with activate(network.scope("hq_admin")), pytest.raises(RuntimeError):
        audience_services.contact_erase(contact=Contact.objects.get(pk=hugo.pk))
    message.refresh_from_db()
    assert message.to_address == hugo.email and message.contact_id == hugo.pk
    assert Contact.unscoped.filter(pk=hugo.pk).exists()
    assert (mailbox / f"{message.stable_id}.eml").is_file()
