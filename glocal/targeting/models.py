"""Lead capture, guarded segments and external prospect lists.

- ``LeadCaptureSettings`` (per organisation, set by HQ): the consent wording and form version the
  public forms show and the ledger records, the embedding policy, anti-abuse thresholds.
- ``LeadForm`` (per store): the unguessable kiosk and embed tokens that address the public forms.
- ``PendingOptIn``: an email consent waiting for its double opt-in confirmation.
- ``SegmentPolicy`` (per organisation, set by HQ): which criteria non-HQ users may use.
- ``Segment``: criteria stored as data (``[{field, op, value}]``), owned by the entity that made it.
- ``ProspectList`` / ``ProspectRecord`` / ``ProspectListPurge``: rented or partner lists, kept apart
  from the customer base (separate tables, never contacts), for one campaign, purged after it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from glocal.core.language import organisation_language, supported
from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, TenantModel

# The consent wording until HQ writes its own, in the language of the form's reader (the store's, else the
# organisation's: ``glocal.core.language``); the ledger records the text shown.
DEFAULT_WORDING = {
    "email": _(
        "I agree to receive news and offers from this store by email. "
        "I can unsubscribe at any time with the link in each email."
    ),
    "sms": _(
        "I agree to receive news and offers from this store by SMS. "
        "I can reply STOP at any time to stop them."
    ),
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


class LeadCaptureSettings(OrganisationOwned):
    """The organisation's lead-capture rules, chosen by HQ.

    The consent wording is per language (:meth:`wording`): HQ's own for that language — ``email_wording``
    and ``sms_wording`` in the organisation's language, ``wordings`` (``{language: {channel: text}}``) in
    the others — else the default wording (:data:`DEFAULT_WORDING`), translated. Empty: the default."""

    organisation = models.OneToOneField(
        "network.Organisation", on_delete=models.CASCADE, related_name="lead_capture_settings"
    )
    form_version = models.CharField(_("form version"), max_length=60, default="v1")
    email_wording = models.TextField(_("email consent wording"), blank=True)  # the organisation's language
    sms_wording = models.TextField(_("SMS consent wording"), blank=True)
    wordings = models.JSONField(_("consent wording in other languages"), default=dict, blank=True)
    frame_ancestors = models.CharField(
        _("sites allowed to embed the web form"),
        max_length=500,
        blank=True,
        help_text=_("Origins separated by spaces, e.g. https://www.example.com. Empty: this site only."),
    )
    min_fill_seconds = models.PositiveSmallIntegerField(
        _("minimum fill time (seconds)"),
        default=3,
        help_text=_("Faster submissions are refused as automated."),
    )
    ip_limit_per_hour = models.PositiveIntegerField(_("entries per hour from one address"), default=60)
    token_limit_per_hour = models.PositiveIntegerField(_("entries per hour on one form"), default=300)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lead capture settings")
        verbose_name_plural = _("lead capture settings")

    def __str__(self) -> str:
        return f"lead capture settings #{self.organisation_id}"

    @property
    def language(self) -> str:
        """The organisation's language: the one ``email_wording`` and ``sms_wording`` are written in."""
        if "_language" not in self.__dict__:
            self.__dict__["_language"] = organisation_language(self.organisation)
        return self.__dict__["_language"]

    def own_wording(self, channel: str, language: str) -> str:
        """HQ's wording for ``channel`` in ``language``; "" when HQ kept the default."""
        if language == self.language:
            return self.email_wording if channel == "email" else self.sms_wording
        found = (self.wordings or {}).get(language)
        return str(found.get(channel) or "") if isinstance(found, dict) else ""

    def wording(self, channel: str, language: str | None = None) -> str:
        """The consent wording a reader of ``language`` (default: the organisation's) is shown — and the
        ledger records, word for word: HQ's own in that language, else the default, translated."""
        language = supported(language) or self.language
        return self.own_wording(channel, language) or default_wording(channel, language)


def default_wording(channel: str, language: str) -> str:
    """The default consent wording for ``channel`` in ``language``."""
    with translation.override(language):
        return str(DEFAULT_WORDING["email" if channel == "email" else "sms"])


class LeadForm(EntityOwned):
    """A store's public lead forms: the kiosk (tablet at the counter) and the embeddable web form."""

    class Kind(models.TextChoices):
        KIOSK = "kiosk", _("Kiosk")
        EMBED = "embed", _("Web form")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.OneToOneField("network.Entity", on_delete=models.CASCADE, related_name="lead_form")
    kiosk_token = models.CharField(max_length=64, unique=True, default=new_token)
    embed_token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(default=timezone.now)
    regenerated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("lead form")

    def __str__(self) -> str:
        return f"lead form of entity #{self.entity_id}"

    def token(self, kind: str) -> str:
        return self.kiosk_token if kind == self.Kind.KIOSK else self.embed_token


