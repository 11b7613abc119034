"""French typography in the catalogue: a no-break space (U+00A0, or the narrow U+202F) before : ; ? !
and inside « », never a plain space nor none; amounts and percentages get theirs from glocal.core.money.
Templates never glue a colon to a translated word: the colon belongs in the message."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from glocal.core.tests.test_i18n import _entries, _translations

NBSP = "\u00a0\u202f"
GLOCAL = Path(settings.BASE_DIR) / "glocal"
# A quoted URI scheme (``data:`` URIs, ``mailto:``) is code, not a French colon.
SCHEMES = re.compile(r"\b(?:data|mailto|tel|https?):")


def _problems(text: str) -> list[str]:
    text = SCHEMES.sub("", text)
    found = []
    for match in re.finditer(r"(.)([:;?!])(?=\s|$)", text):
        if match.group(1) not in NBSP + '"':  # '"key": 60' is JSON quoted in a help text
            found.append(match.group(0))
    found += re.findall(r"«[^" + NBSP + r"]|[^" + NBSP + r"]»", text)
    return found


def test_french_translations_use_a_no_break_space_before_double_punctuation() -> None:
    wrong = {}
    for entry in _entries()[1:]:
        for translation in _translations(entry):
            problems = _problems(translation)
            if problems:
                wrong[entry["fields"]["msgid"]] = (translation, problems)
    assert wrong == {}


def test_the_checker_sees_each_mistake() -> None:
    assert _problems("Objet : x")
    assert _problems("Objet: x") and _problems("« x »") and _problems("Prêt ?")
    assert not _problems("Objet\u00a0: «\u00a0x\u00a0» prêt\u00a0? oui\u00a0! non\u00a0; 8:00, data: URI")


def test_templates_put_the_colon_inside_the_translated_message() -> None:
    """``{% translate "Subject" %}:`` would read "Objet:" in French."""
    glued = re.compile(r"\{%\s*(?:translate|trans)\s+\"[^\"]*\"\s*%\}:")
    offenders = [
        str(path.relative_to(GLOCAL))
        for path in GLOCAL.rglob("*.html")
        if glued.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
