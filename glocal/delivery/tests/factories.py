"""Builders for the access matrix (tests/test_access_matrix.py): delivery objects of one store, created
unscoped, returning the URL kwargs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from glocal.audience.models import Contact
from glocal.campaigns.tests.factories import make_campaign
from glocal.delivery import tokens, tracking
from glocal.delivery.models import Message

Builder = Callable[[Any], dict]


def _message(store: Any) -> Message:
    campaign_id = make_campaign(store_attr="")(_Holder(store))["pk"]
    contact = Contact.unscoped.create(
        organisation=store.organisation, owner=store, owner_path=store.path, email=f"m{store.pk}@example.test"
    )
    return Message.unscoped.create(
        organisation=store.organisation,
        entity=store,
        entity_path=store.path,
        campaign_id=campaign_id,
        contact=contact,
        channel="email",
        to_address=contact.email,
        stable_id=f"g{campaign_id}-{contact.pk}",
        not_before=timezone.now(),
    )


class _Holder:
    """Lets ``make_campaign`` build for a given store."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return self._store


def make_message(store_attr: str) -> Builder:
    return lambda n: {"pk": _message(getattr(n, store_attr)).pk}


def unsubscribe_kwargs(store_attr: str) -> Builder:
    def build(n: Any) -> dict:
        message = _message(getattr(n, store_attr))
        token = tokens.unsubscribe_token(
            contact_id=int(message.contact_id or 0),
            organisation_id=message.organisation_id,
            channel="email",
            message_id=message.stable_id,
        )
        return {"token": token}

    return build


def click_kwargs(n: Any) -> dict:
    return {"token": tokens.click_token(message_id="g1", link_index=0, url="https://example.test/offre")}


def open_kwargs(store_attr: str) -> Builder:
    return lambda n: {"ref": tracking.make_ref(_message(getattr(n, store_attr)).stable_id)}
