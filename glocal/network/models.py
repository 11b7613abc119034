"""The organisation (tenant), its tree of entities, groups and memberships."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from glocal.core.roles import Role
from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, TenantModel

# Labels of the entity types every organisation starts with, stored in English, shown translated.
DEFAULT_TYPE_LABELS = {
    "Head office": _("Head office"),
    "Region": _("Region"),
    "Area": _("Area"),
    "Store": _("Store"),
}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Profile fields a local manager may be allowed to edit (HQ chooses which, per organisation).
LOCAL_FIELD_CHOICES = (
    "phone",
    "email",
    "website",
    "social_links",
    "manager_name",
    "manager_signature",
    "opening_hours",
    "logo",
    "catchment_postcodes",
)
# Every profile field HQ may edit (``custom`` holds the HQ-defined custom fields).
PROFILE_FIELDS = (
    "entity_type",
    "code",
    "name",
    "legal_name",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "phone",
    "email",
    "website",
    "social_links",
    "manager_name",
    "manager_signature",
    "logo",
    "opening_hours",
    "timezone",
    "latitude",
    "longitude",
    "catchment_postcodes",
    "custom",
)
SOCIAL_NETWORKS = ("facebook", "instagram", "linkedin", "x", "tiktok", "youtube")
DEFAULT_LOCAL_FIELDS = [
    "phone",
    "email",
    "website",
    "social_links",
    "manager_name",
    "manager_signature",
    "opening_hours",
    "logo",
]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


class Organisation(models.Model):
    """A brand running a network: the tenant. Organisations never see each other's data."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    default_timezone = models.CharField(
        _("default time zone"), max_length=64, default="Europe/Paris", validators=[validate_timezone]
    )
    locally_editable_fields = models.JSONField(_("locally editable fields"), default=list, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="fr",
        help_text=_("What customers read when neither they nor their store have a language of their own."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EntityType(OrganisationOwned):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="entity_types")
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=80)
    is_local = models.BooleanField(
        _("local entity"),
        default=False,
        help_text=_("Stores, agencies, hotels: entities that own customers."),
    )

    class Meta:
        verbose_name = _("entity type")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="entitytype_code_unique")
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return str(self.display_label)

    @property
    def display_label(self) -> str:
        """The label in the user's language for the built-in types; HQ's own wording otherwise."""
        return str(DEFAULT_TYPE_LABELS.get(self.label, self.label))


class Entity(TenantModel):
    """A node of the network tree (HQ, region, area, store…) with the profile templates use.

    ``path`` is a materialised path of ids (``"12/40/57/"``): a subtree is ``path__startswith``.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="entities")
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, verbose_name=_("type"))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), blank=True)
    social_links = models.JSONField(_("social links"), default=dict, blank=True)
    manager_name = models.CharField(_("manager name"), max_length=120, blank=True)
    manager_signature = models.TextField(_("manager signature"), blank=True, max_length=1000)
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    opening_hours = models.JSONField(_("opening hours"), default=dict, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_timezone]
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    catchment_postcodes = models.JSONField(_("catchment postcodes"), default=list, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("entity")
        verbose_name_plural = _("entities")
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="entity_code_unique")]
        indexes = [models.Index(fields=["organisation", "path"], name="entity_org_path")]
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, path__startswith=scope.entity_path)

    def is_descendant_of(self, other: Entity) -> bool:
        return self.path.startswith(other.path) and self.pk != other.pk

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.split("/") if part][:-1]

    def profile_context(self) -> dict[str, Any]:
        """Plain-dict view of the profile, the only form in which templates will see it."""
        return {
            "code": self.code,
            "name": self.name,
            "legal_name": self.legal_name,
            "address": ", ".join(p for p in [self.address_line1, self.address_line2] if p),
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "phone": self.phone,
            "email": self.email,
            "website": self.website,
            "social_links": dict(self.social_links),
            "manager_name": self.manager_name,
            "manager_signature": self.manager_signature,
            "opening_hours": dict(self.opening_hours),
            "timezone": self.timezone,
            "custom": dict(self.custom),
        }


class EntityGroup(OrganisationOwned):
    """A cross-cutting set of entities (pilot group, franchisees, premium hotels)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="groups")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    entities = models.ManyToManyField(Entity, related_name="groups", blank=True, verbose_name=_("entities"))

    class Meta:
        verbose_name = _("group")
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="group_code_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomFieldDefinition(OrganisationOwned):
    """A profile field HQ adds to every entity (stored in ``Entity.custom``)."""

    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes / no")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=80)
    field_type = models.CharField(_("type"), max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    locally_editable = models.BooleanField(_("editable by local managers"), default=False)

    class Meta:
        verbose_name = _("custom field")
        constraints = [models.UniqueConstraint(fields=["organisation", "key"], name="customfield_key_unique")]
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Membership(EntityOwned):
    """A role granted to a user on a node, valid for the node's whole subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    entity = models.ForeignKey(
        Entity, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("entity")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("membership")
        constraints = [
            models.UniqueConstraint(fields=["user", "entity", "role"], name="membership_unique"),
        ]
        ordering = ["entity__path", "role"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.entity.name}"

    def as_scope(self) -> Scope:
        return Scope(
            organisation_id=self.organisation_id,
            entity_id=self.entity_id,
            entity_path=self.entity.path,
            role=self.role,
            user_id=self.user_id,
            membership_id=self.pk,
        )
