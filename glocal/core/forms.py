"""Form helpers shared by every app's views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


def add_validation_errors(form: Any, exc: ValidationError, *, field_prefix: str = "") -> None:
    """Put a service's ValidationError on the form: on the named fields the form has (a name the form
    lacks is tried with ``field_prefix``, e.g. "z_" for a zone's field), else on top."""
    if hasattr(exc, "error_dict"):
        for where, errors in exc.error_dict.items():
            field = where if where in form.fields else f"{field_prefix}{where}"
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


def _code_help(message: str, codes: dict[str, Sequence[str]]) -> SafeString:
    parts = {
        name: format_html_join(", ", "<code>{}</code>", ((v,) for v in values))
        for name, values in codes.items()
    }
    return mark_safe(escape(gettext(message)) % parts)  # noqa: S308 - the message is escaped, the parts built by format_html


_code_help_lazy = lazy(_code_help, SafeString)


def code_help(message: str, **codes: Sequence[str]) -> SafeString:
    """A help text in the reader's language whose ``%(name)s`` placeholders are things the user types
    as they are (column names, tokens, JSON keys), each shown as ``<code>``, comma-separated.
    ``message`` is marked for translation by the caller with ``gettext_noop``."""
    return cast(SafeString, _code_help_lazy(message, codes))
