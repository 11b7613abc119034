"""Raw rows of other apps for reporting's tests (created unscoped, as the delivery engine writes them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from glocal.audience.models import Contact, Purchase
from glocal.campaigns.models import Campaign, LedgerEntry, Operation
from glocal.campaigns.states import State
from glocal.creatives.models import ChannelTemplate, TemplateVersion
from glocal.delivery.models import Message, MessageEvent
from glocal.network.models import Entity


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A local time (Europe/Paris) on ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def campaign(
    store: Entity, channel: str = "email", *, operation: Operation | None = None, name: str = ""
) -> Campaign:
    root = Entity.unscoped.get(organisation=store.organisation, parent__isnull=True)
    template = ChannelTemplate.unscoped.create(
        organisation=store.organisation, entity=root, channel=channel, name=f"T {channel}", status="published"
    )
    version = TemplateVersion.unscoped.create(
        organisation=store.organisation, template=template, number=1, source="x", zones=[],
        published_at=timezone.now(),
    )  # fmt: skip
    return Campaign.unscoped.create(
        organisation=store.organisation,
        entity=store,
        name=name or f"{channel} {store.code}",
        version=version,
        operation=operation,
        state=State.SENT,
    )


def contact(store: Entity, n: int) -> Contact:
    return Contact.unscoped.create(
        organisation=store.organisation,
        owner=store,
        owner_path=store.path,
        email=f"c{store.pk}-{n}@example.test",
        mobile=f"+336{store.pk:04d}{n:04d}",
    )


def message(camp: Campaign, person: Contact, *, sent_at: dt.datetime | None, status: str = "") -> Message:
    return Message.unscoped.create(
        organisation=camp.organisation,
        entity=camp.entity,
        entity_path=camp.entity.path,
        campaign=camp,
        contact=person,
        channel=camp.version.template.channel,
        to_address=person.email,
        stable_id=f"g{camp.pk}-{person.pk}",
        status=status or (Message.Status.SENT if sent_at else Message.Status.FAILED),
        not_before=sent_at or timezone.now(),
        sent_at=sent_at,
    )


def event(msg: Message, kind: str, when: dt.datetime, **detail: Any) -> MessageEvent:
    return MessageEvent.unscoped.create(
        organisation_id=msg.organisation_id, message=msg, kind=kind, at=when, detail=detail
    )


def purchase(
    person: Contact | None, store: Entity, day: dt.date, amount: str, *, created: dt.datetime | None = None
) -> Purchase:
    return Purchase.unscoped.create(
        organisation=store.organisation,
        contact=person,
        entity=store,
        date=day,
        amount=Decimal(amount),
        created_at=created or at(day, 20),
    )


def spend(camp: Campaign, kind: str, amount: str, when: dt.datetime) -> LedgerEntry:
    return LedgerEntry.unscoped.create(
        organisation=camp.organisation,
        entity=camp.entity,
        campaign=camp,
        kind=kind,
        amount=Decimal(amount),
        at=when,
    )
