"""Unsubscribe and click tokens: round trip, tamper → rejected, purposes kept apart, replays harmless."""

from __future__ import annotations

from typing import Any

import pytest

from glocal.delivery.tokens import (
    ClickClaim,
    InvalidToken,
    UnsubscribeClaim,
    click_token,
    read_click_token,
    read_unsubscribe_token,
    unsubscribe_token,
)


def make_unsub(**overrides: Any) -> str:
    values: dict[str, Any] = {
        "contact_id": 42,
        "organisation_id": 7,
        "channel": "email",
        "message_id": "m-42-0001",
    }
    return unsubscribe_token(**(values | overrides))


def test_unsubscribe_round_trip_and_replay_gives_the_same_claim():
    token = make_unsub()
    expected = UnsubscribeClaim(42, 7, "email", "m-42-0001")
    assert read_unsubscribe_token(token) == expected
    assert read_unsubscribe_token(token) == expected  # a replay reads the same, changes nothing more
    assert "42" not in token.split(":")[-1]
    assert all(ch.isalnum() or ch in "-_:." for ch in token)  # fits a URL path without escaping


def test_tampered_tokens_are_rejected():
    token = make_unsub()
    payload, signature = token.rsplit(":", 1)
    for bad in (
        payload + ":" + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        payload[:-1] + ("A" if payload[-1] != "A" else "B") + ":" + signature,
        make_unsub(contact_id=43).rsplit(":", 1)[0] + ":" + signature,  # another contact, old signature
        token[:-5],
        "",
        "garbage",
    ):
        with pytest.raises(InvalidToken):
            read_unsubscribe_token(bad)


def test_key_is_derived_from_secret_key(settings):
    token = make_unsub()
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(token)
    settings.SECRET_KEY_FALLBACKS = [old_key]  # rotation: tokens signed with the old key stay valid
    assert read_unsubscribe_token(token).contact_id == 42


def test_purposes_are_separate():
    click = click_token(message_id="m-1", link_index=0, url="https://shop.example/wine")
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(click)
    with pytest.raises(InvalidToken):
        read_click_token(make_unsub())


def test_click_round_trip_binds_the_url():
    token = click_token(message_id="m-1", link_index=3, url="https://shop.example/wine?x=1&y=é")
    assert read_click_token(token) == ClickClaim("m-1", 3, "https://shop.example/wine?x=1&y=é")
    other = click_token(message_id="m-1", link_index=3, url="https://evil.example/")
    forged = other.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    with pytest.raises(InvalidToken):
        read_click_token(forged)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "/relative", "ftp://x.example/", "https://a.example/\r\nX: y"]
)
def test_click_tokens_only_for_absolute_http_links(url):
    with pytest.raises(ValueError):
        click_token(message_id="m-1", link_index=0, url=url)


def test_unknown_channel_refused():
    with pytest.raises(ValueError):
        make_unsub(channel="fax")
