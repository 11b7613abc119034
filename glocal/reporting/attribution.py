"""Attribution: which message (so which campaign and store) a purchase is the conversion of.

A purchase by a contact on day P converts a message sent to that contact (accepted by the provider and
not bounced: status "sent" or "delivered") on day S (local) when S ≤ P ≤ S + window days, the window
being the organisation's :class:`ReportingSettings` (7 days by default). Among several such messages,
the latest sent wins (last touch, the default) or the earliest (first touch); equal times: the lower id
first. Purchases carry a date, not a time: a purchase on the send day counts. A purchase is attributed
once (``Conversion.purchase`` is unique), when the rollup job first reads it.

Control groups: the launch records the contacts it holds out of a campaign as exclusions "control
group" (never messaged). A purchase by such a contact on day P is a control conversion of that campaign
when L ≤ P ≤ L + window, L being the launch day (:func:`control_conversions`); every campaign the
contact was held out of gets one. :func:`eligible_messages` chooses the treated messages, unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from glocal.delivery.models import Exclusion, Message

from .models import ControlConversion, Conversion, ReportingSettings, Touch

DELIVERED = (Message.Status.SENT, Message.Status.DELIVERED)
DEFAULT_WINDOW = 7


def rules(organisation_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Each organisation's (window in days, touch model), defaults where HQ set none."""
    found = {
        org: (days, touch)
        for org, days, touch in ReportingSettings.unscoped.filter(
            organisation_id__in=set(organisation_ids)
        ).values_list("organisation_id", "window_days", "touch")
    }
    return defaultdict(lambda: (DEFAULT_WINDOW, Touch.LAST), found)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def eligible_messages(purchases: list[dict[str, Any]], longest: int) -> dict[int, list[dict[str, Any]]]:
    """Every delivered message of the purchases' contacts that may fall in a window: one query."""
    first_day = min(p["date"] for p in purchases) - dt.timedelta(days=longest)
    last_day = max(p["date"] for p in purchases) + dt.timedelta(days=1)
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Message.unscoped.filter(
            contact_id__in={p["contact_id"] for p in purchases},
            status__in=DELIVERED,
            sent_at__gte=_start_of(first_day),
            sent_at__lt=_start_of(last_day),
        )
        .order_by("sent_at", "id")
        .values("id", "organisation_id", "entity_id", "campaign_id", "contact_id", "sent_at")
    )
    for row in rows:
        by_contact[row["contact_id"]].append(row)
    return by_contact


def choose(purchase: dict[str, Any], messages: list[dict[str, Any]], window: int, touch: str) -> dict | None:
    """The message ``purchase`` converts, or None (``messages`` in send order)."""
    day = purchase["date"]
    fits = [
        m
        for m in messages
        if m["organisation_id"] == purchase["organisation_id"]
        and 0 <= (day - timezone.localtime(m["sent_at"]).date()).days <= window
    ]
    if not fits:
        return None
    return fits[0] if touch == Touch.FIRST else max(fits, key=lambda m: (m["sent_at"], -m["id"]))


def attribute(purchases: list[dict[str, Any]]) -> list[Conversion]:
    """The conversions of these purchases (unsaved; ``day`` is set by the caller)."""
    purchases = [p for p in purchases if p["contact_id"] is not None]
    if not purchases:
        return []
    settings = rules(p["organisation_id"] for p in purchases)
    longest = max(settings[p["organisation_id"]][0] for p in purchases)
    candidates = eligible_messages(purchases, longest)
    made = []
    for purchase in purchases:
        window, touch = settings[purchase["organisation_id"]]
        message = choose(purchase, candidates.get(purchase["contact_id"], []), window, touch)
        if message is None:
            continue
        made.append(
            Conversion(
                organisation_id=purchase["organisation_id"],
                entity_id=message["entity_id"],
                purchase_id=purchase["id"],
                message_id=message["id"],
                campaign_id=message["campaign_id"],
                revenue=Decimal(purchase["amount"]),
                touch=touch,
            )
        )
    return made


def _hold_outs(purchases: list[dict[str, Any]], longest: int) -> dict[int, list[dict[str, Any]]]:
    """Every control-group exclusion of the purchases' contacts whose window may hold a purchase."""
    first_day = min(p["date"] for p in purchases) - dt.timedelta(days=longest)
    last_day = max(p["date"] for p in purchases) + dt.timedelta(days=1)
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Exclusion.unscoped.filter(
            contact_id__in={p["contact_id"] for p in purchases},
            reason=Exclusion.Reason.CONTROL,
            at__gte=_start_of(first_day),
            at__lt=_start_of(last_day),
        )
        .order_by("at", "id")
        .values("organisation_id", "campaign_id", "campaign__entity_id", "contact_id", "at")
    )
    for row in rows:
        by_contact[row["contact_id"]].append(row)
    return by_contact


def control_conversions(purchases: list[dict[str, Any]]) -> list[ControlConversion]:
    """The control conversions of these purchases (unsaved): one per purchase × campaign the buyer was
    held out of, launched at most ``window`` days before the purchase (the launch day included)."""
    purchases = [p for p in purchases if p["contact_id"] is not None]
    if not purchases:
        return []
    settings = rules(p["organisation_id"] for p in purchases)
    longest = max(settings[p["organisation_id"]][0] for p in purchases)
    held = _hold_outs(purchases, longest)
    made = []
    for purchase in purchases:
        window = settings[purchase["organisation_id"]][0]
        for row in held.get(purchase["contact_id"], []):
            launched = timezone.localtime(row["at"]).date()
            if row["organisation_id"] != purchase["organisation_id"]:
                continue
            if 0 <= (purchase["date"] - launched).days <= window:
                made.append(
                    ControlConversion(
                        organisation_id=purchase["organisation_id"],
                        entity_id=row["campaign__entity_id"],
                        purchase_id=purchase["id"],
                        campaign_id=row["campaign_id"],
                        contact_id=purchase["contact_id"],
                        revenue=Decimal(purchase["amount"]),
                        day=launched,
                    )
                )
    return made
