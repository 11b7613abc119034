"""Forms of lead capture, segments and prospect lists. No scoped queryset at class level."""

from __future__ import annotations

import datetime
import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.urls import reverse_lazy
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from glocal.audience.models import Channel
from glocal.core.forms import code_help

from . import segments
from .models import LeadCaptureSettings, ProspectList

ORIGIN_RE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")
MAX_LIST_BYTES = 50 * 1024 * 1024


class LeadCaptureForm(forms.Form):
    """The public form (kiosk and web form). Consent boxes are unticked and labelled with HQ's exact
    wording; ``website`` is a honeypot; ``rendered`` a signed render time (minimum fill time)."""

    first_name = forms.CharField(
        label=_("First name"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
    )
    postcode = forms.CharField(label=_("Postcode"), max_length=16, required=False)
    consent_email = forms.BooleanField(required=False, initial=False)
    consent_sms = forms.BooleanField(required=False, initial=False)
    website = forms.CharField(
        required=False,
        label=_("Leave this field empty"),
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )
    rendered = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, config: LeadCaptureSettings, language: str | None = None, **kwargs: Any
    ) -> None:
        """``language``: the one the form is written in (its store's: ``leads.form_language``), of the
        consent wording too; default: the active one."""
        super().__init__(*args, **kwargs)
        language = language or translation.get_language()
        self.fields["consent_email"].label = config.wording("email", language)
        self.fields["consent_sms"].label = config.wording("sms", language)

    def visible_profile_fields(self) -> list[Any]:
        return [self[name] for name in ("first_name", "last_name", "email", "mobile", "postcode")]

    def consent_fields(self) -> list[Any]:
        return [self["consent_email"], self["consent_sms"]]


WORDING_LABELS = {
    "email": _("Email consent wording (%(language)s)"),
    "sms": _("SMS consent wording (%(language)s)"),
}


