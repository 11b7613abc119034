"""Demo step 4, campaigns: the "Foire aux vins" operation (email teaser + SMS reminder, stores in
automatically, store A has personalised and submitted), local campaigns, budgets, calendar slots."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from glocal.campaigns import services
from glocal.campaigns.models import ApprovalStep, Budget, CalendarSlot, Campaign, CampaignSettings, Operation
from glocal.core.roles import Role
from glocal.core.scope import activate
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity, Membership, Organisation

log = logging.getLogger(__name__)


def _at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def seed_campaigns(org: Organisation) -> None:
    """Called by :func:`glocal.demo.seed.seed_demo` inside the HQ scope of ``org``."""
    email = ChannelTemplate.objects.filter(channel="email", status="published").order_by("pk").first()
    sms = ChannelTemplate.objects.filter(channel="sms", status="published").order_by("pk").first()
    if email is None or sms is None:
        return
    hq = Entity.objects.get(parent__isnull=True, organisation=org)
    CampaignSettings.objects.get_or_create(
        organisation=org,
        defaults={"local_criteria": ["kind", "tags"], "over_budget": CampaignSettings.OverBudget.ROUTE_HQ},
    )
    today = timezone.localdate()
    quarter_end = today + dt.timedelta(days=90)
    stores = list(Entity.objects.filter(entity_type__is_local=True, is_active=True).order_by("path"))
    Budget.objects.bulk_create(
        [
            Budget(
                organisation=org,
                entity=store,
                period_start=today - dt.timedelta(days=1),
                period_end=quarter_end,
                amount=Decimal("250.00"),
                coop_share=Decimal("50"),
            )
            for store in stores
        ]
    )
    CalendarSlot.objects.create(
        organisation=org,
        entity=hq,
        kind=CalendarSlot.Kind.BLACKOUT,
        name="Soldes d'hiver (pas de campagne locale)",
        start=today + dt.timedelta(days=40),
        end=today + dt.timedelta(days=46),
    )
    CalendarSlot.objects.create(
        organisation=org,
        entity=hq,
        kind=CalendarSlot.Kind.RESERVED,
        name="Créneau local : fête des pères",
        start=today + dt.timedelta(days=30),
        end=today + dt.timedelta(days=33),
    )
    op = services.operation_create(
        fields={
            "name": "Foire aux vins",
            "description": "La foire aux vins d'automne : un email d'annonce, puis un SMS de rappel.",
            "visible_from": today - dt.timedelta(days=2),
            "subscription_deadline": _at(5, 18),
            "personalisation_deadline": _at(10, 18),
            "in_market_start": today + dt.timedelta(days=14),
            "in_market_end": today + dt.timedelta(days=28),
            "participation": Operation.Mode.OPT_OUT,
            "approval_policy": "regional",
            "audience_criteria": {"kind": "customer"},
        }
    )
    email_version, sms_version = email.published_version(), sms.published_version()
    assert email_version is not None and sms_version is not None
    services.wave_add(
        operation=op,
        name="Email d'annonce",
        version=email_version,
        send_at=_at(14, 9),
        zone_defaults={"headline": "La foire aux vins commence", "offer": "-10 %"},
    )
    services.wave_add(
        operation=op,
        name="SMS de rappel",
        version=sms_version,
        send_at=_at(20, 10),
        zone_defaults={"message": "Foire aux vins : derniers jours, -10 % sur les vins !"},
    )
    services.operation_publish(operation=op)
    manager = (
        Membership.objects.filter(organisation=org, role=Role.LOCAL_MANAGER, is_active=True)
        .select_related("entity")
        .order_by("pk")
        .first()
    )
    if manager is None:
        return
    with activate(manager.as_scope()):
        store = manager.entity
        try:
            teaser = Campaign.objects.get(operation=op, entity=store, wave__name="Email d'annonce")
            services.campaign_update(
                campaign=teaser,
                values={"headline": f"La foire aux vins à {store.city or store.name}", "offer": "-20 %"},
            )
            services.campaign_submit(campaign=teaser)
            reopening = services.campaign_create(
                entity=store, template=email, name="Réouverture après travaux"
            )
            services.campaign_update(
                campaign=reopening,
                values={
                    "headline": "Nous rouvrons samedi !",
                    "body": "<p>Un magasin tout neuf vous attend.</p>",
                },
                criteria={"kind": "customer"},
                scheduled_at=_at(3, 10),
            )
            services.campaign_submit(campaign=reopening)
            sunny = services.campaign_create(entity=store, template=sms, name="Week-end ensoleillé")
            services.campaign_update(
                campaign=sunny,
                values={"message": "Grand soleil ce week-end : -15 % sur le rayon jardin !"},
                scheduled_at=_at(16, 10),
            )
        except ValidationError:  # the demo must not fail on a content rule someone tightened
            log.exception("demo campaigns for %s", store)
    _seed_sent_campaign(org, manager, email)


def _seed_sent_campaign(org: Organisation, manager: Membership, email: ChannelTemplate) -> None:
    """A local campaign already approved by the region and due: the demo's worker sends it at start, so
    the "sent messages" page shows real messages (to the demo's mail catcher) on the first visit."""
    store = manager.entity
    region = (
        Membership.objects.filter(organisation=org, role=Role.REGIONAL_MANAGER, is_active=True)
        .order_by("pk")
        .first()
    )
    try:
        with activate(manager.as_scope()):
            welcome = services.campaign_create(entity=store, template=email, name="Bienvenue chez nous")
            services.campaign_update(
                campaign=welcome,
                values={
                    "headline": f"Bienvenue au magasin de {store.city or store.name}",
                    "body": "<p>Merci de votre visite : voici nos nouveautés de la semaine.</p>",
                },
                criteria={"kind": "customer"},
                scheduled_at=_at(1, 10),
            )
            services.campaign_submit(campaign=welcome)
        if region is not None and store.path.startswith(region.entity.path):
            with activate(region.as_scope()):
                for step in ApprovalStep.objects.filter(campaign=welcome, status=ApprovalStep.Status.PENDING):
                    services.approval_decide(step=step, approve=True)
    except ValidationError:
        log.exception("demo sent campaign for %s", store)
        return
    # Due now: moved past its date on purpose (a store could only pick a future date).
    Campaign.objects.filter(pk=welcome.pk, state="scheduled").update(
        scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
