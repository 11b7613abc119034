"""Forms for campaigns. Querysets of choice fields are set per request from scoped managers (never
at class definition)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.audience.models import Contact
from glocal.creatives.models import Channel, ChannelTemplate
from glocal.network.models import Entity, EntityGroup

from . import audience, selectors
from .models import CalendarSlot, CampaignSettings, Operation


def _choice(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    return cast(forms.ModelChoiceField, form.fields[name])


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_channel_display()})"


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def datetime_field(label: Any, **kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        **kwargs,
    )


def date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CriteriaFields(forms.Form):
    """The audience criteria as three optional fields; ``allowed`` hides the others."""

    kind = forms.ChoiceField(
        label=_("Customers or prospects"),
        required=False,
        choices=[("", _("Both"))] + list(Contact.Kind.choices),
    )
    tags = forms.CharField(label=_("With one of the tags"), required=False, help_text=_("Comma-separated."))
    postcodes = forms.CharField(label=_("In the postcodes"), required=False, help_text=_("Comma-separated."))
    source = forms.ChoiceField(
        label=_("Segment or rented list"),
        required=False,
        help_text=_("Its count is for this store's contacts (a rented list: its rows, addressed alone)."),
    )

    def __init__(
        self,
        *args: Any,
        allowed: list[str] | tuple[str, ...] = audience.CRITERIA_KEYS,
        sources: list[audience.SourceChoice] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        for key in audience.CRITERIA_KEYS:
            if key not in allowed:
                del self.fields[key]
        if sources:
            cast(forms.ChoiceField, self.fields["source"]).choices = [("", _("None"))] + [
                (c.value, c.label if c.count is None else f"{c.label} ({c.count})") for c in sources
            ]
        else:
            del self.fields["source"]

    @staticmethod
    def initial_for(criteria: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": criteria.get("kind", ""),
            "tags": ", ".join(criteria.get("tags", [])),
            "postcodes": ", ".join(criteria.get("postcodes", [])),
            "source": next((f"{k}:{criteria[k]}" for k in audience.SOURCE_KEYS if criteria.get(k)), ""),
        }

    def criteria(self) -> dict[str, Any]:
        found = {k: v for k, v in self.cleaned_data.items() if k in audience.CRITERIA_KEYS and v}
        kind, _sep, pk = (self.cleaned_data.get("source") or "").partition(":")
        if kind in audience.SOURCE_KEYS and pk.isdigit():
            found[kind] = int(pk)
        return found


class WizardTemplateField(TemplateChoiceField):
    """The wizard's choice of template, each saying what it produces (a print kit, a direct-mail
    batch, messages)."""

    def label_from_instance(self, obj: Any) -> str:
        version = obj.published_version()
        if version is None:
            return super().label_from_instance(obj)
        produces = selectors.DELIVERABLE_LABELS[selectors.deliverable(version)]
        return f"{super().label_from_instance(obj)} — {produces}"


class NewCampaignForm(forms.Form):
    template = WizardTemplateField(
        label=_("Template"),
        queryset=ChannelTemplate.unscoped.none(),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    name = forms.CharField(label=_("Name of your campaign"), max_length=160, required=False)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Entity.unscoped.none(), required=False)

    def __init__(self, *args: Any, templates: Any, stores: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "template").queryset = templates
        _choice(self, "store").queryset = stores
        if stores.count() <= 1:
            del self.fields["store"]


class ScheduleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=160)
    send_date = forms.DateField(label=_("Send date"), widget=date_widget(), required=False)
    send_time = forms.TimeField(
        label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), required=False
    )
    budget_line = forms.ChoiceField(
        label=_("Budget line"),
        required=False,
        help_text=_("The budget its cost goes to; general: the budget covering the send date."),
    )

    holdout_percent = forms.IntegerField(
        label=_("Control group (%)"),
        required=False,
        min_value=0,
        help_text=_("This share of the audience is not messaged, to measure what the campaign adds."),
    )

    def __init__(
        self,
        *args: Any,
        budget_lines: list[str] | None = None,
        holdout_range: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> None:
        """``budget_lines``: the lines the store may name (``selectors.budget_lines``); the choice is
        shown only when there is more than one. ``holdout_range``: HQ's (smallest, largest) control
        group; without it the field is not shown."""
        super().__init__(*args, **kwargs)
        self.holdout_range = holdout_range
        if holdout_range is None:
            del self.fields["holdout_percent"]
        else:
            self.fields["holdout_percent"].widget.attrs.update(
                {"min": holdout_range[0], "max": holdout_range[1]}
            )
        if budget_lines and len(budget_lines) > 1:
            cast(forms.ChoiceField, self.fields["budget_line"]).choices = [
                (line, line or _("General budget")) for line in budget_lines
            ]
        else:
            del self.fields["budget_line"]

    def clean_holdout_percent(self) -> int | None:
        value = self.cleaned_data.get("holdout_percent")
        if value is None or self.holdout_range is None:
            return value
        low, high = self.holdout_range
        if not low <= value <= high:
            raise forms.ValidationError(
                _("Choose a control group between %(low)s %% and %(high)s %%.") % {"low": low, "high": high}
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, time = data.get("send_date"), data.get("send_time")
        data["scheduled_at"] = None
        if day and time:
            data["scheduled_at"] = timezone.make_aware(dt.datetime.combine(day, time))
        elif day or time:
            self.add_error("send_time" if day else "send_date", _("Give both the date and the time."))
        return data


class OperationForm(forms.ModelForm):
    subscription_deadline = datetime_field(_("Subscription deadline"))
    personalisation_deadline = datetime_field(_("Personalisation deadline"))
    eligible_root = forms.ModelChoiceField(label=_("Under"), queryset=Entity.unscoped.none(), required=False)
    eligible_group = forms.ModelChoiceField(
        label=_("Group"), queryset=EntityGroup.unscoped.none(), required=False
    )
    eligible_entities = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Entity.unscoped.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def clean_pressure_weight(self) -> int:
        return self.cleaned_data.get("pressure_weight") or 0

    class Meta:
        model = Operation
        fields = [
            "name",
            "description",
            "visible_from",
            "subscription_deadline",
            "personalisation_deadline",
            "in_market_start",
            "in_market_end",
            "participation",
            "approval_policy",
            "pressure_weight",
            "holdout_percent",
            "eligibility",
            "eligible_root",
            "eligible_group",
            "eligible_entities",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "visible_from": date_widget(),
            "in_market_start": date_widget(),
            "in_market_end": date_widget(),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "eligible_root").queryset = Entity.objects.filter(
            entity_type__is_local=False, is_active=True
        ).order_by("path")
        _choice(self, "eligible_group").queryset = EntityGroup.objects.all()
        weight = self.fields["pressure_weight"]
        weight.required = False  # 0 unless HQ gives this operation priority under marketing pressure
        _choice(self, "eligible_entities").queryset = Entity.objects.filter(
            entity_type__is_local=True, is_active=True
        ).order_by("name")


class WaveForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120, help_text=_("E.g. email teaser, SMS reminder."))
    template = TemplateChoiceField(label=_("Template"), queryset=ChannelTemplate.unscoped.none())
    send_at = datetime_field(_("Send date and time"))

    def __init__(self, *args: Any, templates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "template").queryset = templates


class SlotForm(forms.ModelForm):
    entity = forms.ModelChoiceField(label=_("Applies to"), queryset=Entity.unscoped.none())

    class Meta:
        model = CalendarSlot
        fields = ["kind", "name", "start", "end", "channel", "entity"]
        widgets = {"start": date_widget(), "end": date_widget()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "entity").queryset = Entity.objects.filter(is_active=True).order_by("path")
        self.fields["channel"].required = False


class SettingsForm(forms.ModelForm):
    local_criteria = forms.MultipleChoiceField(
        label=_("Criteria stores may use"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[("kind", _("Customers or prospects")), ("tags", _("Tags")), ("postcodes", _("Postcodes"))],
    )

    class Meta:
        model = CampaignSettings
        fields = [
            "cost_email",
            "cost_sms_segment",
            "cost_print",
            "over_budget",
            "local_criteria",
            "reminder_hours",
            "holdout_default",
            "holdout_min",
            "holdout_max",
        ]


class CalendarFilter(forms.Form):
    view = forms.ChoiceField(
        label=_("View"), choices=[("month", _("Month")), ("week", _("Week"))], required=False
    )
    date = forms.DateField(label=_("Date"), required=False, widget=date_widget())
    entity = forms.ModelChoiceField(
        label=_("Region or store"), queryset=Entity.unscoped.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All"))] + list(Channel.choices), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "entity").queryset = Entity.objects.filter(is_active=True).order_by("path")
