"""Sending: the moves the delivery engine makes (start, then sent with the count and cost)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .. import selectors
from ..models import Campaign, Operation
from ..states import Event
from .transitions import campaign_transition


def campaign_start_sending(*, campaign: Campaign) -> Campaign:
    if campaign.operation is not None and campaign.operation.status == Operation.Status.CANCELLED:
        raise ValidationError(_("The operation is cancelled: nothing of it is sent."))
    return campaign_transition(campaign=campaign, event=Event.START_SENDING)


def campaign_mark_sent(
    *, campaign: Campaign, sent_count: int, actual_cost: Decimal | None = None
) -> Campaign:
    """Record the execution (count from the platform's own outbox) and the actual cost."""
    settings = selectors.settings_for(campaign.organisation_id)
    if actual_cost is None:
        unit, _units = selectors.unit_cost(campaign, settings)
        actual_cost = (unit * sent_count).quantize(selectors.CENTS)
    campaign.sent_count = sent_count
    campaign.actual_cost = actual_cost
    campaign.save(update_fields=["sent_count", "actual_cost", "updated_at"])
    return campaign_transition(campaign=campaign, event=Event.FINISH_SENDING)
