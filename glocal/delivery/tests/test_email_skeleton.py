"""The per-variant byte skeleton produces the same messages as creatives' full render, cheaply."""

from __future__ import annotations

import dataclasses
import email
import email.header
import html as html_module
import importlib
import re
from email import policy
from typing import Any

import pytest
from django.core import signing

from glocal.creatives import rendering
from glocal.delivery import tokens
from glocal.delivery.email_skeleton import FastSigner, Sender, VariantMail, content_language

bench = importlib.import_module("bench.bench_render")


@pytest.fixture(autouse=True)
def _fresh_render_caches():
    """Each test starts with empty render caches (as in the brand tests, where these tests lived)."""
    rendering.clear_caches()
    yield
    rendering.clear_caches()


def body(message: Any, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def mail() -> VariantMail:
    return VariantMail(
        variant=bench.make_variant(),
        sender=Sender(
            from_name="Maison Verte Lille Centre",
            from_address="news@maison.example",
            message_id_domain="maison.example",
            list_id="c42.maison.example",
            reply_to="lille@maison.example",
            unsubscribe_mailto="unsubscribe@maison.example",
        ),
        public_url="https://glocal.example",
        campaign="c42",
        organisation_id=7,
        tracking_key=b"k" * 32,
    )


def test_fast_signer_makes_tokens_the_delivery_module_reads():
    token = FastSigner(tokens.UNSUBSCRIBE_SALT).dumps([12, 7, "email", "c42-12"])
    claim = tokens.read_unsubscribe_token(token)
    assert (claim.contact_id, claim.organisation_id, claim.message_id) == (12, 7, "c42-12")
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt=tokens.CLICK_SALT)


