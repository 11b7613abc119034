"""Budget pages: the list (and a new budget), a budget's page (its figures, history, ledger and proof of
execution), a change to an open budget, and closing one after a confirmation page. Thin: forms validate,
``services.budget_save`` / ``budget_close`` write with their audit records, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from glocal.core.confirm import confirm_page
from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.money import format_money
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped

from . import selectors, services
from .budget_forms import BudgetEditForm, BudgetForm
from .budget_history import budget_history
from .models import Budget, Campaign, LedgerEntry

_add_errors = add_validation_errors


@scoped(Action.BUDGET_VIEW)
def budgets(request: ScopedRequest) -> HttpResponse:
    can_manage = role_allows(request.scope.role, Action.BUDGET_MANAGE)
    form = BudgetForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.budget_save(fields=form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Budget saved."))
                return redirect("campaigns:budgets")
    rows = [selectors.budget_status(b) for b in Budget.objects.select_related("entity")[:500]]
    return render(request, "campaigns/budgets.html", {"rows": rows, "form": form})


@scoped(Action.BUDGET_VIEW)
def budget(request: ScopedRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(Budget.objects.select_related("entity"), pk=pk)
    entries = LedgerEntry.objects.filter(budget=found).select_related("campaign")
    campaigns = (
        Campaign.objects.select_related("entity")
        .filter(ledger__budget=found)
        .distinct()
        .prefetch_related("transitions__actor")
    )
    context = {
        "status": selectors.budget_status(found),
        "entries": entries,
        "campaigns": campaigns,
        "history": budget_history(found),
        "can_manage": role_allows(request.scope.role, Action.BUDGET_MANAGE),
    }
    return render(request, "campaigns/budget.html", context)


@scoped(Action.BUDGET_MANAGE)
@require_http_methods(["GET", "POST"])
def budget_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    """A change to an open budget (recorded with its before and after in the budget's history)."""
    found = get_object_or_404(Budget.objects.select_related("entity"), pk=pk)
    if found.closed_at:
        messages.error(request, _("This budget is closed: it can no longer be changed."))
        return redirect("campaigns:budget", pk=found.pk)
    form = BudgetEditForm(request.POST or None, instance=found)
    if request.method == "POST" and form.is_valid():
        try:
            services.budget_save(fields=form.cleaned_data, budget=found)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Budget saved."))
            return redirect("campaigns:budget", pk=found.pk)
    title = _("Change the budget of %(entity)s") % {"entity": found.entity.name}
    return render(request, "campaigns/budget_edit.html", {"form": form, "title": title, "budget": found})


@scoped(Action.BUDGET_MANAGE)
@require_http_methods(["GET", "POST"])
def budget_close(request: ScopedRequest, pk: int) -> HttpResponse:
    """GET: what closing does, with the amounts; POST: close it."""
    found = get_object_or_404(Budget.objects.select_related("entity"), pk=pk)
    back = reverse("campaigns:budget", args=[found.pk])
    if request.method == "POST":
        try:
            services.budget_close(budget=found)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            released = selectors.budget_status(found).released
            messages.success(
                request, _("Budget closed: %(amount)s released.") % {"amount": format_money(released)}
            )
        return redirect(back)
    status = selectors.budget_status(found)
    period = {
        "entity": found.entity.name,
        "start": date_format(found.period_start, "SHORT_DATE_FORMAT"),
        "end": date_format(found.period_end, "SHORT_DATE_FORMAT"),
    }
    return confirm_page(
        request,
        title=_("Close the budget of %(entity)s (%(start)s – %(end)s)?") % period,
        consequence=_("Closing releases what is left of it: %(remaining)s.")
        % {"remaining": format_money(max(status.remaining, 0))},
        details=[
            _(
                "It takes no new commitment: campaigns scheduled from now on draw on another open budget of "
                "this entity covering their send date, or on none."
            ),
            _(
                "What is already committed (%(committed)s) stays on it, and so does the actual cost of those "
                "campaigns when they are sent."
            )
            % {"committed": format_money(status.committed)},
            _("A closed budget can no longer be changed; its page and history stay."),
        ],
        back=back,
        button=_("Close the budget"),
        refused=_("This budget is already closed.") if found.closed_at else "",
    )
