"""The outbox and what happens to each message, the exclusions with their reasons, the network's
delivery rules.

Scoping: a message, its events and a campaign's exclusions belong to the store that sends them and are
visible in that store's scope (and to its region and HQ), like the campaign itself. The delivery rules are
the organisation's (HQ).

A message row is written at launch, in the same transaction as every other message of the campaign; its
``status`` moves QUEUED → SENDING (claimed by one worker) → SENT, or back to QUEUED with a later
``not_before`` (temporary failure, quiet hours), or to FAILED / SKIPPED. Every move after the launch is a
:class:`MessageEvent`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import OrganisationOwned, Scope, TenantModel
from glocal.network.models import Organisation


def _store_q(scope: Scope, prefix: str = "") -> Q:
    return Q(organisation_id=scope.organisation_id) & Q(
        **{f"{prefix}entity_path__startswith": scope.entity_path}
    )


class DeliverySettings(OrganisationOwned):
    """HQ's delivery rules: marketing-pressure caps, the central/local priority, the SMS window (which
    may only narrow the legal one), the sender domain."""

    class Priority(models.TextChoices):
        LOCAL_FIRST = "local_first", _("Local campaigns first")
        CENTRAL_FIRST = "central_first", _("Head office's campaigns first")
        WEIGHT = "weight", _("By campaign weight only")

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    caps = models.JSONField(
        _("pressure caps"),
        default=list,
        blank=True,
        help_text=_('A list of {"limit": 3, "days": 7, "channel": "email"}; no channel means all channels.'),
    )
    priority = models.CharField(
        _("priority"), max_length=16, choices=Priority.choices, default=Priority.LOCAL_FIRST
    )
    count_scheduled = models.BooleanField(
        _("count campaigns already scheduled"),
        default=False,
        help_text=_("Campaigns scheduled in the coming days use up the caps too."),
    )
    sms_days = models.JSONField(
        _("SMS days"),
        default=list,
        blank=True,
        help_text=_("Weekdays (0 = Monday) SMS may go out; empty: legal."),
    )
    sms_start = models.TimeField(_("SMS not before"), null=True, blank=True)
    sms_end = models.TimeField(_("SMS not after"), null=True, blank=True)
    sender_domain = models.CharField(
        _("sender domain"), max_length=120, blank=True, help_text=_("Messages come from stores@this domain.")
    )

    class Meta:
        verbose_name = _("delivery settings")
        verbose_name_plural = _("delivery settings")


class Message(TenantModel):
    """One message of one campaign to one contact: the outbox row."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent")
        CANCELLED = "cancelled", _("Cancelled")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    entity_path = models.CharField(max_length=255)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10)
    to_address = models.CharField(max_length=254)
    stable_id = models.CharField(max_length=64, unique=True)  # Message-ID and provider idempotency key
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    not_before = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    enhanced_code = models.CharField(max_length=10, blank=True)
    provider_id = models.CharField(max_length=120, blank=True)
    possible_duplicate = models.BooleanField(default=False)  # an attempt ended with an unknown outcome
    body = models.TextField(blank=True)  # SMS text as sent (emails are rendered again on demand)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["status", "not_before", "id"], name="message_due"),  # the claim's order
            models.Index(fields=["campaign", "status"], name="message_campaign_status"),
            models.Index(fields=["organisation", "contact", "created_at"], name="message_contact_history"),
            models.Index(fields=["provider_id"], name="message_provider_id"),  # receipts without our id
            models.Index(fields=["to_address", "channel"], name="message_to_address"),  # inbound STOP
            # The outbox alone (rows not sent yet): /metrics counts its depth by status and channel from
            # this small index instead of reading the whole message table (docs/operations.md).
            models.Index(
                fields=["status", "channel"],
                name="message_outbox",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="message_one_per_contact"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.stable_id

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _store_q(scope)


class MessageEvent(TenantModel):
    """A state change or a reaction: claimed, sent, retry, failed, skipped, bounced, delivered, opened,
    clicked, unsubscribed, complaint. Append-only."""

    class Kind(models.TextChoices):
        CLAIMED = "claimed", _("Taken by a worker")
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Temporary failure, will retry")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent")
        REQUEUED = "requeued", _("Back in the queue (worker stopped)")
        DEFERRED = "deferred", _("Waiting for the sending window")
        BOUNCED = "bounced", _("Bounced")
        DELIVERED = "delivered", _("Delivered")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        COMPLAINT = "complaint", _("Marked as spam")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["message", "at"], name="message_event_at")]
        ordering = ["at", "id"]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _store_q(scope, "message__")


class Exclusion(TenantModel):
    """A contact the campaign's criteria matched but who was not addressed, and why: ``reason`` (the
    kind), and for a reason with details ``detail_code`` and its ``params`` (data, never a sentence: the
    launch runs in no reader's language), written in the reader's by :meth:`explanation`. ``detail`` is
    the sentence older launches stored (their language), kept for the rows without a code."""

    class Reason(models.TextChoices):
        NO_CONSENT = "no_consent", _("No consent on this channel")
        NO_ADDRESS = "no_address", _("No usable address")
        OPPOSITION = "opposition", _("On the opposition list")
        REMOVED = "removed", _("Removed by the store")
        PRESSURE = "pressure", _("Marketing pressure")
        CONTROL = "control", _("Control group")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity_path = models.CharField(max_length=255)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="exclusions")
    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=12, choices=Reason.choices)
    detail_code = models.CharField(max_length=40, blank=True)  # glocal.delivery.reasons
    params = models.JSONField(default=dict, blank=True)
    detail = models.CharField(max_length=300, blank=True)  # legacy: a sentence in the launch's language
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "reason"], name="exclusion_campaign_reason"),
            # Reporting's control conversions: a buyer's hold-outs (a small share of the rows).
            models.Index(
                fields=["contact", "at"],
                name="exclusion_control_contact",
                condition=models.Q(reason="control"),
            ),
        ]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _store_q(scope)

    def explanation(self) -> str:
        """Why, in the active language (the reader's)."""
        return explain(self.reason, self.detail_code, self.params, self.detail)


def explain(reason: str, detail_code: str = "", params: Any = None, detail: str = "") -> str:
    """An exclusion's reason in the active language: the sentence of its code and parameters, else the
    sentence an older launch stored, else the reason's label (for rows and ``values()`` alike)."""
    from .reasons import sentence

    if detail_code:
        text = sentence(detail_code, params or {})
        if text is not None:
            return text
    if detail:
        return detail
    return str(Exclusion.Reason(reason).label) if reason in Exclusion.Reason.values else reason


class SendingWindow(TenantModel):
    """A store's (or region's) own SMS window: it narrows head office's, which narrows the law's."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.OneToOneField("network.Entity", on_delete=models.CASCADE, related_name="+")
    entity_path = models.CharField(max_length=255)
    sms_days = models.JSONField(_("SMS days"), default=list, blank=True)
    sms_start = models.TimeField(_("SMS not before"), null=True, blank=True)
    sms_end = models.TimeField(_("SMS not after"), null=True, blank=True)

    class Meta:
        verbose_name = _("sending window")

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _store_q(scope)


class SeedList(OrganisationOwned):
    """The addresses HQ sends its test emails to (a template's draft, from the template editor): the last
    list used, remembered per organisation and offered again (``delivery.test_send``)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    addresses = models.JSONField(_("test addresses"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("test send addresses")
        verbose_name_plural = _("test send addresses")

    def __str__(self) -> str:
        return ", ".join(self.addresses)
