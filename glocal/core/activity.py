"""The activity feed in the reader's language: what each audit action means and how its details read.

An audit event keeps ``action`` (a code such as ``template.personalise``), ``summary`` (the operators'
one-line record, written when it happened) and ``data`` (codes, counts and names). The feed never shows
the code nor an English summary: each app declares, in its own ``activity.py`` module (found by
:func:`autodiscover` when the kernel starts),

- the wording of its actions, ``labels({"template.personalise": _("personalised a template")})``;
- for an action whose summary holds codes or English words, a formatter that writes the details from
  ``data`` in the active language, ``@details("template.personalise")``. A formatter returns None when
  the event predates the data it needs: the stored summary is shown then.

``glocal.core.tests.test_activity`` checks that every action the code records has a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.utils.module_loading import autodiscover_modules

from glocal.core.models import ACTION_LABELS

if TYPE_CHECKING:
    from glocal.core.models import AuditEvent

Details = Callable[["AuditEvent"], str | None]
DETAILS: dict[str, Details] = {}


def labels(mapping: Mapping[str, Any]) -> None:
    """Declare the wording of actions (lazy translations: shown in the reader's language)."""
    ACTION_LABELS.update(cast(dict[str, Any], dict(mapping)))


def details(*actions: str) -> Callable[[Details], Details]:
    """Register the formatter of these actions' details."""

    def register(formatter: Details) -> Details:
        for action in actions:
            DETAILS[action] = formatter
        return formatter

    return register


def no_details(*actions: str) -> None:
    """These actions' label says it all (their summary only repeats it, in English)."""
    for action in actions:
        DETAILS[action] = lambda event: ""


def label_of(event: AuditEvent) -> str:
    return str(ACTION_LABELS.get(event.action, event.action))


def details_of(event: AuditEvent) -> str:
    """The event's details in the active language (the stored summary when no formatter applies)."""
    formatter = DETAILS.get(event.action)
    if formatter is not None:
        try:
            text = formatter(event)
        except (KeyError, TypeError, ValueError):  # an older event's data: show what was recorded
            text = None
        if text is not None:
            return text
    return event.summary


def field_names(model: Any, names: Iterable[str]) -> str:
    """Model fields by their verbose names, comma-separated ("raison sociale, ville")."""
    shown = []
    for name in names:
        try:
            shown.append(str(model._meta.get_field(name).verbose_name))
        except Exception:  # a field since removed, or a JSON key: its name as recorded
            shown.append(name)
    return ", ".join(shown)


def autodiscover() -> None:
    """Import every app's ``activity`` module (their labels and formatters)."""
    autodiscover_modules("activity")


def role_label(code: str) -> str:
    """A role by its name in the reader's language (the code when unknown)."""
    from glocal.core.roles import Role

    try:
        return str(Role(code).label)
    except ValueError:
        return code


def choice_label(choices: Any, code: str) -> str:
    """A TextChoices value by its label (the code when unknown)."""
    try:
        return str(choices(code).label)
    except ValueError:
        return code
