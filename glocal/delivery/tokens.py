"""Opaque, unforgeable tokens for one-click unsubscribe and signed click redirects.

Built on :mod:`django.core.signing` (HMAC-SHA256 with a key derived from ``SECRET_KEY``, old keys from
``SECRET_KEY_FALLBACKS`` still accepted during a rotation), with one salt per purpose so that a token made
for one use is refused for the other. The payload is a compact JSON list, URL-safe base64; nothing in a
token is trusted before its signature is checked.

The mailto unsubscribe address (``List-Unsubscribe: <mailto:unsubscribe+g12-345.MAC@domain>``) cannot
carry the signed token itself: ``:`` is not allowed in an address's local part, a local part is at most 64
octets (RFC 5321) and relays may change its case. It carries the message's stable id and a truncated
HMAC-SHA256 of it (104 bits, lower-case hex, its own salt): :func:`mailto_local_part` /
:func:`read_mailto_local_part`.

Replays are harmless by design: the token carries no state change of its own. Unsubscribing twice is the
same unsubscribe (the service is idempotent) and a click redirect only ever leads to the URL that was
signed — never to a URL taken from the request, so the redirector is not an open redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

UNSUBSCRIBE_SALT = "glocal.delivery.unsubscribe.v1"
CLICK_SALT = "glocal.delivery.click.v1"
MAILTO_SALT = "glocal.delivery.mailto-unsubscribe.v1"
MAILTO_LOCAL_RE = re.compile(r"^unsubscribe\+(g\d{1,12}-p?\d{1,12})\.([0-9a-f]{26})$")
CHANNELS = ("email", "sms")


class InvalidToken(Exception):
    """Tampered, truncated, made for another purpose or with an unknown key: answer 404, log nothing."""


@dataclass(frozen=True)
class UnsubscribeClaim:
    contact_id: int
    organisation_id: int
    channel: str
    message_id: str


@dataclass(frozen=True)
class ClickClaim:
    message_id: str
    link_index: int
    url: str


def _dumps(payload: list, salt: str) -> str:
    return signing.dumps(payload, salt=salt, compress=True)


def _loads(token: str, salt: str) -> list:
    try:
        payload = signing.loads(token, salt=salt)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvalidToken from error
    if not isinstance(payload, list):
        raise InvalidToken
    return payload


def unsubscribe_token(*, contact_id: int, organisation_id: int, channel: str, message_id: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return _dumps([int(contact_id), int(organisation_id), channel, str(message_id)], UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:
    payload = _loads(token, UNSUBSCRIBE_SALT)
    try:
        contact_id, organisation_id, channel, message_id = payload
        claim = UnsubscribeClaim(int(contact_id), int(organisation_id), str(channel), str(message_id))
    except (TypeError, ValueError) as error:
        raise InvalidToken from error
    if claim.channel not in CHANNELS:
        raise InvalidToken
    return claim


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("only absolute http(s) links are tracked")
    if any(ch in url for ch in "\r\n\t\x00"):
        raise ValueError("control characters in a link")
    return url


def click_token(*, message_id: str, link_index: int, url: str) -> str:
    return _dumps([str(message_id), int(link_index), _check_url(url)], CLICK_SALT)


def read_click_token(token: str) -> ClickClaim:
    payload = _loads(token, CLICK_SALT)
    try:
        message_id, link_index, url = payload
        return ClickClaim(str(message_id), int(link_index), _check_url(str(url)))
    except (TypeError, ValueError) as error:
        raise InvalidToken from error


def mailto_hmac(secret: str | bytes) -> hmac.HMAC:
    """The keyed HMAC of mailto unsubscribe addresses for ``secret`` (copy it, then add the stable id)."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(hashlib.sha256(MAILTO_SALT.encode() + secret).digest(), digestmod=hashlib.sha256)


def mailto_mac(keyed: hmac.HMAC, stable_id: str) -> str:
    mac = keyed.copy()
    mac.update(stable_id.encode())
    return mac.hexdigest()[:26]  # 104 bits, lower-case hex (C-speed, any relay's case folding is harmless)


def mailto_local_part(stable_id: str) -> str:
    """``unsubscribe+<stable id>.<mac>``: the local part of a message's mailto unsubscribe address."""
    return f"unsubscribe+{stable_id}.{mailto_mac(mailto_hmac(settings.SECRET_KEY), stable_id)}"


def read_mailto_local_part(local_part: str) -> str:
    """The stable id named by a mailto unsubscribe local part (any case); ``InvalidToken`` otherwise.
    Keys of ``SECRET_KEY_FALLBACKS`` are accepted during a rotation."""
    found = MAILTO_LOCAL_RE.match(local_part.strip().lower())
    if found is None:
        raise InvalidToken
    stable_id, mac = found.groups()
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        if hmac.compare_digest(mailto_mac(mailto_hmac(secret), stable_id), mac):
            return stable_id
    raise InvalidToken
