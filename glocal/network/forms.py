from __future__ import annotations

import copy
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import (
    DAYS,
    LOCAL_FIELD_CHOICES,
    SOCIAL_NETWORKS,
    CustomFieldDefinition,
    Entity,
    EntityGroup,
    EntityType,
)

DAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
HOURS_HELP = _("For example 09:00-12:30, 14:00-19:00. Leave empty when closed.")
HOURS_RE = r"^\s*$|^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}(\s*,\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})*\s*$"

MODEL_FIELDS = [
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
    "manager_name",
    "manager_signature",
    "logo",
    "timezone",
    "latitude",
    "longitude",
]


class EntityForm(forms.ModelForm):
    """The profile form. Fields the acting role may not edit are removed (display) and the service
    refuses them again (enforcement)."""

    # Querysets are set per request (scoped); none at class definition, when no scope exists.
    entity_type = forms.ModelChoiceField(queryset=EntityType.unscoped.none(), label=_("Type"))
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    catchment = forms.CharField(
        label=_("Catchment postcodes"),
        required=False,
        help_text=_("Postcodes separated by spaces or commas."),
    )

    class Meta:
        model = Entity
        fields = MODEL_FIELDS
        widgets = {"manager_signature": forms.Textarea(attrs={"rows": 3})}

    def __init__(
        self,
        *args: Any,
        editable: set[str],
        custom_defs: list[CustomFieldDefinition],
        local_custom_only: bool,
        **kwargs: Any,
    ) -> None:
        # Validation fills ``self.instance`` with the submitted values (ModelForm's _post_clean): the
        # form works on its own copy, so that ``changes()`` compares with the entity as it was and the
        # service sees the entity unchanged (its audit record names the fields that really change).
        original = kwargs.get("instance") or Entity()
        kwargs["instance"] = copy.copy(original)
        super().__init__(*args, **kwargs)
        self.original: Entity = original
        self.custom_defs = custom_defs
        instance: Entity = self.instance
        for net in SOCIAL_NETWORKS:
            self.fields[f"social_{net}"] = forms.URLField(
                label=net.capitalize() if net != "x" else "X",
                required=False,
                assume_scheme="https",
                initial=(instance.social_links or {}).get(net, ""),
            )
        for day in DAYS:
            self.fields[f"hours_{day}"] = forms.RegexField(
                regex=HOURS_RE,
                label=DAY_LABELS[day],
                required=False,
                help_text=HOURS_HELP if day == "mon" else "",
                initial=(instance.opening_hours or {}).get(day, ""),
                error_messages={"invalid": _("Use hours like 09:00-12:30, 14:00-19:00.")},
            )
        self.fields["catchment"].initial = " ".join(instance.catchment_postcodes or [])
        for cf in custom_defs:
            if local_custom_only and not cf.locally_editable:
                continue
            self.fields[f"custom_{cf.key}"] = custom_form_field(cf, (instance.custom or {}).get(cf.key))
        # Keep only what the role may edit.
        keep = set(editable)
        for name in list(self.fields):
            model_name = self.model_name_of(name)
            if model_name not in keep:
                del self.fields[name]
        if "entity_type" in self.fields:
            cast(forms.ModelChoiceField, self.fields["entity_type"]).queryset = EntityType.objects.all()

    @staticmethod
    def model_name_of(form_field: str) -> str:
        if form_field.startswith("social_"):
            return "social_links"
        if form_field.startswith("hours_"):
            return "opening_hours"
        if form_field.startswith("custom_"):
            return "custom"
        if form_field == "catchment":
            return "catchment_postcodes"
        return form_field

    def changes(self) -> dict[str, Any]:
        """The submitted values as model field changes: for an existing entity, only those that differ
        from the entity as it was; for a new one, every submitted value."""
        data = self.cleaned_data
        instance = self.original
        creating = instance._state.adding
        result: dict[str, Any] = {}
        for name in MODEL_FIELDS:
            if name in data and (creating or data[name] != getattr(instance, name)):
                if name == "logo" and not data[name]:
                    continue
                result[name] = data[name]
        if any(k.startswith("social_") for k in data):
            social = {net: data[f"social_{net}"] for net in SOCIAL_NETWORKS if data.get(f"social_{net}")}
            if creating or social != (instance.social_links or {}):
                result["social_links"] = social
        if any(k.startswith("hours_") for k in data):
            hours = {day: " ".join(data[f"hours_{day}"].split()) for day in DAYS}
            if creating or hours != {day: (instance.opening_hours or {}).get(day, "") for day in DAYS}:
                result["opening_hours"] = hours
        if "catchment" in data:
            codes = [p for p in data["catchment"].replace(",", " ").replace(";", " ").split() if p]
            if creating or codes != list(instance.catchment_postcodes or []):
                result["catchment_postcodes"] = codes
        custom = {k[7:]: v for k, v in data.items() if k.startswith("custom_")}
        if custom:
            custom = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in custom.items()}
            if creating or any((instance.custom or {}).get(k) != v for k, v in custom.items()):
                result["custom"] = custom
        return result


def custom_form_field(cf: CustomFieldDefinition, initial: Any) -> forms.Field:
    common: dict[str, Any] = {"label": cf.label, "required": cf.required, "initial": initial}
    kind = CustomFieldDefinition.FieldType
    if cf.field_type == kind.NUMBER:
        return forms.FloatField(**common)
    if cf.field_type == kind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if cf.field_type == kind.BOOLEAN:
        common["required"] = False
        return forms.BooleanField(**common)
    if cf.field_type == kind.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in cf.choices], **common)
    return forms.CharField(max_length=500, **common)


class MoveForm(forms.Form):
    new_parent = forms.ModelChoiceField(queryset=Entity.unscoped.none(), label=_("New parent"))

    def __init__(self, *args: Any, entity: Entity, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["new_parent"]).queryset = (
            Entity.objects.filter(is_active=True, entity_type__is_local=False)
            .exclude(path__startswith=entity.path)
            .order_by("path")
        )


class GroupForm(forms.ModelForm):
    entities = forms.ModelMultipleChoiceField(
        queryset=Entity.unscoped.none(),
        required=False,
        label=_("Entities"),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = EntityGroup
        fields = ["code", "name", "description", "entities"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["entities"]).queryset = Entity.objects.filter(
            is_active=True
        ).order_by("name")


class CustomFieldForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("Choices"),
        required=False,
        help_text=_("For a choice field: one choice per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = CustomFieldDefinition
        fields = ["key", "label", "field_type", "required", "locally_editable"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choices = [c.strip() for c in (data.get("choices_text") or "").splitlines() if c.strip()]
        if data.get("field_type") == CustomFieldDefinition.FieldType.CHOICE and not choices:
            self.add_error("choices_text", _("Give at least one choice."))
        self.instance.choices = choices
        return data


class LocalFieldsForm(forms.Form):
    fields_ = forms.MultipleChoiceField(
        label=_("Profile fields local managers may edit"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(f, getattr(Entity._meta.get_field(f), "verbose_name", f)) for f in LOCAL_FIELD_CHOICES],
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, comma or semicolon separated."))
    dry_run = forms.BooleanField(label=_("Check only, write nothing"), required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload
