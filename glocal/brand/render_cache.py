"""The print renders a process keeps: the same document is not laid out twice.

Why: the print editor (a store's poster or letter campaign, the template's personalisation page), the
campaign page, the submission's proof and the approval queue's thumbnail all render the same variant
with WeasyPrint — two layouts when the template has a bleed (``extend_into_bleed``), the PDF, then the
page images (``pdftoppm``) — again on every request, although nothing changed: the editor's "Save"
redirects to the editor, which laid the same poster out again. Measured on the demo's A4 poster (2
shared cores, load ≈ 7): ≈ 0.3–0.7 s a view, ≈ 1.1–1.6 s for a worker's first print page (WeasyPrint's
import — cffi parsing Pango's declarations, ``find_library`` — and fontconfig's first scan).

A render is keyed by everything it depends on: the complete HTML document (content, store details,
brand kit, signed image URLs — an image's URL names its version, which never changes), the page options,
and who renders it (organisation, node, the store the print is for: the fetcher's rule for images). Two
bounded LRU maps (items and bytes), shared by a worker's threads. :func:`warm_up` loads WeasyPrint and
its fonts when a web worker starts (``config/wsgi.py``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class BoundedCache:
    """A least-recently-used map bounded by its number of items and the bytes its values hold."""

    def __init__(self, max_items: int, max_bytes: int, ttl: float) -> None:
        self.max_items, self.max_bytes, self.ttl = max_items, max_bytes, ttl
        self._items: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[2] < time.monotonic():
                self._bytes -= found[1]
                del self._items[key]
                found = None
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: str, value: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size, time.monotonic() + self.ttl)
            self._bytes += size
            while len(self._items) > self.max_items or self._bytes > self.max_bytes:
                _key, (_value, dropped, _expires) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


# A render is kept 10 minutes at most: an image taken out of a store's reach since (moved, deleted) is
# refused again by then. Tests turn the cache off (GLOCAL_PRINT_RENDER_CACHE: their ids and in-memory
# files are reused from one test to the next).
TTL = 600
RENDERS = BoundedCache(max_items=48, max_bytes=96 * 1024 * 1024, ttl=TTL)  # PDF and its facts, per document
PAGE_IMAGES = BoundedCache(max_items=48, max_bytes=32 * 1024 * 1024, ttl=TTL)  # PNG pages, per PDF


def enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "GLOCAL_PRINT_RENDER_CACHE", True))


def digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def cached(cache: BoundedCache, key: str, make: Callable[[], T], size: Callable[[T], int]) -> T:
    """``make()``'s value, from ``cache`` when it holds ``key`` (and the cache is on)."""
    if not enabled():
        return make()
    found = cache.get(key)
    if found is not None:
        return found
    value = make()
    cache.put(key, value, size(value))
    return value


def clear() -> None:
    RENDERS.clear()
    PAGE_IMAGES.clear()


def warm_up() -> None:
    """Load WeasyPrint and lay out a line of text (fonts found), so that a web worker's first print page
    does not pay it. Never fails: a print page would say what is wrong."""
    try:
        from weasyprint import HTML

        HTML(string="<p>Glocal</p>").render().write_pdf()
    except Exception:  # noqa: BLE001, S110 - best effort at start-up
        pass
