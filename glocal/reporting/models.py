"""Reporting's own tables: the daily rollups pages read, the watermarks of the job that maintains them,
the per-message first-seen marks that make unique counts incremental, the attributed conversions and
each organisation's attribution settings (docs/reporting.md explains every figure).

Nothing here is written by another app, and reporting writes nothing of theirs.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import EntityOwned, OrganisationOwned
from glocal.network.models import Organisation

COUNTS = (
    "sent",
    "delivered",
    "bounced_hard",
    "bounced_soft",
    "opened_unique",
    "opened_total",
    "clicked_unique",
    "clicked_total",
    "unsubscribed",
    "complained",
    "converted",
)
AMOUNTS = ("revenue", "cost")
FIGURES = COUNTS + AMOUNTS


class DailyRollup(EntityOwned):
    """One organisation × entity × campaign × operation × channel × day: the sums pages read.

    Message figures are counted on the message's send day (its cohort), conversions on the day of the
    message they are attributed to, cost on the day the spend was recorded. Visible in the entity's
    subtree, like the campaigns it sums."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    operation = models.ForeignKey(
        "campaigns.Operation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10)
    day = models.DateField()
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    bounced_hard = models.IntegerField(default=0)
    bounced_soft = models.IntegerField(default=0)
    opened_unique = models.IntegerField(default=0)
    opened_total = models.IntegerField(default=0)
    clicked_unique = models.IntegerField(default=0)
    clicked_total = models.IntegerField(default=0)
    unsubscribed = models.IntegerField(default=0)
    complained = models.IntegerField(default=0)
    converted = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "entity", "campaign", "operation", "channel", "day"],
                name="rollup_one_row_per_key",
            )
        ]
        indexes = [
            models.Index(fields=["organisation", "day"], name="rollup_org_day"),
            models.Index(fields=["campaign", "day"], name="rollup_campaign_day"),
        ]


class RollupWatermark(models.Model):
    """The last id of a source (``events``, ``purchases``, ``ledger``) already added to the rollups:
    moved in the same transaction as the rollups it covers. System bookkeeping across organisations:
    no tenant data, read and written by the rollup job only."""

    source = models.CharField(max_length=20, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.source} → {self.last_id}"


class MessageFirstSeen(models.Model):
    """The first event of a kind for a message (``sent``, ``bounced``, ``opened``, ``clicked``,
    ``unsubscribed``, ``complaint``) and the day it fell on: a unique count is added once, and the
    reactions of a message go on its send day. Bookkeeping of the rollup job (no page reads it); the
    organisation is the message's."""

    message = models.ForeignKey("delivery.Message", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=14)
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "kind"], name="first_seen_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.kind} {self.day}"


class Touch(models.TextChoices):
    LAST = "last", _("Last touch: the latest message before the purchase")
    FIRST = "first", _("First touch: the earliest message in the window")


class ReportingSettings(OrganisationOwned):
    """HQ's attribution rule: how many days after a message a purchase counts as its conversion, and
    which message gets it when several qualify. The extension point for control groups (hold-outs)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    window_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"),
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(90)],
        help_text=_("A purchase made this many days after a message at most counts as its conversion."),
    )
    touch = models.CharField(_("attribution model"), max_length=5, choices=Touch.choices, default=Touch.LAST)

    class Meta:
        verbose_name = _("reporting settings")
        verbose_name_plural = _("reporting settings")


class Conversion(EntityOwned):
    """A purchase attributed to one message (so to its campaign and store), once: the purchase is unique.
    ``entity`` is the sending store's; ``day`` the rollup day it counts on (the message's send day)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    purchase = models.OneToOneField("audience.Purchase", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("delivery.Message", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    revenue = models.DecimalField(max_digits=12, decimal_places=2)
    touch = models.CharField(max_length=5, choices=Touch.choices)
    day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["campaign"], name="conversion_campaign")]


class ControlConversion(EntityOwned):
    """A purchase by a contact held out of a campaign as its control group (an exclusion "control
    group" at launch), within the attribution window after the launch day: what that contact would have
    bought anyway. Once per purchase × campaign (a contact may be held out of several campaigns);
    ``entity`` is the campaign's store, ``day`` the launch day. Written by the rollup job with the
    purchases' watermark."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    purchase = models.ForeignKey("audience.Purchase", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revenue = models.DecimalField(max_digits=12, decimal_places=2)
    day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase", "campaign"], name="control_conversion_once"),
        ]
        indexes = [models.Index(fields=["campaign"], name="control_conversion_campaign")]
