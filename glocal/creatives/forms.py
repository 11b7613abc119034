from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from glocal.core.forms import code_help
from glocal.network.models import Entity

from . import blocks as blocklib
from . import hooks
from . import zones as zonelib
from .models import Channel, ChannelTemplate, CreativeSettings
from .widgets import RichTextArea, SmsTextArea, message_rest

ZONE_PREFIX = "z_"
EDITOR_BLOCKS, EDITOR_MJML = "blocks", "mjml"  # an email version's editor: the block editor, or MJML by hand

# An image zone offers the images of the library registered in glocal.creatives.hooks (the brand
# library: those the active scope may pick, its tag filter applied). Without one, it takes an asset id.


class TemplateCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=160)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    entity = forms.ModelChoiceField(
        label=_("Owner"), queryset=Entity.unscoped.none(), help_text=_("Visible to every store below it.")
    )
    approval_policy = forms.ChoiceField(label=_("Approval policy"), choices=ChannelTemplate.Approval.choices)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Scoped per request (never at class definition): HQ and regional nodes of the scope.
        field: Any = self.fields["entity"]
        field.queryset = Entity.objects.filter(entity_type__is_local=False, is_active=True).order_by("path")


class VersionForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=250, required=False)
    preheader = forms.CharField(label=_("Preheader"), max_length=250, required=False)
    source = forms.CharField(
        label=_("Source"),
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
        required=False,
        help_text=code_help(
            gettext_noop("MJML for email, text for SMS. Tokens: %(tokens)s."),
            tokens=[
                "{{ store.name }}",
                "{{ store.full_address }}",
                "{{ zones.<key> }}",
                '{{ recipient.first_name|fallback("cher client") }}',
                "{{ unsubscribe_url }}",
            ],
        ),
    )
    text = forms.CharField(
        label=_("Plain-text part"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "code"}),
        required=False,
        help_text=_("Leave empty to derive it from the HTML."),
    )
    zones_json = forms.CharField(
        label=_("Zones (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        required=False,
        help_text=code_help(
            gettext_noop("A list of zones, e.g. %(example)s. Types: %(types)s. Attributes: %(attributes)s."),
            example=['[{"key": "headline", "type": "short_text", "max_length": 60}]'],
            types=zonelib.ZONE_TYPES,
            attributes=zonelib.ZONE_ATTRIBUTES,
        ),
    )

    blocks_json = forms.CharField(
        label=_("Blocks (JSON)"),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code", "data-blocks": ""}),
        required=False,
        help_text=_("The block editor writes this document; without JavaScript it can be edited here."),
    )

    def __init__(
        self, *args: Any, channel: str = Channel.EMAIL, editor: str = EDITOR_MJML, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.editor = editor if channel == Channel.EMAIL else EDITOR_MJML
        if channel != Channel.EMAIL:
            for name in ("subject", "preheader", "text"):
                del self.fields[name]
        if self.editor == EDITOR_BLOCKS:  # the source and zones are compiled from the blocks
            for name in ("source", "zones_json", "text"):
                self.fields.pop(name, None)
        else:
            del self.fields["blocks_json"]

    def clean_blocks_json(self) -> Any:
        document, problems = blocklib.parse(self.cleaned_data["blocks_json"])
        if problems:
            raise forms.ValidationError([p.text for p in problems])
        return document

    def version_data(self) -> dict[str, Any]:
        """The keyword arguments of ``services.version_save`` (besides the template)."""
        data = self.cleaned_data
        common = {"subject": data.get("subject", ""), "preheader": data.get("preheader", "")}
        if self.editor == EDITOR_BLOCKS:
            return {**common, "source": "", "zones_data": [], "text": "", "blocks": data["blocks_json"]}
        return {
            **common,
            "source": data["source"],
            "zones_data": data["zones_json"],
            "text": data.get("text", ""),
        }

    def clean_zones_json(self) -> Any:
        raw = self.cleaned_data["zones_json"].strip() or "[]"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("The zones are not valid JSON (line %(line)s, column %(col)s): %(msg)s"),
                params={"line": exc.lineno, "col": exc.colno, "msg": exc.msg},
            ) from None
        _zones, errors = zonelib.parse_zones(data)
        if errors:
            raise forms.ValidationError([e.text for e in errors])
        return data


class PersonalisationForm(forms.Form):
    """One field per zone the role may edit. Locked zones have no field; a forged value for one is
    refused by :meth:`clean` (and again by the service)."""

    def __init__(self, *args: Any, zones: list[zonelib.Zone], role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zones = zones
        self.role = role
        self.editable = zonelib.editable_zones(zones, role)
        for zone in self.editable:
            self.fields[ZONE_PREFIX + zone.key] = self._field(zone)

    @staticmethod
    def _field(zone: zonelib.Zone) -> forms.Field:
        attrs: dict[str, Any] = {"data-zone": zone.key}
        if zone.limit and zone.type in ("short_text", "rich_text"):
            attrs["data-maxlength"] = zone.limit
        label = zone.title
        help_text = zone.help
        library = hooks.image_library()  # the brand library, when registered
        if zone.type == "image" and library is not None:
            return forms.ChoiceField(
                label=label,
                required=False,
                choices=[("", "—"), *library.choices(zone)],
                initial=zone.default,
                help_text=help_text,
                widget=forms.Select(attrs=attrs),
            )
        if zone.type == "choice":
            return forms.ChoiceField(
                label=label,
                required=False,
                choices=[("", "—")] + [(c, c) for c in zone.choices],
                initial=zone.default,
                help_text=help_text,
                widget=forms.Select(attrs=attrs),
            )
        if zone.type == "rich_text":
            widget: forms.Widget = RichTextArea(attrs={**attrs, "rows": 6})
            help_text = f"{help_text} " if help_text else ""
            help_text += str(_("Allowed: paragraphs, bold, italics, lists, links (http, https)."))
        elif zone.type == "date":
            widget = forms.DateInput(attrs={**attrs, "type": "date"})
        elif zone.type == "price":
            widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal"})
        else:
            widget = forms.TextInput(attrs=attrs)
        return forms.CharField(
            label=label, required=False, initial=zone.default, help_text=help_text, widget=widget, strip=False
        )

    def for_sms(self, rendered_text: str) -> None:
        """An SMS template: its text zones become several lines high, with the live SMS counter
        counted on the whole message (``rendered_text``: the preview's SMS, whose rest is counted
        with what is typed)."""
        for zone in self.editable:
            name = ZONE_PREFIX + zone.key
            if zone.type != "short_text" or name not in self.fields:
                continue
            field = self.fields[name]
            value = str(self[name].value() or "")
            field.widget = SmsTextArea(field.widget.attrs, rest=message_rest(rendered_text, value))

    def submitted_values(self) -> dict[str, Any]:
        """Every submitted ``z_<key>`` value, including forged ones for locked or unknown zones."""
        data = self.data
        return {k[len(ZONE_PREFIX) :]: data.get(k) for k in data if k.startswith(ZONE_PREFIX)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = self.submitted_values()
        clean, errors = zonelib.validate_values(self.zones, values, self.role)
        for finding in errors:
            field = ZONE_PREFIX + finding.where
            if field in self.fields:
                self.add_error(field, finding.text)
            else:
                self.add_error(None, finding.text)
        cleaned["values"] = clean
        return cleaned


class SettingsForm(forms.ModelForm):
    patterns = forms.CharField(
        label=_("Restricted words"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "class": "code"}),
        help_text=_("One regular expression per line, matched without regard to case, e.g. gratuit|offert."),
    )

    class Meta:
        model = CreativeSettings
        fields = ["sms_advertiser", "sms_opt_out", "sms_price_per_segment", "sms_segment_limit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patterns"].initial = "\n".join(self.instance.restricted_patterns or [])

    def clean_patterns(self) -> list[str]:
        from .compliance import validate_patterns

        patterns = [p.strip() for p in self.cleaned_data["patterns"].splitlines() if p.strip()]
        errors = validate_patterns(patterns)
        if errors:
            raise forms.ValidationError(errors)
        return patterns
