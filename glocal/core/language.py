"""Which language a recipient sees: the recipient's own, else the store's, else the organisation's.

Whatever a customer or a visitor reads (an email, an SMS, a printed letter, a social post, the
unsubscribe and preference pages, the public lead forms and their confirmation messages) is rendered
inside ``translation.override(recipient_language(contact, entity))`` — never in the language that
happens to be active in the process: an English worker, the HQ marketer's session, a visitor's browser.
So a preview, a proof and the message sent to the same recipient are the same text.

- the recipient's: ``Contact.language`` (or a ``"language"`` key of a recipient dict), when it is one of
  the site's languages (``settings.LANGUAGES``; "fr-FR" and "FR" read as "fr");
- else the store's: its ``language`` when it has one, else its country's (FR, BE, CH… → French);
- else the organisation's (``Organisation.language``), else the site's default.

The kernel imports no app: the objects are read by their attributes (a contact, an entity with its
``organisation``), or plain dicts (a recipient context, a store context).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.utils import translation

# The language a store's country speaks (the first of its official ones the network writes in).
LANGUAGES_BY_COUNTRY = {
    "FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr", "CH": "fr", "RE": "fr", "GP": "fr", "MQ": "fr",
    "GF": "fr", "YT": "fr", "PM": "fr", "NC": "fr", "PF": "fr", "BL": "fr", "MF": "fr", "WF": "fr",
    "GB": "en", "IE": "en", "US": "en", "CA": "en", "AU": "en", "NZ": "en",
    "DE": "de", "AT": "de", "ES": "es", "IT": "it", "PT": "pt", "NL": "nl",
}  # fmt: skip


def supported(code: Any) -> str | None:
    """``code`` as one of the site's languages ("fr-FR", "FR", "fr_fr" → "fr"), or None."""
    if not code or not isinstance(code, str):
        return None
    known = {lang for lang, _name in settings.LANGUAGES}
    text = code.strip().replace("_", "-").lower()
    for candidate in (text, text.split("-")[0]):
        if candidate in known:
            return candidate
    return None


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def organisation_language(organisation: Any) -> str:
    """The organisation's language (an ``Organisation`` or a dict with ``language``), else the site's."""
    return supported(_get(organisation, "language")) or supported(settings.LANGUAGE_CODE) or "en"


def entity_language(entity: Any, organisation: Any = None) -> str:
    """A store's language: its own (``language``), else its country's, else its organisation's
    (``organisation`` when given, else ``entity.organisation``), else the site's default."""
    found = supported(_get(entity, "language")) or supported(
        LANGUAGES_BY_COUNTRY.get(str(_get(entity, "country") or "").upper())
    )
    if found:
        return found
    if organisation is None and entity is not None and not isinstance(entity, dict):
        organisation = getattr(entity, "organisation", None)
    return organisation_language(organisation)


def recipient_language(contact: Any, entity: Any = None, organisation: Any = None) -> str:
    """The language ``contact`` reads (a ``Contact``, a recipient dict, or None for an unknown visitor):
    theirs, else the store's (``entity``), else the organisation's."""
    return supported(_get(contact, "language")) or entity_language(entity, organisation)


@contextlib.contextmanager
def speaking(language: str | None) -> Iterator[str | None]:
    """``translation.override(language)``, or nothing when no language is given (the caller's stays)."""
    if not language:
        yield None
        return
    with translation.override(language):
        yield language


def for_recipient(contact: Any, entity: Any = None, organisation: Any = None) -> Any:
    """``with for_recipient(contact, store):`` — render what ``contact`` reads in their language."""
    return speaking(recipient_language(contact, entity, organisation))
