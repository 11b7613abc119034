"""Customers and prospects, their consent ledger, purchases, ownership and the opposition list.

Partitioning: a contact is visible to a scope when its OWNER entity is in the scope's subtree. The
owner's materialised path is denormalised on the contact (``owner_path``) so that every list, count
and search is one indexed prefix query on the contact table; ``services.set_owner`` and the
entity-move hook keep it right.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, TenantModel


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    POSTAL = "postal", _("Postal mail")
    PHONE = "phone", _("Phone")


class ConsentStatus(models.TextChoices):
    OPT_IN = "opt_in", _("Opted in")
    SOFT_OPT_IN = "soft_opt_in", _("Soft opt-in (existing customer)")
    B2B = "b2b", _("B2B")
    OPT_OUT = "opt_out", _("Opted out")


# Statuses that allow marketing on a channel.
POSITIVE = (ConsentStatus.OPT_IN, ConsentStatus.SOFT_OPT_IN, ConsentStatus.B2B)


class ConsentSource(models.TextChoices):
    STORE = "store", _("In store")
    FORM = "form", _("Web form")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    USER = "user", _("User")


def consent_field(channel: str) -> str:
    """Name of the Contact column holding the current consent on ``channel``."""
    return f"consent_{channel}"


def hash_value(value: str) -> str:
    """sha256 of an already normalised email (lower-case) or E.164 number: the only form the
    opposition list keeps."""
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


class AudienceSettings(OrganisationOwned):
    """The organisation's audience rules, chosen by HQ."""

    class OwnershipRule(models.TextChoices):
        EXPLICIT = "explicit", _("Explicit assignment")
        LAST_PURCHASE = "last_purchase", _("Store of the last purchase")
        MOST_PURCHASES = "most_purchases", _("Store with the most purchases over N months")
        CATCHMENT = "catchment", _("Store whose catchment area holds the postcode")

    organisation = models.OneToOneField(
        "network.Organisation", on_delete=models.CASCADE, related_name="audience_settings"
    )
    ownership_rule = models.CharField(
        _("ownership rule"), max_length=20, choices=OwnershipRule.choices, default=OwnershipRule.EXPLICIT
    )
    ownership_months = models.PositiveSmallIntegerField(_("months counted (most purchases)"), default=12)
    existence_visible = models.BooleanField(
        _("other stores may see that a customer exists"),
        default=False,
        help_text=_("When off, a store never learns that a person is another store's customer."),
    )
    prospect_retention_years = models.PositiveSmallIntegerField(
        _("prospect retention (years)"),
        default=3,
        help_text=_("Prospects inactive for this long are deleted (CNIL recommends 3 years)."),
    )

    class Meta:
        verbose_name = _("audience settings")
        verbose_name_plural = _("audience settings")

    def __str__(self) -> str:
        return f"audience settings #{self.organisation_id}"


class AttributeDefinition(OrganisationOwned):
    """A custom contact attribute HQ defines (stored in ``Contact.attributes[key]``)."""

    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes / no")

    organisation = models.ForeignKey(
        "network.Organisation", on_delete=models.CASCADE, related_name="attribute_definitions"
    )
    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=80)
    field_type = models.CharField(_("type"), max_length=10, choices=FieldType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)

    class Meta:
        verbose_name = _("contact attribute")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="attributedef_key_unique")
        ]
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class HashLink(models.ForeignObject):
    """A join from a contact's email or mobile hash to the opposition list, for counting in SQL.

    The target (organisation, value_hash) is unique only per channel: always go through
    ``FilteredRelation(…, condition=Q(<name>__channel=…))`` (``selectors.suppressed_q``), which
    makes the LEFT JOIN hit at most one row. No column, no constraint: a pure query path."""

    def _check_unique_target(self) -> list[Any]:
        return []  # unique with the channel condition every query adds (see the docstring)