class PendingOptIn(TenantModel):
    """A consent given on a public form, waiting for the person to confirm it: email by the signed link
    sent to the address (double opt-in), SMS by the code texted to the number, entered on the
    confirmation page. The ledger gets the opt-in only on confirmation; this row keeps the proof of both
    steps. ``sendable`` is False when nothing may be sent (the address is not the known contact's): the
    public answer is the same, nothing is sent, it never confirms. A person on the opposition list is
    sendable: their own confirmation is what lifts their objection (``targeting.leads``)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("audience.Contact", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    email = models.CharField(max_length=254, blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    sendable = models.BooleanField(default=True)
    code_hash = models.CharField(max_length=64, blank=True)  # HMAC of the SMS code, never the code
    code_sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # wrong codes entered
    wording = models.TextField()
    form_version = models.CharField(max_length=120)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    consent_event = models.ForeignKey(
        "audience.ConsentEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("pending consent confirmation")

    def __str__(self) -> str:
        return f"pending opt-in #{self.pk}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, contact__owner_path__startswith=scope.entity_path)


class SegmentPolicy(OrganisationOwned):
    """HQ's guardrail on targeting: the criteria regional and local users may use. HQ roles are not
    limited (they set the rule)."""

    organisation = models.OneToOneField(
        "network.Organisation", on_delete=models.CASCADE, related_name="segment_policy"
    )
    allowed_fields = models.JSONField(_("allowed fields"), default=list, blank=True)
    allowed_operators = models.JSONField(_("allowed operators"), default=list, blank=True)
    max_criteria = models.PositiveSmallIntegerField(_("maximum number of criteria"), default=3)
    # Criteria every regional and local segment must hold (or a stricter one): ``[{field, op, value}]``,
    # e.g. age at least 18 (``targeting.segments.missing_requirements``).
    required_criteria = models.JSONField(_("criteria required on every segment"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment guardrails")
        verbose_name_plural = _("segment guardrails")

    def __str__(self) -> str:
        return f"segment policy #{self.organisation_id}"


class Segment(EntityOwned):
    """A saved audience definition. Criteria are data, compiled through an allow-list
    (``glocal.targeting.segments.compile_criteria``); never SQL, never a field path from a user."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    criteria = models.JSONField(_("criteria"), default=list, blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProspectList(EntityOwned):
    """An external list (rented, or from a partner) for ONE campaign of one store: kept apart from the
    customer base, usable only by that campaign, purged after it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PURGED = "purged", _("Purged")

    class ConsentBasis(models.TextChoices):
        OPT_IN = "opt_in", _("Opt-in to partners' offers, collected by the provider (email, SMS, post)")
        POSTAL = "postal", _("No electronic consent: post only")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    provider = models.CharField(_("provider"), max_length=120, blank=True)
    # The one campaign allowed to use the list: the campaign itself when it exists in Glocal (``campaign``),
    # its reference otherwise (a campaign run elsewhere, or not created yet).
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("campaign"),
    )
    campaign_ref = models.CharField(_("campaign reference"), max_length=120)
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    # What the provider's consent covers, as stated at upload: the channels the campaign may use.
    consent_basis = models.CharField(
        _("consent basis"), max_length=10, choices=ConsentBasis.choices, default=ConsentBasis.POSTAL
    )
    purge_after = models.DateField(_("purge after"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    row_count = models.PositiveIntegerField(default=0)
    excluded_count = models.PositiveIntegerField(default=0)  # on the opposition list at upload
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("prospect list")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ProspectRecord(TenantModel):
    """One person of an external list. Never a Contact; deleted with the purge."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    prospect_list = models.ForeignKey(ProspectList, on_delete=models.CASCADE, related_name="records")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    postcode = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("external prospect")

    def __str__(self) -> str:
        return f"prospect #{self.pk}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(
            organisation_id=scope.organisation_id,
            prospect_list__entity__path__startswith=scope.entity_path,
        )


class ProspectListPurge(TenantModel):
    """The record of a purge: who, when, how many rows (kept after the rows are gone)."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    prospect_list = models.ForeignKey(ProspectList, on_delete=models.CASCADE, related_name="purges")
    purged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=20)  # "manual" | "scheduled"
    rows_deleted = models.PositiveIntegerField()
    purged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("prospect list purge")
        ordering = ["-purged_at", "-id"]

    def __str__(self) -> str:
        return f"purge of list #{self.prospect_list_id}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(
            organisation_id=scope.organisation_id,
            prospect_list__entity__path__startswith=scope.entity_path,
        )
