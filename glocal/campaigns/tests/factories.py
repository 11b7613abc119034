"""Builders for the access matrix (tests/test_access_matrix.py): objects of one store or organisation,
created unscoped, returning the URL kwargs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from glocal.campaigns.models import Budget, Campaign, Operation, OperationWave
from glocal.creatives.models import ChannelTemplate, TemplateVersion
from glocal.network.models import Entity

Builder = Callable[[Any], dict]


def _version(entity: Entity) -> TemplateVersion:
    root = Entity.unscoped.get(organisation=entity.organisation, parent__isnull=True)
    template = ChannelTemplate.unscoped.create(
        organisation=entity.organisation, entity=root, channel="sms", name="T", status="published"
    )
    return TemplateVersion.unscoped.create(
        organisation=entity.organisation,
        template=template,
        number=1,
        source="{{ store.name }} {{ zones.message }} STOP au 36180",
        zones=[{"key": "message", "type": "short_text", "max_length": 50}],
        published_at=timezone.now(),
    )


def make_campaign(store_attr: str) -> Builder:
    def build(n: Any) -> dict:
        store = getattr(n, store_attr)
        campaign = Campaign.unscoped.create(
            organisation=store.organisation, entity=store, name=f"Local {store.code}", version=_version(store)
        )
        return {"pk": campaign.pk}

    return build


def _operation(root: Entity, **fields: Any) -> Operation:
    now = timezone.now()
    fields.setdefault("status", Operation.Status.PUBLISHED)
    return Operation.unscoped.create(
        organisation=root.organisation,
        owner=root,
        name="Foire",
        visible_from=timezone.localdate() - dt.timedelta(days=1),
        subscription_deadline=now + dt.timedelta(days=3),
        personalisation_deadline=now + dt.timedelta(days=5),
        in_market_start=(now + dt.timedelta(days=7)).date(),
        in_market_end=(now + dt.timedelta(days=14)).date(),
        **fields,
    )


def make_operation(root_attr: str, only_for: str = "") -> Builder:
    """A published operation owned by ``root_attr``; ``only_for`` restricts it to one store."""

    def build(n: Any) -> dict:
        root = getattr(n, root_attr)
        if only_for:
            op = _operation(root, eligibility=Operation.Eligibility.LIST)
            Operation.eligible_entities.through.objects.create(operation=op, entity=getattr(n, only_for))
        else:
            op = _operation(root)
        return {"pk": op.pk}

    return build


def make_wave(root_attr: str) -> Builder:
    def build(n: Any) -> dict:
        root = getattr(n, root_attr)
        op = _operation(root, status=Operation.Status.DRAFT)
        wave = OperationWave.unscoped.create(
            organisation=root.organisation,
            operation=op,
            name="Teaser",
            version=_version(root),
            send_at=op.personalisation_deadline + dt.timedelta(days=3),
        )
        return {"pk": wave.pk}

    return build


def make_budget(entity_attr: str) -> Builder:
    def build(n: Any) -> dict:
        entity = getattr(n, entity_attr)
        today = timezone.localdate()
        budget = Budget.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            period_start=today,
            period_end=today + dt.timedelta(days=90),
            amount=Decimal("500"),
        )
        return {"pk": budget.pk}

    return build
