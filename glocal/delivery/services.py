"""Delivery writes that views call: unsubscribes, opens and clicks, HQ's delivery rules.

Public endpoints act for a recipient, not a user: they run in the organisation's system scope, and only
on what a signed token or reference names.
"""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.audience import services as audience_services
from glocal.audience.models import ConsentSource, ConsentStatus, Contact, Suppression, hash_value
from glocal.campaigns.models import Campaign
from glocal.core import audit
from glocal.core.roles import Action, role_allows
from glocal.core.scope import activate, get_scope, system_scope
from glocal.network.models import Entity

from . import tokens, tracking
from .models import DeliverySettings, Message, MessageEvent, SendingWindow

UNSUBSCRIBE_WORDING = "One-click unsubscribe link (RFC 8058)"


def contact_for_claim(claim: tokens.UnsubscribeClaim) -> Contact | None:
    # Token lookup: the signed claim names the organisation and the contact.
    return Contact.unscoped.filter(pk=claim.contact_id, organisation_id=claim.organisation_id).first()


def is_subscribed(contact: Contact, channel: str) -> bool:
    return getattr(contact, f"consent_{channel}", "") not in ("", ConsentStatus.OPT_OUT)


def _message(stable_id: str) -> Message | None:
    # Token lookup: the stable id comes from a signed reference.
    return Message.unscoped.filter(stable_id=stable_id).first()


def unsubscribe(
    claim: tokens.UnsubscribeClaim,
    contact: Contact,
    *,
    ip: str | None = None,
    wording: str = UNSUBSCRIBE_WORDING,
) -> None:
    """Brand-wide objection on the channel, effective at once (idempotent: a replay changes nothing).
    Messages still queued are skipped at dispatch, which re-checks consent."""
    with activate(system_scope(contact.organisation_id)), transaction.atomic():
        opted_in = is_subscribed(contact, claim.channel)
        if opted_in or not audience_services.is_suppressed(
            organisation_id=contact.organisation_id,
            channel=claim.channel,
            email=contact.email,
            mobile=contact.mobile,
        ):
            audience_services.contact_opt_out(
                contact=contact,
                channel=claim.channel,
                source=ConsentSource.FORM,
                wording=wording,
                ip=ip,
            )
        message = _message(claim.message_id)
        if message is not None and message.contact_id == contact.pk:
            already = MessageEvent.unscoped.filter(
                message=message, kind=MessageEvent.Kind.UNSUBSCRIBED
            ).exists()
            if not already:
                MessageEvent.unscoped.create(
                    organisation_id=message.organisation_id,
                    message=message,
                    kind=MessageEvent.Kind.UNSUBSCRIBED,
                )


def rented_message_for_claim(claim: tokens.UnsubscribeClaim) -> Message | None:
    """A rented list's message (no contact: the signed claim names contact 0 and the message), so that
    its recipient can object like anyone else."""
    if claim.contact_id != 0:
        return None
    # Token lookup: the signed claim names the organisation and the message.
    return (
        Message.unscoped.filter(
            organisation_id=claim.organisation_id, stable_id=claim.message_id, contact__isnull=True
        )
        .select_related("campaign__entity__organisation")
        .first()
    )


def address_is_subscribed(message: Message, channel: str) -> bool:
    """Whether a rented list's recipient may still receive this channel: not on the opposition list."""
    address = message.to_address
    return not audience_services.is_suppressed(
        organisation_id=message.organisation_id,
        channel=channel,
        email=address if channel == "email" else "",
        mobile=address if channel == "sms" else "",
    )


def unsubscribe_address(claim: tokens.UnsubscribeClaim, message: Message) -> None:
    """A rented list's recipient objects: their address goes on the organisation's opposition list for
    the channel (by hash, brand-wide, never lifted but by their own act), and the message records it.
    Idempotent."""
    with activate(system_scope(message.organisation_id)), transaction.atomic():
        audience_services.suppress(
            organisation_id=message.organisation_id,
            channel=claim.channel,
            hashes=[hash_value(message.to_address)],
            reason=Suppression.Reason.OPT_OUT,
        )
        if not MessageEvent.unscoped.filter(message=message, kind=MessageEvent.Kind.UNSUBSCRIBED).exists():
            MessageEvent.unscoped.create(
                organisation_id=message.organisation_id, message=message, kind=MessageEvent.Kind.UNSUBSCRIBED
            )


def _reaction(ref: str, kind: str, field: str, **detail: Any) -> Message | None:
    stable_id = tracking.read_ref(ref)
    if stable_id is None:
        return None
    message = _message(stable_id)
    if message is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        MessageEvent.unscoped.create(
            organisation_id=message.organisation_id, message=message, kind=kind, at=now, detail=detail
        )
        Message.unscoped.filter(pk=message.pk, **{f"{field}__isnull": True}).update(**{field: now})
        if kind == MessageEvent.Kind.CLICKED:
            # A click is the prospect's own act: it counts as activity for retention (an open does not).
            Contact.unscoped.filter(pk=message.contact_id).update(last_activity_at=now)
    return message


