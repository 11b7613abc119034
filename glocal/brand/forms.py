from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from glocal.network.models import Entity

from . import fonts as fontlib
from .models import Asset, Folder


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


class FolderForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    entity = forms.ModelChoiceField(
        label=_("Attached to"),
        queryset=Entity.unscoped.none(),
        help_text=_("Visible on this node and every node below it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["entity"]
        field.queryset = Entity.objects.filter(is_active=True).order_by("path")


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("JPEG, PNG, WebP or GIF (PDF for documents). No SVG.")
    )
    name = forms.CharField(label=_("Name"), max_length=160, required=False)
    folder = forms.ModelChoiceField(label=_("Folder"), queryset=Folder.unscoped.none(), required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=Asset.Kind.choices, initial=Asset.Kind.IMAGE)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    alt_text = forms.CharField(
        label=_("Alternative text"), max_length=250, required=False, help_text=_("Describes the image.")
    )

    def __init__(self, *args: Any, folders: Any, **kwargs: Any) -> None:
        """``folders``: the folders the user may pick (per request); ``None`` for a store's own photos."""
        super().__init__(*args, **kwargs)
        if folders is None:
            del self.fields["folder"]
            kind: Any = self.fields["kind"]
            kind.choices = [(Asset.Kind.IMAGE, _("Image"))]
        else:
            field: Any = self.fields["folder"]
            field.queryset = folders
            field.required = True

    def clean_tags(self) -> list[str]:
        return _split(self.cleaned_data["tags"])


class VersionUploadForm(forms.Form):
    file = forms.FileField(label=_("New version"))


class AssetEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=160)
    alt_text = forms.CharField(label=_("Alternative text"), max_length=250, required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))

    def clean_tags(self) -> list[str]:
        return _split(self.cleaned_data["tags"])


class KitForm(forms.Form):
    colours = forms.CharField(
        label=_("Colours"),
        required=False,
        help_text=_("#rrggbb, separated by commas; the first is the primary colour. Empty: inherited."),
    )
    fonts = forms.ChoiceField(
        label=_("Font"),
        required=False,
        help_text=_("The fonts print PDFs can embed; emails add web-safe fallbacks. Empty: inherited."),
    )
    logo = forms.ModelChoiceField(label=_("Logo"), queryset=Asset.unscoped.none(), required=False)
    legal_mentions = forms.CharField(
        label=_("Legal mentions"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    footer = forms.CharField(
        label=_("Footer block"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    sender_name = forms.CharField(label=_("Sender name"), max_length=120, required=False)
    sender_email = forms.EmailField(label=_("Sender email"), required=False)
    reply_to = forms.EmailField(label=_("Reply-to"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["logo"]
        field.queryset = Asset.objects.filter(kind__in=[Asset.Kind.LOGO, Asset.Kind.IMAGE]).order_by("name")
        fonts: Any = self.fields["fonts"]
        fonts.choices = [("", _("Inherited")), *fontlib.font_choices()]

    def clean_colours(self) -> list[str]:
        return _split(self.cleaned_data["colours"])

    def clean_fonts(self) -> list[str]:
        return [self.cleaned_data["fonts"]] if self.cleaned_data["fonts"] else []


class LibrarySettingsForm(forms.Form):
    allow_local_uploads = forms.BooleanField(label=_("Stores may upload their own photos"), required=False)
    max_upload_mb = forms.IntegerField(label=_("Largest upload (MB)"), min_value=1, max_value=50)
    max_dimension = forms.IntegerField(label=_("Largest image side (pixels)"), min_value=200, max_value=20000)
