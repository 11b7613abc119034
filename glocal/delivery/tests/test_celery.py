"""With a broker (Redis or RabbitMQ), Celery workers launch and send a campaign: the beat's tick
launches it and starts senders, which claim the outbox rows and deliver them to a real SMTP server."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError

from glocal.campaigns.models import Campaign
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import add_contacts, demo_templates
from glocal.core.tests.test_jobs import BROKERS
from glocal.delivery.models import Message
from glocal.delivery.tests.test_engine import scheduled_campaign


def wait_for(condition, timeout: float = 60.0, every: float = 0.2, beat=None) -> bool:
    """Poll the database until ``condition()`` holds (the Celery worker runs in another thread). The
    test database on SQLite is a shared-cache in-memory one, whose table locks answer "locked" at once
    to a reader while the worker writes: such a read is simply tried again."""
    deadline = time.monotonic() + timeout
    next_beat = time.monotonic() + 2
    while time.monotonic() < deadline:
        if beat is not None and time.monotonic() >= next_beat:
            beat()  # what the beat schedule does every few seconds
            next_beat = time.monotonic() + 2
        try:
            if condition():
                return True
        except OperationalError as error:
            if "locked" not in str(error):
                raise
        time.sleep(every)
    return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_celery_workers_launch_and_send_a_campaign(broker, settings, request, smtp_server):
    from celery import Celery, current_app
    from celery.contrib.testing.worker import start_worker

    from conftest import build_network
    from glocal.delivery import tasks

    settings.CELERY_BROKER_URL = BROKERS[broker]
    settings.GLOCAL_SMTP_HOST, settings.GLOCAL_SMTP_PORT = "127.0.0.1", settings.EMAIL_PORT
    previous = current_app._get_current_object()
    app = Celery("glocal-delivery-test", broker=BROKERS[broker], backend="redis://127.0.0.1:6379/15")
    app.set_current()
    app.conf.update(task_acks_late=True, broker_connection_retry_on_startup=True)
    request.addfinalizer(previous.set_current)
    app.control.purge()
    # given a due campaign of store A for 25 consenting contacts
    network = build_network()
    templates = demo_templates(network)
    people = add_contacts(network.store_a, 25)
    campaign = scheduled_campaign(network, templates.email)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        # when the beat's tick runs on a worker
        assert tasks.delivery_tick.delay().get(timeout=60)["launched"] == 1
        # then the senders it started deliver every message
        assert wait_for(
            lambda: Message.unscoped.filter(campaign=campaign, status="sent").count() == len(people),
            beat=tasks.delivery_tick.delay,
        )
        tasks.delivery_tick.delay().get(timeout=60)  # the next tick closes the campaign
    received = [m for _f, _to, m in smtp_server.messages if f"g{campaign.pk}." in str(m["List-Id"])]
    addresses = [m["To"].addresses[0].addr_spec for m in received]
    assert set(addresses) == {p.email for p in people}
    # The test database is a shared-cache in-memory SQLite whose table locks fail at once (no busy
    # timeout): a worker whose commit failed after the provider's "250" hands the row back flagged, and
    # that message goes out twice. Every extra copy must be one of those counted possible duplicates.
    flagged = Message.unscoped.filter(campaign=campaign, possible_duplicate=True).count()
    assert len(addresses) - len(set(addresses)) <= flagged
    finished = Campaign.unscoped.get(pk=campaign.pk)
    assert finished.state == State.SENT and finished.sent_count == len(people)
