"""The per-variant byte skeleton produces the same messages as creatives' full render, cheaply."""

from __future__ import annotations

import email
import importlib
import re
from email import policy
from typing import Any

import pytest
from django.core import signing

from glocal.brand.email_skeleton import FastSigner, Sender, VariantMail
from glocal.delivery import tokens

bench = importlib.import_module("bench.bench_render")


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
def test_skeleton_message_equals_the_full_render(recipient):
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
    assert (
        unsubscribe.startswith("<https://glocal.example/u/")
        and "mailto:unsubscribe@maison.example" in unsubscribe
    )
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
