"""Files handed from a web request to a background job (kept in the default storage)."""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def save_upload(data: bytes, *, suffix: str = "") -> str:
    return default_storage.save(f"uploads/{uuid.uuid4().hex}{suffix}", ContentFile(data))


def read_upload(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()
