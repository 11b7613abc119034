"""Group commit of the "sent" marks (``dispatch.marks.SentWriter``): the sending threads of a process hand
the messages a provider accepted to one writer, which records them SENT together. What it must keep:
every accepted message ends SENT with its event, a mark waits for at most ``max_pending`` others, an error
in a batch gives back no message whose mark was handed over, and a crash re-sends (never loses) the
messages whose marks were not committed yet."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import DatabaseError
from django.utils import timezone

from glocal.campaigns.tests.conftest import add_contacts
from glocal.delivery import dispatch, launch
from glocal.delivery.dispatch import marks as marks_module
from glocal.delivery.dispatch import outbox, sending
from glocal.delivery.dispatch.marks import Accepted, SentWriter, record_sent
from glocal.delivery.models import Message, MessageEvent
from glocal.delivery.tests.test_engine import campaign_mail, scheduled_campaign

# The writer is a thread with its own database connection: it must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.GLOCAL_SMTP_HOST = "127.0.0.1"
    settings.GLOCAL_SMTP_PORT = settings.EMAIL_PORT
    settings.GLOCAL_PUBLIC_URL = "http://testserver"
    return smtp_server


def launched(network, templates, contacts):
    add_contacts(network.store_a, contacts)
    campaign = scheduled_campaign(network, templates.email)
    launch.launch_due()
    return campaign


def test_three_senders_sharing_one_writer_record_every_message_in_fewer_commits(
    network, templates, smtp_settings
):
    # given a launched campaign of 60 messages, three senders (claims of 10) and one writer
    # (the senders take turns in this thread: the suite's in-memory SQLite has table locks, no waits)
    sink = smtp_settings
    campaign = launched(network, templates, 60)
    writer = SentWriter(window=3600, max_pending=1000).start()
    senders = [dispatch.Dispatcher(f"w/{i}", marks=writer, claim_size=10) for i in range(3)]
    # when each sends two batches, the writer committing once after each round of three batches
    sent = 0
    for _round in range(2):
        sent += sum(sender.run_once().sent for sender in senders)
        assert writer.sync()
    writer.close()
    for sender in senders:
        sender.close()
    # then every message left once and is SENT, with exactly one SENT event each
    assert sent == 60
    rows = Message.unscoped.filter(campaign=campaign)
    assert sorted(set(rows.values_list("status", flat=True))) == ["sent"]
    assert not rows.filter(possible_duplicate=True).exists()
    assert not rows.filter(sent_at__isnull=True).exists()
    assert MessageEvent.unscoped.filter(message__campaign=campaign, kind="sent").count() == 60
    assert len(campaign_mail(sink, campaign)) == 60
    # and the three senders' marks went in one transaction per round
    assert (writer.commits, writer.largest) == (2, 30)


def test_a_sender_waits_when_the_writer_is_max_pending_marks_behind(network, templates, monkeypatch):
    # given a writer of at most 2 pending marks whose commit is held until released
    add_contacts(network.store_a, 3)
    scheduled_campaign(network, templates.email)
    launch.launch_due()
    rows = list(Message.unscoped.order_by("pk"))
    release = threading.Event()
    committing = threading.Event()
    real = marks_module.record_sent

    def held(marks):
        committing.set()
        release.wait(30)
        real(marks)

    monkeypatch.setattr(marks_module, "record_sent", held)
    writer = SentWriter(window=60, max_pending=2).start()
    mark = [Accepted(m.pk, m.organisation_id, "", "", "w") for m in rows]
    # when two marks fill it (the writer starts committing them) and a third sender hands one over
    writer.submit(mark[0])
    writer.submit(mark[1])
    assert committing.wait(30)
    third = threading.Thread(target=writer.submit, args=(mark[2],))
    third.start()
    # then the third sender waits: the writer is 2 marks behind
    third.join(timeout=0.3)
    assert third.is_alive()
    assert writer.unrecorded("w") == [rows[0].pk, rows[1].pk]
    # until the commit lands; then its mark is taken and committed too
    release.set()
    third.join(timeout=30)
    assert not third.is_alive()
    assert writer.sync()
    writer.close()
    assert writer.unrecorded("w") == []


def test_an_error_mid_batch_gives_back_only_unsent_rows_once_the_handed_over_marks_are_committed(
    network, templates, smtp_settings, monkeypatch
):
    # given a launched campaign of 5 and a writer whose window is long (marks would wait a minute)
    sink = smtp_settings
    campaign = launched(network, templates, 5)
    writer = SentWriter(window=60, max_pending=50).start()
    real = sending.Dispatcher._deliver
    calls = {"n": 0}

    def deliver(self, message, contact):
        calls["n"] += 1
        if calls["n"] == 3:
            raise DatabaseError("database went away")
        return real(self, message, contact)

    monkeypatch.setattr(sending.Dispatcher, "_deliver", deliver)
    # when the third message's send raises a database error
    with pytest.raises(DatabaseError):
        dispatch.Dispatcher("w", marks=writer).run_once()
    # then the two accepted messages were recorded SENT first (not given back: no duplicate), the others
    # went back to the queue at once
    rows = Message.unscoped.filter(campaign=campaign)
    assert sorted(rows.values_list("status", flat=True)) == ["queued", "queued", "queued", "sent", "sent"]
    assert not rows.filter(possible_duplicate=True).exists()
    # and when sending resumes everybody gets exactly one message
    monkeypatch.setattr(sending.Dispatcher, "_deliver", real)
    dispatch.drain("w2", marks=writer)
    writer.close()
    addresses = [m["To"].addresses[0].addr_spec for m in campaign_mail(sink, campaign)]
    assert len(addresses) == 5 and len(set(addresses)) == 5


def test_marks_that_cannot_be_committed_are_flagged_when_their_rows_are_given_back(
    network, templates, smtp_settings, monkeypatch
):
    # given a writer whose database refuses every commit
    campaign = launched(network, templates, 4)

    def refused(marks):
        raise DatabaseError("disk full")

    monkeypatch.setattr(marks_module, "record_sent", refused)
    writer = SentWriter(window=60, max_pending=50).start()
    real = sending.Dispatcher._deliver
    calls = {"n": 0}

    def deliver(self, message, contact):
        calls["n"] += 1
        if calls["n"] == 3:
            raise DatabaseError("database went away")
        return real(self, message, contact)

    monkeypatch.setattr(sending.Dispatcher, "_deliver", deliver)
    monkeypatch.setattr(SentWriter, "sync", lambda self, timeout=30.0: False)
    # when the batch fails after two messages were accepted
    with pytest.raises(DatabaseError):
        dispatch.Dispatcher("w", marks=writer).run_once()
    with writer._lock:  # the process exits: its pending marks are gone
        writer._pending.clear()
    writer.close()
    # then every row goes back to the queue (nothing is lost), and the two accepted ones are flagged as
    # possible duplicates: they will be sent again, and counted
    rows = Message.unscoped.filter(campaign=campaign)
    assert set(rows.values_list("status", flat=True)) == {"queued"}
    assert rows.filter(possible_duplicate=True).count() == 2


def test_a_crash_before_the_commit_resends_the_pending_marks_messages_and_loses_none(
    network, templates, smtp_settings, settings
):
    # given a sender whose writer never commits (the process dies before the window ends)
    sink = smtp_settings
    campaign = launched(network, templates, 6)
    writer = SentWriter(window=3600, max_pending=1000).start()
    outcome = dispatch.Dispatcher("dead/0", marks=writer).run_once()
    assert outcome.sent == 6
    assert writer.unrecorded("dead/0") and len(writer.unrecorded("dead/0")) == 6
    # (the crash: the writer's marks are gone with the process)
    writer._pending.clear()
    writer.close()
    # then the accepted rows are still "sending", held by the dead worker — not lost, not sent twice yet
    rows = Message.unscoped.filter(campaign=campaign)
    assert set(rows.values_list("status", flat=True)) == {"sending"}
    # when its heartbeat is stale, another worker requeues and sends them: each recipient got it twice,
    # and every duplicate is a row requeued after the crash (the window the reliability runs measure)
    later = timezone.now() + dt.timedelta(seconds=3 * settings.GLOCAL_WORKER_HEARTBEAT_SECONDS + 1)
    assert outbox.requeue_stale(now=later) == 6
    dispatch.drain("alive/0")
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert MessageEvent.unscoped.filter(message__campaign=campaign, kind="requeued").count() == 6
    addresses = [m["To"].addresses[0].addr_spec for m in campaign_mail(sink, campaign)]
    assert len(addresses) == 12 and len(set(addresses)) == 6


def test_a_mark_for_a_row_another_worker_took_over_flags_it_as_a_possible_duplicate(network, templates):
    # given two claimed rows: one still held by "w", one requeued and claimed by "other" meanwhile
    add_contacts(network.store_a, 2)
    scheduled_campaign(network, templates.email)
    launch.launch_due()
    mine, taken = outbox.claim("w")
    Message.unscoped.filter(pk=taken.pk).update(claimed_by="other")
    # when "w" records both as sent in one group
    record_sent([Accepted(m.pk, m.organisation_id, "id", "", "w") for m in (mine, taken)])
    # then both are SENT; only the one the other worker holds says "possible duplicate"
    rows = {m.pk: m for m in Message.unscoped.filter(pk__in=[mine.pk, taken.pk])}
    assert rows[mine.pk].status == rows[taken.pk].status == "sent"
    assert (rows[mine.pk].possible_duplicate, rows[taken.pk].possible_duplicate) == (False, True)
    # and a mark for a row already recorded by the other worker flags it too (its events: accepted twice)
    record_sent([Accepted(taken.pk, taken.organisation_id, "id", "", "w")])
    assert Message.unscoped.get(pk=taken.pk).possible_duplicate
    assert MessageEvent.unscoped.filter(message_id=taken.pk, kind="sent").count() == 2