class Contact(TenantModel):
    """A customer or prospect of the organisation, owned by exactly one entity at any time."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        PROSPECT = "prospect", _("Prospect")

    # No index of its own: every Contact index starts with the organisation (and a lone one misleads
    # the planner into scanning a whole organisation, e.g. during a long import transaction).
    organisation = models.ForeignKey(
        "network.Organisation", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    owner = models.ForeignKey(
        "network.Entity", on_delete=models.PROTECT, related_name="owned_contacts", verbose_name=_("owner")
    )
    owner_path = models.CharField(max_length=255, editable=False)
    ownership_locked = models.BooleanField(
        _("owner set by head office"), default=False, help_text=_("The ownership rule leaves it alone.")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PROSPECT)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)  # lower-cased, validated
    email_hash = models.CharField(max_length=64, blank=True, editable=False)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)  # E.164
    mobile_hash = models.CharField(max_length=64, blank=True, editable=False)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    language = models.CharField(_("language"), max_length=8, default="fr")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # "|vip|wine|": a delimited list, so that one tag is a portable ``contains`` filter.
    tags = models.CharField(_("tags"), max_length=500, blank=True)
    # Current consent per channel, derived from the ledger in the same transaction ("" = none).
    consent_email = models.CharField(max_length=12, choices=ConsentStatus.choices, blank=True)
    consent_sms = models.CharField(max_length=12, choices=ConsentStatus.choices, blank=True)
    consent_postal = models.CharField(max_length=12, choices=ConsentStatus.choices, blank=True)
    consent_phone = models.CharField(max_length=12, choices=ConsentStatus.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(
        null=True, blank=True, help_text="Last prospect-initiated activity, for retention."
    )
    # Query paths to the opposition list (no column): see HashLink.
    email_suppressions = HashLink(
        "audience.Suppression",
        on_delete=models.DO_NOTHING,
        from_fields=["organisation", "email_hash"],
        to_fields=["organisation", "value_hash"],
        related_name="+",
        null=True,
    )
    mobile_suppressions = HashLink(
        "audience.Suppression",
        on_delete=models.DO_NOTHING,
        from_fields=["organisation", "mobile_hash"],
        to_fields=["organisation", "value_hash"],
        related_name="+",
        null=True,
    )

    class Meta:
        verbose_name = _("contact")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"], condition=~Q(email=""), name="contact_email_unique"
            ),
            models.UniqueConstraint(
                fields=["organisation", "mobile"], condition=~Q(mobile=""), name="contact_mobile_unique"
            ),
        ]
        indexes = [
            # The list of one store (or a region: a prefix) in name order; opclass for LIKE 'x%'.
            models.Index(
                fields=["organisation", "owner_path", "last_name", "id"],
                name="contact_list_owner",
                opclasses=["", "varchar_pattern_ops", "", ""],
            ),
            models.Index(fields=["organisation", "last_name", "id"], name="contact_list_org"),
            # One store's list in name order (owner equality, see selectors.filtered_contacts).
            models.Index(fields=["organisation", "owner", "last_name", "id"], name="contact_list_store"),
            # Hash first: imports look batches of hashes up; an organisation-first index would be
            # walked whole when the planner's statistics lag (a long import transaction).
            models.Index(fields=["email_hash"], name="contact_email_hash"),
            models.Index(fields=["mobile_hash"], name="contact_mobile_hash"),
            models.Index(fields=["organisation", "kind", "last_activity_at"], name="contact_retention"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, owner_path__startswith=scope.entity_path)

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.mobile or f"#{self.pk}"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split("|") if t]

    def consent(self, channel: str) -> str:
        return str(getattr(self, consent_field(channel)))

    def consents(self) -> dict[str, str]:
        return {c.value: self.consent(c.value) for c in Channel}


class AppendOnlyError(RuntimeError):
    pass


class ConsentEvent(TenantModel):
    """The consent ledger: append-only proof, per contact and channel. The truth; the contact's
    ``consent_<channel>`` columns are derived from it. Erasure anonymises rows (contact, IP) through a
    queryset update; nothing else changes a row."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="consent_events"
    )
    entity = models.ForeignKey(
        "network.Entity", on_delete=models.PROTECT, related_name="+", help_text="Where it was collected."
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=12, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=10, choices=ConsentSource.choices)
    wording = models.TextField(_("wording"), blank=True)
    form_version = models.CharField(_("form version"), max_length=120, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("consent event")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "channel", "created_at"], name="consent_contact")]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} ({self.source})"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, contact__owner_path__startswith=scope.entity_path)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The consent ledger is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("The consent ledger is append-only.")

    def as_proof(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "channel": self.channel,
            "status": self.status,
            "source": self.source,
            "wording": self.wording,
            "form_version": self.form_version,
            "ip": self.ip,
            "actor_id": self.actor_id,
            "entity_id": self.entity_id,
            "timestamp": self.created_at.isoformat(),
        }


