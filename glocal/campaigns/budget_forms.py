"""Budget forms: a new budget (its entity and line), a change to an open one. Amounts are typed and
shown as people write them ("20 000,00" in French, "20,000.00" in English): spaces, no-break spaces and
the locale's grouping are accepted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.formats import get_format, number_format
from django.utils.translation import gettext_lazy as _

from glocal.network.models import Entity

from .forms import date_widget
from .models import Budget


class AmountField(forms.DecimalField):
    """A euro amount typed with or without grouping ("20 000,00", "20000", "20,000.00" in English)."""

    widget = forms.TextInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "inputmode": "decimal", "autocomplete": "off"}

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = "".join(value.replace("€", "").split())  # spaces, no-break spaces
            decimal_sep, group_sep = get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR")
            if group_sep and group_sep.strip() and group_sep != decimal_sep:
                value = value.replace(group_sep, "")
            value = value.replace(decimal_sep, ".")
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            return number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)
        return value


BUDGET_WIDGETS = {"period_start": date_widget(), "period_end": date_widget()}


class BudgetEditForm(forms.ModelForm):
    """A change to an open budget: its line, period, amount and HQ's share (not its entity)."""

    amount = AmountField(label=_("allocation (EUR)"), max_digits=12, decimal_places=2, min_value=0)

    class Meta:
        model = Budget
        fields = ["label", "period_start", "period_end", "amount", "coop_share"]
        widgets = BUDGET_WIDGETS


class BudgetForm(BudgetEditForm):
    """A new budget: an entity's line (the entity + a label) for a period."""

    entity = forms.ModelChoiceField(label=_("Entity"), queryset=Entity.unscoped.none())

    class Meta(BudgetEditForm.Meta):
        fields = ["entity", "label", "period_start", "period_end", "amount", "coop_share"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entities = Entity.objects.filter(is_active=True).order_by("path")
        cast(forms.ModelChoiceField, self.fields["entity"]).queryset = entities
