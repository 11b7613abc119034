"""Per-message references in tracking URLs: ``STABLE_ID.MAC`` (the first 16 hex digits of an HMAC of the
stable id), so that opens and clicks are attributed to a message without a database lookup per link, and a
forged reference is refused.

The key is derived from ``SECRET_KEY``; :class:`glocal.delivery.email_skeleton.VariantMail` computes the same
MAC per recipient.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def tracking_key() -> bytes:
    secret = settings.SECRET_KEY
    raw = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(b"glocal.delivery.tracking.v1" + raw).digest()


def make_ref(stable_id: str) -> str:
    mac = hmac.new(tracking_key(), stable_id.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{stable_id}.{mac}"


def read_ref(ref: str) -> str | None:
    """The stable id of a genuine reference, else None."""
    stable_id, sep, mac = ref.rpartition(".")
    if not sep or not stable_id or len(stable_id) > 64:
        return None
    expected = hmac.new(tracking_key(), stable_id.encode(), hashlib.sha256).hexdigest()[:16]
    return stable_id if hmac.compare_digest(expected, mac) else None
