"""Channel templates (HQ-authored, versioned), their zones, and each store's personalisation.

A template belongs to an HQ or regional node and is visible down the tree (and to the ancestors of the
node, so HQ sees regional templates). A published version is immutable; editing starts a new draft.
A personalisation is one store's zone values for one version: it belongs to the store.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, TenantModel
from glocal.network.models import Entity, Organisation


def ancestor_ids_of_path(path: str) -> list[int]:
    """Ids of the nodes on a materialised path ``"1/5/9/"`` (the node itself included)."""
    return [int(part) for part in path.split("/") if part]


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PRINT = "print", _("Print")
    SOCIAL = "social", _("Social post")


class ChannelTemplate(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    class Approval(models.TextChoices):
        NONE = "none", _("No approval")
        REGIONAL = "regional", _("Regional manager approves")
        HQ = "hq", _("HQ approves")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Placeholder until campaigns/approvals exist: which approval a personalisation will need.
    approval_policy = models.CharField(
        _("approval policy"), max_length=16, choices=Approval.choices, default=Approval.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel template")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        # Visible inside the scope's subtree, and below its owner once published: an HQ template is
        # visible to every store below HQ, but HQ's drafts stay HQ's until a version is published.
        return Q(organisation_id=scope.organisation_id) & (
            Q(entity__path__startswith=scope.entity_path)
            | (
                Q(entity_id__in=ancestor_ids_of_path(scope.entity_path))
                & ~Q(status=ChannelTemplate.Status.DRAFT)
            )
        )

    # Unscoped below: filtered by this template, which was itself fetched through the scope.
    def latest_version(self) -> TemplateVersion | None:
        return TemplateVersion.unscoped.filter(template_id=self.pk).order_by("-number").first()

    def published_version(self) -> TemplateVersion | None:
        return (
            TemplateVersion.unscoped.filter(template_id=self.pk, published_at__isnull=False)
            .order_by("-number")
            .first()
        )


class TemplateVersion(TenantModel):
    """One version of a template's source and zones. Immutable once ``published_at`` is set."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(ChannelTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    source = models.TextField(_("source"), blank=True)
    subject = models.CharField(_("subject"), max_length=250, blank=True)
    preheader = models.CharField(_("preheader"), max_length=250, blank=True)
    text = models.TextField(_("plain-text part"), blank=True)
    zones = models.JSONField(_("zones"), default=list, blank=True)
    # The block editor's document (creatives.blocks), compiled into ``source`` and ``zones`` on save;
    # None: the version is written in MJML by hand (expert mode, or a template made before blocks).
    blocks = models.JSONField(_("blocks"), null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("template version")
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="templateversion_number_unique")
        ]
        ordering = ["template", "-number"]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        # Below the template's owner, only published versions: the draft being written is not shown.
        return Q(organisation_id=scope.organisation_id) & (
            Q(template__entity__path__startswith=scope.entity_path)
            | (
                Q(template__entity_id__in=ancestor_ids_of_path(scope.entity_path))
                & Q(published_at__isnull=False)
            )
        )

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A published version never changes (personalisations and sends refer to it); the only
        # write allowed on it is the publication itself. Unscoped: a lookup of this very row.
        if self.pk is not None and kwargs.get("update_fields") != ["published_at"]:
            stored = (
                TemplateVersion.unscoped.filter(pk=self.pk).values_list("published_at", flat=True).first()
            )
            if stored is not None:
                raise ValidationError(_("A published version cannot be changed; edit a new draft."))
        super().save(*args, **kwargs)


class Personalisation(EntityOwned):
    """A store's zone values for one template version."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="personalisations")
    values = models.JSONField(_("values"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Set when HQ's publication of ``version`` carried the store's values over from an earlier version;
    # ``dropped`` lists what could not be kept (carry.dropped: zone, old value, reason code and
    # parameters): the store's notice until it saves its content again.
    carried_from = models.ForeignKey(
        TemplateVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dropped = models.JSONField(_("values not carried over"), default=list, blank=True)

    class Meta:
        verbose_name = _("personalisation")
        constraints = [
            models.UniqueConstraint(fields=["entity", "version"], name="personalisation_entity_version")
        ]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.entity_id} / {self.version_id}"

    def values_hash(self) -> str:
        return values_digest(self.values)


def values_digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


class SavedBlock(TenantModel):
    """A block (a section, or one content block) HQ or a region saved to reuse in any email template.

    Owned by an HQ or regional node and visible like a template: inside the scope's subtree, and below
    its owner (a region's marketers see HQ's saved blocks)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("owner"))
    name = models.CharField(_("name"), max_length=120)
    block = models.JSONField(_("block"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("saved block")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id) & (
            Q(entity__path__startswith=scope.entity_path)
            | Q(entity_id__in=ancestor_ids_of_path(scope.entity_path))
        )

    @property
    def kind(self) -> str:
        return str(self.block.get("type", "")) if isinstance(self.block, dict) else ""


class CreativeSettings(OrganisationOwned):
    """Per-organisation rules for content: restricted words, SMS mentions and pricing."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    restricted_patterns = models.JSONField(
        _("restricted words (regular expressions)"), default=list, blank=True
    )
    sms_advertiser = models.CharField(_("SMS advertiser name"), max_length=40, blank=True)
    sms_opt_out = models.CharField(_("SMS opt-out mention"), max_length=40, default="STOP au 36180")
    sms_price_per_segment = models.DecimalField(
        _("SMS price per segment (EUR)"), max_digits=6, decimal_places=4, default=0.045
    )
    sms_segment_limit = models.PositiveSmallIntegerField(_("SMS segments before a warning"), default=2)

    class Meta:
        verbose_name = _("creative settings")
