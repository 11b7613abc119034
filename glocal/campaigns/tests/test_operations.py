"""Central operations: eligibility, subscription / opt-out, deadlines (idempotent), cancellation,
reminders (never twice), participation follow-up, calendar conflicts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from glocal.campaigns import selectors, services
from glocal.campaigns.models import CalendarSlot, Campaign, Operation, Participation, Reminder
from glocal.campaigns.states import State
from glocal.core import jobs
from glocal.core.scope import activate
from glocal.delivery import dispatch
from glocal.network.models import EntityGroup

from .conftest import in_days, make_operation, publish

pytestmark = pytest.mark.django_db


def later(days: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def test_opt_in_subscribe_personalise_approve(network, templates, contacts):
    op = publish(network, make_operation(network, templates))
    with activate(network.scope("store_a")):
        assert list(selectors.operations_for_scope()) == [op]
        part = services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
        assert part.status == Participation.Status.SUBSCRIBED
        campaign = Campaign.objects.get(operation=op)
        assert campaign.values == {"headline": "La foire aux vins arrive"}  # HQ's default
        services.campaign_update(campaign=campaign, values={"headline": "La foire à Lille"})
        with pytest.raises(ValidationError):  # the audience is HQ's
            services.campaign_update(campaign=campaign, criteria={"kind": "prospect"})
        services.campaign_submit(campaign=campaign)
    with activate(network.scope("regional")):
        services.approval_decide(step=selectors.approval_queue()[0], approve=True)
    campaign.refresh_from_db()
    assert campaign.state == State.SCHEDULED
    with activate(network.scope("hq_marketer")):
        overview = selectors.participation_overview(op)
    by_store = {r.entity.code: r for r in overview["rows"]}
    assert by_store["S-A"].status == "subscribed" and by_store["S-A"].personalised
    assert by_store["S-B"].status == "pending"
    assert overview["counts"]["pending"] == 2  # store A2 and store B have not answered


def test_opt_out_and_mandatory(network, templates):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.OPT_OUT))
    assert Campaign.unscoped.filter(operation=op).count() == 3  # every eligible store is in
    with activate(network.scope("store_b")):
        services.participation_decide(operation=op, entity=network.store_b, subscribe=False)
        assert Campaign.objects.get(operation=op).state == State.CANCELLED
        # changing its mind before the deadline
        services.participation_decide(operation=op, entity=network.store_b, subscribe=True)
        assert Campaign.objects.filter(operation=op).exclude(state=State.CANCELLED).count() == 1
    mandatory = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    with activate(network.scope("store_b")), pytest.raises(ValidationError):
        services.participation_decide(operation=mandatory, entity=network.store_b, subscribe=False)


def test_eligibility_and_visibility(network, templates):
    group = EntityGroup.unscoped.create(organisation=network.org, code="pilot", name="Pilot")
    with activate(network.scope("hq_admin")):
        group.entities.set([network.store_b])
    op = publish(network, make_operation(network, templates, eligibility="group", eligible_group=group))
    hidden = publish(
        network, make_operation(network, templates, visible_from=timezone.localdate() + dt.timedelta(days=2))
    )
    with activate(network.scope("store_a")):
        assert list(selectors.operations_for_scope()) == []
        with pytest.raises(PermissionDenied):
            services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
    with activate(network.scope("store_b")):
        assert list(selectors.operations_for_scope()) == [op]
        assert hidden not in selectors.operations_for_scope()
    with activate(network.scope("regional")):
        assert set(selectors.operations_for_scope()) == {op, hidden}


def test_deadlines_opt_in_out_and_defaults_idempotent(network, templates, contacts):
    op = publish(network, make_operation(network, templates))
    with activate(network.scope("store_a")):
        services.participation_decide(operation=op, entity=network.store_a, subscribe=True)
    with activate(services.system_scope(network.org.pk)):
        first = services.close_deadlines(now=later(4))
        assert first == {"out": 2, "defaults": 0}
        second = services.close_deadlines(now=later(6))
        assert second == {"out": 0, "defaults": 1}
        assert services.close_deadlines(now=later(7)) == {"out": 0, "defaults": 0}
    statuses = dict(Participation.unscoped.filter(operation=op).values_list("entity__code", "status"))
    assert statuses == {"S-A": "subscribed", "S-A2": "out", "S-B": "out"}
    campaign = Campaign.unscoped.get(operation=op)
    assert campaign.state == State.SCHEDULED and campaign.values == {"headline": "La foire aux vins arrive"}
    assert Participation.unscoped.get(operation=op, entity=network.store_a).defaults_applied


def test_automatic_mode_defaults_for_everyone_through_the_job(network, templates, contacts):
    op = publish(
        network,
        make_operation(
            network,
            templates,
            participation=Operation.Mode.OPT_OUT,
            subscription_deadline=in_days(-2),
            personalisation_deadline=in_days(-1),
        ),
    )
    jobs.enqueue("campaigns.close_deadlines", scope=network.scope("hq_admin"), params={}, by_user_id=None)
    jobs.run_pending("test")
    states = set(Campaign.unscoped.filter(operation=op).values_list("state", flat=True))
    assert states == {State.SCHEDULED}
    call_command("close_deadlines")  # the command: nothing more to do
    assert set(Campaign.unscoped.filter(operation=op).values_list("state", flat=True)) == {State.SCHEDULED}


def test_pages_show_closing_pending_and_the_tick_applies_the_deadline(network, templates, login):
    op = publish(network, make_operation(network, templates, subscription_deadline=in_days(-1)))
    page = login(network, "store_b").get(f"/campaigns/operations/{op.pk}/")
    assert b'data-testid="closing-pending"' in page.content  # a page only tells; it writes nothing
    assert Participation.unscoped.get(operation=op, entity=network.store_b).status == "pending"
    assert selectors.organisations_with_due_deadlines() == [op.organisation_id]
    stats = dispatch.tick()  # the worker's periodic tick applies it
    assert stats["deadline_outs"] >= 1
    assert Participation.unscoped.get(operation=op, entity=network.store_b).status == "out"
    assert selectors.organisations_with_due_deadlines() == []
    page = login(network, "store_b").get(f"/campaigns/operations/{op.pk}/")
    assert b'data-testid="closing-pending"' not in page.content
    assert dispatch.tick()["deadline_outs"] == 0  # idempotent


def test_cancel_operation_cancels_every_instance(network, templates, contacts):
    op = publish(
        network,
        make_operation(network, templates, participation=Operation.Mode.MANDATORY, approval_policy="none"),
    )
    with activate(network.scope("store_a")):
        campaign = Campaign.objects.get(operation=op)
        services.campaign_update(campaign=campaign, values={"headline": "Foire à Lille"})
        services.campaign_submit(campaign=campaign)
        campaign.refresh_from_db()
        assert campaign.state == State.SCHEDULED
    with activate(network.scope("hq_marketer")):
        assert services.operation_cancel(operation=Operation.objects.get(pk=op.pk)) == 3
        with pytest.raises(ValidationError):  # nothing of it is sent
            services.campaign_start_sending(campaign=Campaign.objects.get(pk=campaign.pk))
    assert set(Campaign.unscoped.filter(operation=op).values_list("state", flat=True)) == {State.CANCELLED}


def test_reminders_once_per_deadline(network, templates, contacts):
    op = publish(network, make_operation(network, templates, subscription_deadline=in_days(1)))
    with activate(services.system_scope(network.org.pk)):
        stats = services.send_reminders()
        assert stats["subscription"] == 2  # store A2 has no manager to remind
        assert services.send_reminders()["subscription"] == 0
    call_command("campaign_reminders")
    assert Reminder.unscoped.count() == 2
    to = sorted(r for m in mail.outbox for r in m.to)
    assert to == ["store_a@example.test", "store_b@example.test"]
    assert op.name in mail.outbox[0].subject


def test_conflicts_with_operation_and_blackout(network, templates, contacts):
    op = publish(network, make_operation(network, templates, participation=Operation.Mode.MANDATORY))
    with activate(network.scope("hq_marketer")):
        services.slot_create(
            fields={
                "kind": CalendarSlot.Kind.BLACKOUT,
                "name": "Soldes",
                "start": in_days(30).date(),
                "end": in_days(31).date(),
            }
        )
    with activate(network.scope("store_a")):
        c = services.campaign_create(entity=network.store_a, template=templates.email)
        services.campaign_update(campaign=c, scheduled_at=in_days(9))
        kinds = [x.kind for x in selectors.conflicts(c)]
        assert kinds == ["operation"]
        services.campaign_update(campaign=c, scheduled_at=in_days(30))
        assert [x.kind for x in selectors.conflicts(c)] == ["blackout"]
        items = selectors.calendar_items(in_days(0).date(), in_days(40).date())
    assert {i.kind for i in items} == {"operation", "campaign", "blackout"}
    assert op.name in {i.label for i in items}


def test_required_zones_need_hq_defaults_before_publication(network, templates):
    from glocal.creatives import services as creative_services

    with activate(network.scope("hq_marketer")):
        zones = [
            {"key": "message", "type": "short_text", "label": "Message", "max_length": 90, "required": True}
        ]
        creative_services.version_save(
            template=templates.sms,
            source="{{ organisation.sms_advertiser }} {{ zones.message }} STOP au 36180",
            zones_data=zones,
        )
        creative_services.version_publish(template=templates.sms)
        op = make_operation(network, templates)
        wave = services.wave_add(
            operation=op, name="SMS", version=templates.sms.published_version(), send_at=in_days(9)
        )
        with pytest.raises(ValidationError):
            services.operation_publish(operation=op)
        with pytest.raises(ValidationError):  # a locked or unknown zone is refused for HQ too
            services.wave_set_defaults(wave=wave, values={"nope": "x"})
        services.wave_set_defaults(wave=wave, values={"message": "La foire arrive"})
        services.operation_publish(operation=Operation.objects.get(pk=op.pk))