class Suppression(OrganisationOwned):
    """The opposition list ("liste repoussoir"): hashes only. Survives re-imports and erasure;
    :func:`glocal.audience.services.is_suppressed` is the single check."""

    class Reason(models.TextChoices):
        OPT_OUT = "opt_out", _("Objection")
        ERASURE = "erasure", _("Erasure")
        BOUNCE = "bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Complaint")
        MANUAL = "manual", _("Added by head office")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    value_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("suppression")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "channel", "value_hash"], name="suppression_unique"
            )
        ]
        # Imports look a batch of hashes up on every channel at once.
        indexes = [models.Index(fields=["value_hash"], name="suppression_hash")]

    def __str__(self) -> str:
        return f"{self.channel} {self.value_hash[:12]}…"


class Purchase(EntityOwned):
    """A sale: feeds ownership now and conversions later. Visible to the scope of the selling entity."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="purchases"
    )
    entity = models.ForeignKey("network.Entity", on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    category = models.CharField(_("category"), max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("purchase")
        ordering = ["-date", "-id"]
        indexes = [models.Index(fields=["contact", "date"], name="purchase_contact_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.amount}"


class OwnershipTransfer(TenantModel):
    """Every change of a contact's owner, with the reason."""

    class Reason(models.TextChoices):
        CREATED = "created", _("Created")
        RULE = "rule", _("Ownership rule")
        MANUAL = "manual", _("Head office decision")
        IMPORT = "import", _("Import")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="transfers")
    from_entity = models.ForeignKey(
        "network.Entity", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_entity = models.ForeignKey("network.Entity", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The ownership recomputation that made it (a rule change), if any; the rule itself is in ``detail``.
    job = models.ForeignKey("core.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ownership transfer")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "created_at"], name="transfer_org_date")]

    def __str__(self) -> str:
        return f"{self.from_entity_id} → {self.to_entity_id} ({self.reason})"

    @property
    def detail_label(self) -> str:
        """``detail`` as shown: a rule transfer's rule by its translated label (the code is stored)."""
        if self.reason == self.Reason.RULE and self.detail in AudienceSettings.OwnershipRule.values:
            return str(AudienceSettings.OwnershipRule(self.detail).label)
        return self.detail

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, contact__owner_path__startswith=scope.entity_path)


class ImportMapping(EntityOwned):
    """The columns a node (a store, usually) last matched for contact files with one set of headers,
    and the consent wording it gave: the next file with the same headers starts from them."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    header_key = models.CharField(max_length=64)  # sha256 of the sorted normalised headers
    header = models.JSONField(default=list)  # the normalised headers, in the file's order
    mapping = models.JSONField(default=list)  # a target per header ("" = ignored)
    wording = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("remembered import columns")
        verbose_name_plural = _("remembered import columns")
        constraints = [
            models.UniqueConstraint(fields=["entity", "header_key"], name="import_mapping_entity_headers")
        ]

    def __str__(self) -> str:
        return f"import columns #{self.pk} ({len(self.header)} columns)"
