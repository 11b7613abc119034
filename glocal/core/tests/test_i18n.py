"""The French catalogue is complete, compiled, and served when the language cookie asks for it."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

LC_MESSAGES = Path(settings.BASE_DIR) / "glocal" / "locale" / "fr" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), quoted[1:-1])


def _entries() -> list[dict]:
    """Parse the .po file (stdlib only): one dict per entry with its flags and fields."""
    entries: list[dict] = []
    for block in PO_FILE.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set(), "fields": {}}
        current = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := _KEYWORD.match(line):
                current = match.group(1)
                entry["fields"][current] = _unquote(match.group(2))
            elif line.startswith('"') and current:
                entry["fields"][current] += _unquote(line.strip())
        if "msgid" in entry["fields"]:
            entries.append(entry)
    return entries


def _translations(entry: dict) -> list[str]:
    fields = entry["fields"]
    return [value for key, value in fields.items() if key.startswith("msgstr")]


def test_po_file_has_no_untranslated_or_fuzzy_entry() -> None:
    text = PO_FILE.read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    entries = _entries()
    assert len(entries) > 100, "the catalogue looks empty: run makemessages -l fr"
    header, messages = entries[0], entries[1:]
    assert header["fields"]["msgid"] == ""
    assert "Language: fr" in header["fields"]["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header["fields"]["msgstr"]
    untranslated = [e["fields"]["msgid"] for e in messages if not all(_translations(e))]
    fuzzy = [e["fields"]["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []
    for entry in messages:
        if "msgid_plural" in entry["fields"]:
            assert {"msgstr[0]", "msgstr[1]"} <= entry["fields"].keys(), entry["fields"]["msgid"]


def test_po_translations_keep_their_placeholders() -> None:
    for entry in _entries()[1:]:
        fields = entry["fields"]
        expected = set(_PLACEHOLDER.findall(fields["msgid"] + fields.get("msgid_plural", "")))
        for translation in _translations(entry):
            assert set(_PLACEHOLDER.findall(translation)) <= expected, fields["msgid"]
            if "msgid_plural" not in fields:
                assert set(_PLACEHOLDER.findall(translation)) == expected, fields["msgid"]


def test_committed_mo_file_matches_the_po_file() -> None:
    """The .mo is committed so that no machine needs gettext: it must be recompiled with the .po."""
    assert MO_FILE.exists(), "run: python manage.py compilemessages"
    with MO_FILE.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for entry in _entries()[1:]:
        fields = entry["fields"]
        context = fields.get("msgctxt")
        if "msgid_plural" in fields:
            singular, plural = fields["msgid"], fields["msgid_plural"]
            if context:
                got = [catalogue.npgettext(context, singular, plural, n) for n in (1, 2)]
            else:
                got = [catalogue.ngettext(singular, plural, n) for n in (1, 2)]
            assert got == [fields["msgstr[0]"], fields["msgstr[1]"]], "stale .mo: run compilemessages"
        else:
            msgid = fields["msgid"]
            got_one = catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)
            assert got_one == fields["msgstr"], "stale .mo: run compilemessages"


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("fr", ["Réseau", "Accueil", "Équipes", "Se déconnecter"], ["Network</a>", "Log out"]),
        ("en", ["Network", "Home", "People", "Log out"], ["Réseau", "Se déconnecter"]),
    ],
)
def test_home_page_follows_the_language_cookie(network, login, language, expected, absent) -> None:
    client = login(network, "hq_admin")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}"' in html
    for text in expected:
        assert text in html
    for text in absent:
        assert text not in html
