"""Audience forms. Querysets of scoped models are set per request in ``__init__``, never at class level."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from glocal.network.models import Entity

from . import importer
from .models import AttributeDefinition, AudienceSettings, Channel, ConsentStatus, Contact

MAX_UPLOAD_BYTES = 200 * 1024 * 1024

# The wording shown next to each unticked consent box; what is shown is what the ledger stores.
CONSENT_WORDING = {
    Channel.EMAIL: _("I agree to receive offers and news by email."),
    Channel.SMS: _("I agree to receive offers and news by SMS."),
    Channel.POSTAL: _("I agree to receive offers by post."),
    Channel.PHONE: _("I agree to be called with offers."),
}
CONSENT_FORM_VERSION = "staff-entry-v1"

PROFILE_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "language",
    "birth_date",
)


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Contact.Kind.choices, initial=Contact.Kind.PROSPECT)
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=16, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.RegexField(
        label=_("Country"),
        regex=r"^[A-Za-z]{2}$",
        initial="FR",
        error_messages={"invalid": _("Use a two-letter country code (FR, BE…).")},
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="fr")
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    tags = forms.CharField(
        label=_("Tags"), max_length=400, required=False, help_text=_("Separated by commas.")
    )

    def __init__(
        self, *args: Any, attributes: list[AttributeDefinition], with_consent: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.attributes = attributes
        for a in attributes:
            self.fields[f"attr_{a.key}"] = _attribute_field(a)
        if with_consent:
            for channel, wording in CONSENT_WORDING.items():
                self.fields[f"consent_{channel}"] = forms.BooleanField(label=wording, required=False)

    def contact_fields(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in PROFILE_FIELDS}
        data["country"] = data["country"].upper()
        data["tags"] = self.cleaned_data["tags"]
        data["attributes"] = {
            a.key: self.cleaned_data[f"attr_{a.key}"]
            for a in self.attributes
            if self.cleaned_data.get(f"attr_{a.key}") not in (None, "")
        }
        return data

    def consents(self) -> list[dict[str, Any]]:
        return [
            {
                "channel": channel,
                "status": ConsentStatus.OPT_IN,
                "wording": str(wording),
                "form_version": CONSENT_FORM_VERSION,
            }
            for channel, wording in CONSENT_WORDING.items()
            if self.cleaned_data.get(f"consent_{channel}")
        ]


def _attribute_field(a: AttributeDefinition) -> forms.Field:
    types = AttributeDefinition.FieldType
    if a.field_type == types.NUMBER:
        return forms.FloatField(label=a.label, required=False)
    if a.field_type == types.DATE:
        return forms.DateField(label=a.label, required=False, widget=forms.DateInput(attrs={"type": "date"}))
    if a.field_type == types.BOOLEAN:
        return forms.NullBooleanField(label=a.label, required=False)
    if a.field_type == types.CHOICE:
        return forms.ChoiceField(
            label=a.label, required=False, choices=[("", "—"), *((c, c) for c in a.choices)]
        )
    return forms.CharField(label=a.label, required=False, max_length=500)


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    status = forms.ChoiceField(label=_("Consent"), choices=ConsentStatus.choices)
    wording = forms.CharField(
        label=_("Wording the person agreed to"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required for an opt-in: it is the proof."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") != ConsentStatus.OPT_OUT and not (data.get("wording") or "").strip():
            self.add_error("wording", _("Give the exact wording the person agreed to."))
        return data


class PurchaseForm(forms.Form):
    entity = forms.ModelChoiceField(queryset=Entity.unscoped.none(), label=_("Store"))
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0)
    category = forms.CharField(label=_("Category"), max_length=80, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].queryset = Entity.objects.filter(is_active=True).order_by("name")  # type: ignore[attr-defined]


class AssignForm(forms.Form):
    entity = forms.ModelChoiceField(queryset=Entity.unscoped.none(), label=_("Owner"))
    lock = forms.BooleanField(
        label=_("Keep this owner whatever the ownership rule says"), required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].queryset = Entity.objects.filter(is_active=True).order_by("path")  # type: ignore[attr-defined]


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All")), *Contact.Kind.choices])
    channel = forms.ChoiceField(
        label=_("Reachable by"), required=False, choices=[("", _("Any")), *Channel.choices]
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=40)
    owner = forms.ChoiceField(label=_("Store"), required=False)

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if owners:
            self.fields["owner"].choices = [("", _("All")), *owners]  # type: ignore[attr-defined]
        else:
            del self.fields["owner"]


class TransferFilterForm(forms.Form):
    """The transfer log's filters: a store (HQ and regions; a store sees only its own) and dates."""

    store = forms.ChoiceField(label=_("Store"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, stores: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if stores:
            self.fields["store"].choices = [("", _("All")), *stores]  # type: ignore[attr-defined]
        else:
            del self.fields["store"]


class SettingsForm(forms.ModelForm):
    class Meta:
        model = AudienceSettings
        fields = ["ownership_rule", "ownership_months", "existence_visible", "prospect_retention_years"]


class AttributeForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("Choices"), required=False, help_text=_("For a choice: the values, separated by commas.")
    )

    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "field_type"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choices = [c.strip() for c in (data.get("choices_text") or "").split(",") if c.strip()]
        if data.get("field_type") == AttributeDefinition.FieldType.CHOICE and not choices:
            self.add_error("choices_text", _("Give at least one choice."))
        self.instance.choices = choices
        return data

    def validate_unique(self) -> None:
        # organisation is set by the view before validation; uniqueness is (organisation, key).
        if AttributeDefinition.unscoped.filter(
            organisation_id=self.instance.organisation_id, key=self.cleaned_data.get("key")
        ).exists():
            self.add_error("key", _("This key is already used."))


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"), help_text=_("First row: the column names."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 200 MB."))
        return upload


class MappingForm(forms.Form):
    wording = forms.CharField(
        label=_("Consent wording these people agreed to"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Stored as the proof of every consent this file records."),
    )

    def __init__(
        self,
        *args: Any,
        header: list[str],
        samples: list[list[str]],
        attributes: list[AttributeDefinition],
        initial_mapping: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = importer.target_choices(attributes)
        self.columns = []
        for index, column in enumerate(header):
            name = f"col_{index}"
            example = ", ".join(s[index] for s in samples if index < len(s) and s[index])[:80]
            self.fields[name] = forms.ChoiceField(
                label=column or _("(no name)"),
                choices=choices,
                required=False,
                initial=initial_mapping[index] if index < len(initial_mapping) else "",
                help_text=_("e.g. %(examples)s") % {"examples": example} if example else "",
            )
            self.columns.append(name)

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(name) or "" for name in self.columns]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        used = [t for t in (data.get(name) for name in self.columns) if t]
        if len(used) != len(set(used)):
            raise forms.ValidationError(_("Each field may be mapped from one column only."))
        if "email" not in used and "mobile" not in used:
            raise forms.ValidationError(_("Map a column to the email address or to the mobile number."))
        if any(t.startswith("consent_") for t in used) and not (data.get("wording") or "").strip():
            self.add_error(
                "wording", _("The file records consents: give the wording these people agreed to.")
            )
        return data