@pytest.mark.parametrize(
    "recipient",
    [
        {"id": 1, "first_name": "Camille", "last_name": "Martin", "email": "c@example.test"},
        {"id": 2, "first_name": "", "last_name": "", "email": "anon@example.test"},
        {"id": 3, "first_name": "Zoé {{ 7*7 }} <b>", "last_name": "D'Arc", "email": "z@example.test"},
        {"id": 4, "first_name": "Sep\x00arator", "last_name": "X", "email": "s@example.test"},
    ],
)
def test_skeleton_message_equals_the_full_render(recipient, monkeypatch):
    # The message and the oracle sign their links separately: one signing instant for both, or a second
    # boundary between them would make the two timestamps differ.
    stamp = signing.TimestampSigner().timestamp()
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: stamp)
    kit = mail()
    raw = kit.build(recipient)
    message = email.message_from_bytes(raw, policy=policy.default)
    links, ref = kit.links(recipient, f"c42-{recipient['id']}")
    oracle = kit.full_render(recipient, links)
    html = body(message, "html")
    text = body(message, "plain")
    assert squash(html) == squash(kit.tracked_html(oracle.html, ref))  # folding only changes whitespace
    assert text.replace("\r\n", "\n").strip() == oracle.text.strip()
    assert message["Subject"] == oracle.subject
    assert "49" not in html.split("Bonjour", 1)[1][:40]  # a recipient's "{{ 7*7 }}" is data, printed
    unsubscribe = message["List-Unsubscribe"]
    mailto = re.search(r"<mailto:unsubscribe\+([^@>]+)@maison\.example>", unsubscribe)
    assert unsubscribe.startswith("<https://glocal.example/u/") and mailto is not None
    assert mailto.group(1) == tokens.mailto_local_part(f"c42-{recipient['id']}").split("+", 1)[1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = unsubscribe[len("<https://glocal.example/u/") :].split("/", 1)[0]
    assert tokens.read_unsubscribe_token(token).contact_id == recipient["id"]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_links_are_tracked_with_a_per_variant_token_and_a_per_recipient_reference():
    kit = mail()
    assert len(kit.tracked_links) >= 10
    raw = kit.build({"id": 5, "first_name": "A", "last_name": "B", "email": "a@example.test"})
    html = body(email.message_from_bytes(raw, policy=policy.default), "html")
    url, token = next((u, t) for u, t in kit.tracked_links.items() if "/p/1/buy" in u)
    assert f'href="{token}c42-5.' in html
    claim = tokens.read_click_token(token.split("/c/", 1)[1].split("?", 1)[0])
    assert claim.url == url
    assert "https://shop.maison.example/p/1/buy" not in html.replace(token, "")


def test_the_bench_runs():
    result = bench.r1(True)
    assert result.ours > 0 and result.reference > 0 and result.extra["mjml_compiles_per_run"] == 1


# -- headers within RFC 2047 / 5322 limits, language and title --------------------------------------

LONG_SUBJECT = (
    "Grande braderie d'été : jusqu'à −50 % sur les végétaux, arrosoirs, salons de jardin et "
    "décorations extérieures, à Saint-Étienne-du-Rouvray"
)
ACCENTED_STORE = "Jardinerie Éléonore & Frères — Saint-Étienne-du-Rouvray (Seine-Maritime), près de la gare"


def long_mail(subject: str, recipient_name: str = "") -> VariantMail:
    variant = dataclasses.replace(
        bench.make_variant(),
        subject=subject,
        store={**bench.make_variant().store, "name": ACCENTED_STORE, "country": "FR"},
    )
    return VariantMail(
        variant=variant,
        sender=Sender(
            from_name=ACCENTED_STORE,
            from_address="s-042@mail.maison.example",
            message_id_domain="mail.maison.example",
            list_id="g42.s-042.mail.maison.example",
            reply_to="lille@maison.example",
            unsubscribe_mailto="unsubscribe@mail.maison.example",
        ),
        public_url="https://glocal.example",
        campaign="g42",
        organisation_id=7,
        tracking_key=b"k" * 32,
    )


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def assert_within_limits(raw: bytes) -> None:
    for line in header_lines(raw):
        assert len(line) <= 998
        if not line.lstrip().startswith((b"<https://", b"List-Unsubscribe: <https://")):
            assert len(line) <= 78, line  # only an unbreakable URL may pass 78
        for word in re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", line):
            assert len(word) <= 75, word
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    "subject",
    [LONG_SUBJECT, "{{ recipient.first_name|fallback('Chère cliente') }}, " + LONG_SUBJECT],
    ids=["constant", "per-recipient"],
)
def test_long_french_subjects_and_accented_names_are_folded_within_rfc_limits(subject):
    kit = long_mail(subject)
    recipient = {"id": 9, "first_name": "Anne-Sophie Éloïse", "last_name": "de La Rochefoucauld-Liancourt",
                 "email": "asr@example.test"}  # fmt: skip
    raw = kit.build(recipient)
    assert_within_limits(raw)
    message = email.message_from_bytes(raw, policy=policy.default)
    expected = LONG_SUBJECT if subject == LONG_SUBJECT else "Anne-Sophie Éloïse, " + LONG_SUBJECT
    assert message["Subject"] == expected
    # Python's address parser adds a space between adjacent encoded-words (RFC 2047 says to drop the
    # whitespace there): words are cut after spaces, so only the spacing may differ for it.
    assert squash(message["From"].addresses[0].display_name) == ACCENTED_STORE
    folded = re.search(rb"\r\nFrom: (.*?) <s-042@", raw, re.S)
    assert folded is not None  # and an RFC 2047 decoder reads the exact name
    value = folded.group(1).decode().replace("\r\n", "")
    assert str(email.header.make_header(email.header.decode_header(value))) == ACCENTED_STORE
    assert message["From"].addresses[0].addr_spec == "s-042@mail.maison.example"
    assert (
        squash(message["To"].addresses[0].display_name) == "Anne-Sophie Éloïse de La Rochefoucauld-Liancourt"
    )
    assert message["To"].addresses[0].addr_spec == "asr@example.test"


def test_the_html_carries_the_store_language_and_the_subject_as_title():
    kit = long_mail(LONG_SUBJECT)
    raw = kit.build({"id": 3, "first_name": "Léa", "last_name": "", "email": "l@example.test"})
    html = body(email.message_from_bytes(raw, policy=policy.default), "html")
    assert 'lang="und"' not in html and '<html lang="fr"' in html
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None and html_module.unescape(title.group(1)) == LONG_SUBJECT
    personal = long_mail("{{ recipient.first_name }}, {{ zones.headline }}")
    raw = personal.build({"id": 4, "first_name": "Zoé <b>", "last_name": "", "email": "z@example.test"})
    html = body(email.message_from_bytes(raw, policy=policy.default), "html")
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None and title.group(1).startswith("Zoé &lt;b&gt;, ")
    german = dataclasses.replace(bench.make_variant(), store={**bench.make_variant().store, "country": "DE"})
    assert content_language(german) == "de"
