"""Widgets of the personalisation form that a script enhances (progressive enhancement: without
JavaScript each is a plain textarea that works as it is).

- :class:`RichTextArea`: a rich-text zone. ``creatives/richtext.js`` puts a small editor in front of it
  (a toolbar with only the buttons for the tags the zone allows, a labelled editable region) and writes
  the HTML back into the textarea, which is what the form submits; the server sanitises it as before
  (``zones.sanitise_rich_text``).
- :class:`SmsTextArea`: a text zone of an SMS template, several lines high, with the live counter of
  ``creatives/creatives.js`` (GSM-7 or UCS-2, characters left, number of SMS) counted on the whole
  message: the rest of the rendered SMS is given in ``data-sms-rest``.

The scripts' words come translated from here, in data attributes (no JavaScript catalogue needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext as _

from . import zones as zonelib

# Toolbar buttons, in order, and the tags each needs the zone to allow (any one of them).
RICH_BUTTONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("bold", frozenset({"strong", "b"})),
    ("italic", frozenset({"em", "i"})),
    ("link", frozenset({"a"})),
    ("list", frozenset({"ul"})),
    ("break", frozenset({"br"})),
)


def rich_buttons(tags: Iterable[str]) -> list[str]:
    allowed = set(tags)
    buttons = [name for name, needs in RICH_BUTTONS if needs & allowed]
    if "list" in buttons and "li" not in allowed:
        buttons.remove("list")
    return buttons


def rich_labels() -> dict[str, str]:
    return {
        "toolbar": _("Formatting of “%(zone)s”"),
        "bold": _("Bold (Ctrl+B)"),
        "italic": _("Italic (Ctrl+I)"),
        "link": _("Link (Ctrl+K)"),
        "list": _("Bulleted list"),
        "break": _("Line break (Shift+Enter)"),
        "prompt": _("Address of the link (https://…, mailto:…, tel:…); leave empty to remove the link"),
        "badLink": _("Only links starting with %(schemes)s are allowed."),
    }


class RichTextArea(forms.Textarea):
    """A rich-text zone's textarea, marked for the editor with the tags and URL schemes it allows."""

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        tags: Iterable[str] = zonelib.RICH_TAGS,
        schemes: Iterable[str] = zonelib.RICH_URL_SCHEMES,
    ) -> None:
        self.tags = sorted(set(tags))
        self.schemes = sorted(set(schemes))
        super().__init__(attrs)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].update(
            {
                "data-richtext": " ".join(rich_buttons(self.tags)),
                "data-richtext-tags": " ".join(self.tags),
                "data-richtext-schemes": " ".join(self.schemes),
                "data-richtext-labels": json.dumps(rich_labels(), ensure_ascii=False),
            }
        )
        return context


def sms_labels() -> dict[str, str]:
    return {
        "characters": _("Characters: %(n)s"),
        "segments": _("SMS: %(n)s"),
        "left": _("Left before another SMS: %(n)s"),
        "ucs2": _(
            "Characters outside the GSM alphabet (%(chars)s): each SMS holds 70 characters instead of 160."
        ),
        "whole": _("Counted on the whole message, with what head office's template adds."),
    }


class SmsTextArea(forms.Textarea):
    """A text zone of an SMS: several lines, with the live SMS counter. ``rest`` is the rest of the
    rendered message (the text without this zone's value), counted with what is typed; None: the
    zone is counted alone."""

    def __init__(self, attrs: dict[str, Any] | None = None, *, rest: str | None = None) -> None:
        self.rest = rest
        super().__init__({"rows": 3, **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        extra = {"data-sms-counter": "", "data-sms-labels": json.dumps(sms_labels(), ensure_ascii=False)}
        if self.rest is not None:
            extra["data-sms-rest"] = self.rest
        context["widget"]["attrs"].update(extra)
        return context


def message_rest(rendered_text: str, value: str) -> str | None:
    """The rendered SMS without the zone's value (its first occurrence); None when the value is not
    found as typed (a filter changed it): the counter then counts the zone alone."""
    if not value:
        return rendered_text
    if value in rendered_text:
        return rendered_text.replace(value, "", 1)
    return None