class CaptureSettingsForm(forms.ModelForm):
    """HQ's lead capture settings. The consent wording per language (the organisation's first, then the
    others): each box shows the text a reader of that language sees; emptied (or left as the default
    word for word), it follows the default wording's translation (``leads.capture_settings_update``)."""

    class Meta:
        model = LeadCaptureSettings
        fields = [
            "form_version",
            "email_wording",
            "sms_wording",
            "frame_ancestors",
            "min_fill_seconds",
            "ip_limit_per_hour",
            "token_limit_per_hour",
        ]
        widgets = {
            "email_wording": forms.Textarea(attrs={"rows": 3}),
            "sms_wording": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = self.instance
        names = dict(settings.LANGUAGES)
        own = config.language  # the organisation's: the model's own two fields, shown first
        languages = [own] + [code for code, _name in settings.LANGUAGES if code != own]
        order = ["form_version"]
        for channel in ("email", "sms"):
            for language in languages:
                name = f"{channel}_wording" if language == own else f"{channel}_wording_{language}"
                field = self.fields.get(name) or forms.CharField(required=False)
                field.required = False
                field.widget = forms.Textarea(attrs={"rows": 3, "lang": language})
                field.label = WORDING_LABELS[channel] % {"language": names.get(language, language)}
                field.help_text = _("Empty: the default wording, in this language.")
                self.fields[name] = field
                self.initial[name] = config.wording(channel, language)  # what readers of it see
                order.append(name)
        self.order_fields(order)

    def clean_frame_ancestors(self) -> str:
        origins = (self.cleaned_data.get("frame_ancestors") or "").split()
        bad = [o for o in origins if not ORIGIN_RE.match(o)]
        if bad:
            raise forms.ValidationError(
                _("Not a site origin (https://host[:port]): %(values)s"), params={"values": ", ".join(bad)}
            )
        return " ".join(origins)

    def clean_min_fill_seconds(self) -> int:
        value = self.cleaned_data["min_fill_seconds"]
        if value > 60:
            raise forms.ValidationError(_("At most 60 seconds."))
        return value


class SegmentPolicyForm(forms.Form):
    allowed_fields = forms.MultipleChoiceField(
        label=_("Fields stores and regions may use"), required=False, widget=forms.CheckboxSelectMultiple
    )
    allowed_operators = forms.MultipleChoiceField(
        label=_("Operators they may use"), required=False, widget=forms.CheckboxSelectMultiple
    )
    max_criteria = forms.IntegerField(
        label=_("Maximum number of criteria"), min_value=1, max_value=segments.MAX_CRITERIA_HARD
    )

    def __init__(self, *args: Any, organisation_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = segments.available_fields(organisation_id)
        cast(forms.ChoiceField, self.fields["allowed_fields"]).choices = [
            (k, str(f.label)) for k, f in fields.items()
        ]
        cast(forms.ChoiceField, self.fields["allowed_operators"]).choices = [
            (k, str(label)) for k, label in segments.OPERATORS.items()
        ]


class RequiredCriteriaForm(forms.Form):
    """HQ's criteria required on every regional and local segment: a few rows of field, condition and
    value (an empty row is ignored); checked by ``segments.policy_update``."""

    def __init__(
        self, *args: Any, organisation_id: int, criteria: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", "required")
        super().__init__(*args, **kwargs)
        fields = [
            ("", _("— none —")),
            *((k, str(f.label)) for k, f in segments.available_fields(organisation_id).items()),
        ]
        operators = [(k, str(label)) for k, label in segments.OPERATORS.items()]
        for index in range(segments.MAX_REQUIRED):
            criterion = criteria[index] if index < len(criteria) else {}
            value = criterion.get("value", "")
            self.fields[f"field_{index}"] = forms.ChoiceField(
                label=_("Field"), choices=fields, required=False, initial=criterion.get("field", "")
            )
            self.fields[f"op_{index}"] = forms.ChoiceField(
                label=_("Condition"), choices=operators, required=False, initial=criterion.get("op", "")
            )
            self.fields[f"value_{index}"] = forms.CharField(
                label=_("Value"),
                required=False,
                max_length=200,
                initial=", ".join(str(v) for v in value) if isinstance(value, list) else value,
            )

    def rows(self) -> list[tuple[int, Any, Any, Any]]:
        return [
            (index + 1, self[f"field_{index}"], self[f"op_{index}"], self[f"value_{index}"])
            for index in range(segments.MAX_REQUIRED)
        ]

    def criteria(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {"field": data[f"field_{i}"], "op": data[f"op_{i}"], "value": data[f"value_{i}"]}
            for i in range(segments.MAX_REQUIRED)
            if data.get(f"field_{i}")
        ]


class SegmentMetaForm(forms.Form):
    name = forms.CharField(label=_("Segment name"), max_length=120, required=False)
    channel = forms.ChoiceField(
        label=_("Count people reachable by"),
        required=False,
        choices=[("", _("— everyone matching —")), (Channel.EMAIL, _("Email")), (Channel.SMS, _("SMS"))],
        # htmx: the live count follows the channel
        widget=forms.Select(
            attrs={
                "hx-post": reverse_lazy("targeting:segment_count"),
                "hx-trigger": "change",
                "hx-target": "#segment-count",
                "hx-include": "closest form",
            }
        ),
    )


class ProspectUploadForm(forms.Form):
    name = forms.CharField(label=_("List name"), max_length=120)
    provider = forms.CharField(label=_("Provider (renter or partner)"), max_length=120, required=False)
    campaign = forms.TypedChoiceField(
        label=_("Campaign"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("The one campaign this list may be used for."),
    )
    campaign_ref = forms.CharField(
        label=_("Or the campaign's reference"),
        max_length=120,
        required=False,
        help_text=_("For a campaign not (yet) in Glocal."),
    )
    purpose = forms.CharField(label=_("Purpose"), max_length=300, required=False)
    consent_basis = forms.ChoiceField(
        label=_("Consent basis"),
        choices=ProspectList.ConsentBasis.choices,
        initial=ProspectList.ConsentBasis.POSTAL,
        required=False,  # none said: post only
        help_text=_("What the provider's consent covers: the channels the campaign may use."),
    )
    purge_after = forms.DateField(
        label=_("Purge after"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The day after the campaign ends: the people on the list are deleted then."),
    )
    entity = forms.TypedChoiceField(label=_("Store"), coerce=int)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=code_help(
            gettext_noop("Columns: %(contact)s (at least one), %(others)s."),
            contact=["email", "mobile"],
            others=["first_name", "last_name", "postcode", "city"],
        ),
    )

    def __init__(
        self, *args: Any, stores: list[tuple[int, str]], campaigns: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["entity"]).choices = stores
        cast(forms.ChoiceField, self.fields["campaign"]).choices = [("", "—"), *campaigns]
        if len(stores) == 1:
            self.fields["entity"].initial = stores[0][0]
            self.fields["entity"].widget = forms.HiddenInput()

    def clean_purge_after(self) -> datetime.date:
        value = self.cleaned_data["purge_after"]
        if value < timezone.localdate():
            raise forms.ValidationError(_("The purge date cannot be in the past."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("campaign") and not (data.get("campaign_ref") or "").strip():
            self.add_error("campaign", _("Choose the campaign, or give its reference."))
        return data

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_LIST_BYTES:
            raise forms.ValidationError(_("The file is too large (50 MB at most)."))
        return upload
