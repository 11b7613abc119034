"""The brand library (folders, assets, versions, tags, usage) and the brand kit.

Visibility follows the network tree DOWN: a folder (and its assets) attached to a node is visible on
that node and every node below it (a region's folder is visible to its stores), and to the scopes
above it (HQ and the region see the folders of their stores). A store's own photos live in a folder
attached to the store: visible to that store and the nodes above it, never to another store.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import OrganisationOwned, Scope, TenantModel
from glocal.network.models import Entity, Organisation


def path_ids(path: str) -> list[int]:
    """Ids on a materialised path ``"1/5/9/"`` (the node itself included)."""
    return [int(part) for part in path.split("/") if part]


def tree_q(scope: Scope, field: str = "entity") -> Q:
    """Visible in ``scope``: the node is an ancestor-or-self of the scope's node, or inside its subtree."""
    return Q(organisation_id=scope.organisation_id) & (
        Q(**{f"{field}__path__startswith": scope.entity_path})
        | Q(**{f"{field}_id__in": path_ids(scope.entity_path)})
    )


class LibrarySettings(OrganisationOwned):
    """Per-organisation library rules (HQ)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    allow_local_uploads = models.BooleanField(
        _("stores may upload their own photos"),
        default=False,
        help_text=_("Visible only to the store that uploaded them (and head office)."),
    )
    max_upload_mb = models.PositiveSmallIntegerField(_("largest upload (MB)"), default=10)
    max_dimension = models.PositiveIntegerField(_("largest image side (pixels)"), default=8000)

    class Meta:
        verbose_name = _("library settings")


class Folder(TenantModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("node"))
    name = models.CharField(_("name"), max_length=120)
    is_local = models.BooleanField(_("store's own photos"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("folder")
        ordering = ["entity__depth", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["entity", "name"], name="brand_folder_entity_name")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return tree_q(scope)


class Tag(OrganisationOwned):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.SlugField(_("tag"), max_length=40, allow_unicode=True)

    class Meta:
        verbose_name = _("tag")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="brand_tag_org_name")]

    def __str__(self) -> str:
        return self.name


class Asset(TenantModel):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        LOGO = "logo", _("Logo")
        DOCUMENT = "document", _("Document")
        FONT = "font", _("Font")  # TTF, OTF or WOFF2: a kit may choose it (brand.fonts)

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(
        Folder, on_delete=models.PROTECT, related_name="assets", verbose_name=_("folder")
    )
    # The folder's node, denormalised so that visibility is one indexed prefix query.
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.IMAGE)
    name = models.CharField(_("name"), max_length=160)
    alt_text = models.CharField(_("alternative text"), max_length=250, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="assets", verbose_name=_("tags"))
    current = models.ForeignKey(
        "AssetVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("asset")
        ordering = ["-updated_at", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return tree_q(scope)


def _upload_to(instance: AssetVersion, filename: str) -> str:
    return f"brand/{instance.organisation_id}/{instance.asset_id}/{filename}"


class AssetVersion(TenantModel):
    """One upload of an asset. A new upload adds a version; older versions are kept."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    file = models.FileField(_("file"), upload_to=_upload_to, max_length=255)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_upload_to, max_length=255, blank=True)
    original_name = models.CharField(_("original file name"), max_length=200, blank=True)
    content_type = models.CharField(max_length=60)
    size_bytes = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("asset version")
        ordering = ["asset", "-number"]
        constraints = [models.UniqueConstraint(fields=["asset", "number"], name="brand_assetversion_number")]

    def __str__(self) -> str:
        return f"{self.asset_id} v{self.number}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return tree_q(scope, "asset__entity")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class AssetUsage(TenantModel):
    """Which template versions and personalisations reference an asset (an image zone's value)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="usages")
    template = models.ForeignKey("creatives.ChannelTemplate", on_delete=models.CASCADE, related_name="+")
    template_version = models.ForeignKey(
        "creatives.TemplateVersion", on_delete=models.CASCADE, related_name="+"
    )
    personalisation = models.ForeignKey(
        "creatives.Personalisation", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    zone = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("asset usage")
        ordering = ["-created_at"]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return tree_q(scope, "asset__entity")


class BrandKit(TenantModel):
    """The organisation's kit (on the HQ node), optionally overridden on a region: every field left
    empty on a region's kit inherits from the nodes above."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("node"))
    colours = models.JSONField(_("colours"), default=list, blank=True)  # ["#1f5135", …], first = primary
    fonts = models.JSONField(_("fonts"), default=list, blank=True)  # font family names
    logo = models.ForeignKey(
        Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("logo")
    )
    legal_mentions = models.TextField(_("legal mentions"), blank=True)
    footer = models.TextField(_("footer block"), blank=True)
    sender_name = models.CharField(_("sender name"), max_length=120, blank=True)
    sender_email = models.EmailField(_("sender email"), blank=True)
    reply_to = models.EmailField(_("reply-to"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    FIELDS = (
        "colours",
        "fonts",
        "logo_id",
        "legal_mentions",
        "footer",
        "sender_name",
        "sender_email",
        "reply_to",
    )

    class Meta:
        verbose_name = _("brand kit")

    def __str__(self) -> str:
        return f"brand kit {self.entity_id}"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return tree_q(scope)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}
