"""The activity feed speaks the reader's language: every action the code records has a translated label,
and the details of an event read as words, never as codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from glocal.campaigns.states import Event
from glocal.core import activity
from glocal.core.models import ACTION_LABELS, AuditEvent

GLOCAL = Path(settings.BASE_DIR) / "glocal"
RAW_CODE = re.compile(r"\b[a-z]+[._][a-z_]+\b")


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _module_constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _keyword_actions(tree: ast.Module) -> list[str]:
    """Every ``action="a.b"`` keyword of the module (the callers of a helper that records)."""
    return [
        s
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "action"
        for s in _strings(node.value)
        if "." in s
    ]


def recorded_actions() -> dict[str, str]:
    """action code → where it is recorded, for every ``audit.record(action=…)`` under glocal/."""
    actions: dict[str, str] = {}
    for path in sorted(GLOCAL.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        if "audit.record(" not in source:
            continue
        tree = ast.parse(source)
        constants = _module_constants(tree)
        for call in ast.walk(tree):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "record"
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "audit"
            ):
                continue
            value = next(k.value for k in call.keywords if k.arg == "action")
            where = f"{path.relative_to(GLOCAL)}:{call.lineno}"
            if isinstance(value, ast.JoinedStr):  # f"campaign.{event}": every event of the state machine
                prefix = "".join(_strings(value))
                assert prefix == "campaign.", where
                codes = [f"campaign.{event}" for event in Event]
            elif isinstance(value, ast.Name):  # a constant, or a parameter its callers fill in
                codes = [constants[value.id]] if value.id in constants else _keyword_actions(tree)
            else:
                codes = _strings(value)
            assert codes, f"no action code found at {where}"
            for code in codes:
                actions.setdefault(code, where)
    return actions


def test_the_scan_finds_the_actions_of_every_app() -> None:
    actions = recorded_actions()
    assert len(actions) > 60
    for code in ("template.personalise", "contact.import", "leads.submit", "operation.wave", "brand.kit"):
        assert code in actions
    assert "campaign.start_sending" in actions
    assert {"leads.confirm", "leads.confirm_sms"} <= set(actions)


def test_every_recorded_action_has_a_label_translated_into_french() -> None:
    missing = {code: where for code, where in recorded_actions().items() if code not in ACTION_LABELS}
    assert missing == {}, "actions without a label in the activity feed"
    untranslated = []
    for code in recorded_actions():
        english = str(ACTION_LABELS[code])
        with translation.override("fr"):
            french = str(ACTION_LABELS[code])
        if french == english or RAW_CODE.search(french):
            untranslated.append((code, french))
    assert untranslated == []


def _event(action: str, summary: str = "", **data: object) -> AuditEvent:
    return AuditEvent(action=action, summary=summary, data=data)


@pytest.mark.parametrize(
    ("event", "french"),
    [
        (
            _event(
                "template.personalise",
                "Lettre v2 (draft)",
                name="Lettre",
                version=2,
                status="draft",
                keys=["headline"],
            ),
            "Lettre v2 (brouillon)",
        ),
        (
            _event(
                "contact.import",
                "clients.csv: 3 created, 1 updated",
                file="clients.csv",
                created=3,
                updated=1,
            ),
            "clients.csv\u00a0: 3 créés, 1 mis à jour",
        ),
        (
            _event(
                "campaign.submit",
                "Soldes: draft → submitted",
                name="Soldes",
                **{"from": "draft", "to": "submitted"},
            ),
            "Soldes\u00a0: Brouillon → En attente de validation",
        ),
        (
            _event("membership.grant", "local_manager @ S-A", role="local_manager", entity="S-A"),
            "Responsable local, S-A",
        ),
        (_event("template.create", "sms Rappel", name="Rappel", channel="sms"), "Rappel (SMS)"),
        (
            _event("asset.settings", "local uploads on", local_uploads=True),
            "les magasins peuvent ajouter leurs photos",
        ),
        (_event("campaign.settings", "campaign settings"), ""),
        (
            _event("leads.submit", "kiosk: contact #7 (new)", kind="kiosk", contact=7, created=True, store=1),
            None,
        ),
        (_event("calendar.slot", "blackout Noël", kind="blackout", name="Noël"), None),
        (
            _event("budget.save", "Lille 1200.50", entity="Lille", amount="1200.50"),
            "Lille\u00a0: 1\u00a0200,50\u00a0€",
        ),
    ],
)
def test_details_read_as_words_in_french(event: AuditEvent, french: str | None) -> None:
    with translation.override("fr"):
        text = activity.details_of(event)
        label = activity.label_of(event)
    assert label != event.action
    assert not RAW_CODE.search(text.replace("clients.csv", "")), text
    if french is not None:
        assert text == french
    assert text != event.summary or not event.summary


def test_an_older_event_without_the_data_shows_its_summary() -> None:
    event = _event("template.personalise", "Lettre v2 (draft)")
    with translation.override("fr"):
        assert activity.details_of(event) == "Lettre v2 (draft)"
    assert activity.details_of(_event("unknown.action", "as recorded")) == "as recorded"
    assert activity.label_of(_event("unknown.action")) == "unknown.action"