def record_click(ref: str, url: str) -> None:
    _reaction(ref, MessageEvent.Kind.CLICKED, "clicked_at", url=url[:500])


def record_open(ref: str) -> None:
    _reaction(ref, MessageEvent.Kind.OPENED, "opened_at")


PIXEL_TAG = re.compile(r'<img src="[^"]*/o/[^"]+\.gif"[^>]*>')


def html_part(raw: bytes) -> str:
    """The HTML part of a captured message, for the store's own eyes: without the open pixel, so that
    looking at it is not counted as the recipient opening it (shown in a sandboxed frame: no scripts,
    no navigation)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(("html",))
    return PIXEL_TAG.sub("", body.get_content()) if body is not None else ""


def counts_for(campaign: Campaign, statuses: dict[str, int]) -> dict[str, int]:
    messages = Message.objects.filter(campaign=campaign)
    return {
        "total": sum(statuses.values()),
        "opened": messages.filter(opened_at__isnull=False).count(),
        "clicked": messages.filter(clicked_at__isnull=False).count(),
        "unsubscribed": MessageEvent.objects.filter(
            message__campaign=campaign, kind=MessageEvent.Kind.UNSUBSCRIBED
        )
        .values("message")
        .distinct()
        .count(),
        "possible_duplicates": messages.filter(possible_duplicate=True).count(),
    }


CAP_CHANNELS = ("", "email", "sms", "print")  # "": every channel


def validate_caps(caps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The caps as stored (``{"limit": 3, "days": 7, "channel": "email"}``, "" for all channels), checked:
    at least one message, 1 to 365 days, a known channel, one cap per channel and period."""
    clean: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for cap in caps:
        limit, days, channel = int(cap["limit"]), int(cap["days"]), cap.get("channel") or ""
        if limit < 1 or not 1 <= days <= 365 or channel not in CAP_CHANNELS:
            raise ValidationError(_("A cap needs at least 1 message, 1 to 365 days and a known channel."))
        if (days, channel) in seen:
            raise ValidationError(_("Two caps have the same channel and period: keep one."))
        seen.add((days, channel))
        clean.append({"limit": limit, "days": days, "channel": channel})
    return clean


def settings_save(*, form: Any, caps: list[dict[str, Any]] | None = None) -> DeliverySettings:
    """HQ's delivery rules (pressure caps, priority, SMS window — which only ever narrows the legal one,
    and must leave some time inside it). ``caps``: None keeps the current ones."""
    from . import window_summary

    scope = get_scope()
    if not role_allows(scope.role, Action.MARKETING_RULES):
        raise ValidationError(_("Only head office sets the delivery rules."))
    if "sender_domain" in form.changed_data and not role_allows(scope.role, Action.NETWORK_SETTINGS):
        raise ValidationError(_("Only head office administrators change the sender domain."))
    obj: DeliverySettings = form.save(commit=False)
    obj.organisation_id = scope.organisation_id
    if caps is not None:
        obj.caps = validate_caps(caps)
    if obj.sms_start and obj.sms_end and obj.sms_start >= obj.sms_end:
        raise ValidationError(_("The SMS window must end after it starts."))
    hq_node = Entity.objects.filter(pk=scope.entity_id).first()
    if window_summary.head_office(obj, hq_node.country if hq_node else "FR").effective is None:
        raise ValidationError(
            _("This window leaves no time at which SMS may be sent once limited by the law.")
        )
    obj.save()
    audit.record(action="delivery.settings", summary="delivery rules")
    return obj


def sending_window_save(*, days: list[int], start: Any, end: Any) -> SendingWindow:
    """The acting entity's own SMS window (a store, a region, or HQ's node). It may only narrow: it must
    leave some time inside head office's window and the law's (France: Monday to Saturday, 8:00-20:00)."""
    from . import launch, windows

    scope = get_scope()
    if not role_allows(scope.role, Action.CAMPAIGN_SUBMIT):
        raise ValidationError(_("Your role cannot change the sending window."))
    if start and end and start >= end:
        raise ValidationError(_("The SMS window must end after it starts."))
    entity = Entity.objects.get(pk=scope.entity_id)
    row = SendingWindow.objects.filter(entity=entity).first() or SendingWindow(
        organisation_id=scope.organisation_id, entity=entity, entity_path=entity.path
    )
    row.sms_days, row.sms_start, row.sms_end = sorted({int(d) for d in days}), start, end
    mine = launch._window_of(row.sms_days, start, end)
    if mine is not None:
        try:
            hq = launch.narrowed_window(launch.settings_for(scope.organisation_id), "sms", entity.parent)
            legal = windows.legal_window("sms", entity.country or "FR")
            windows.narrow(windows.narrow(legal, hq), mine)
        except windows.WindowError:
            raise ValidationError(
                _("This window leaves no time at which SMS may be sent (head office's window and the law).")
            ) from None
    row.save()
    audit.record(
        action="delivery.window",
        summary=f"{entity.name}: SMS window",
        entity_id=entity.pk,
        data={"name": entity.name},
    )
    return row
