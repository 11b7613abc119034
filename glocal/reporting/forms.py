from __future__ import annotations

from django import forms

from .models import ReportingSettings


class ReportingSettingsForm(forms.ModelForm):
    class Meta:
        model = ReportingSettings
        fields = ["window_days", "touch"]
        widgets = {"touch": forms.RadioSelect}
