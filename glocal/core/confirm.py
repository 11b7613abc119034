"""Confirmation pages for actions that cannot be undone (cancel an operation, publish to every store,
purge a list): the view's GET renders what will happen, counted by the server, and a form that POSTs to
the same address; the POST does it. Works without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import number_format


def count_text(n: int) -> str:
    """A count as people read it in the active language: 1,240 in English, 1 240 in French."""
    return number_format(n, force_grouping=True)


def confirm_page(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    back: str,
    button: str,
    details: Sequence[str] = (),
    danger: bool = True,
    comment: bool = False,
    refused: str = "",
) -> HttpResponse:
    """``consequence``: the sentence with the count ("Cancels 16 store campaigns."); ``refused``: why
    the action cannot be done now (the page then offers no button)."""
    context = {
        "title": title,
        "consequence": consequence,
        "details": list(details),
        "back": back,
        "button": button,
        "danger": danger,
        "comment": comment,
        "refused": refused,
    }
    return render(request, "core/confirm.html", context)
