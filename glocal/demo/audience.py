"""Demo step 3, contacts, consents and purchases at any scale (``glocal seed --contacts 1000000``).

Deterministic for a given seed, generated and written in batches (bulk_create) so that memory stays
flat whatever the size. Contacts are spread over the organisation's stores; consents are mixed
(opt-in, soft opt-in for customers, objections that also land on the opposition list).
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from glocal.audience.models import ConsentEvent, ConsentSource, Contact, Purchase, Suppression, hash_value
from glocal.network.models import Entity, Organisation

from . import reference
from .generator import person_name

Store = tuple[int, str, str, str]  # pk, path, postcode, city
Purchases = list[tuple[int, datetime.date, Decimal, str]]  # (store pk, date, amount, category)

BATCH = 5000
CATEGORIES = ("vin", "épicerie", "cadeaux", "jardin", "maison", "mode")
TAGS = ("vip", "vin", "famille", "bio", "fidèle")
WORDING = {
    "email": "J'accepte de recevoir les offres et actualités par email.",
    "sms": "J'accepte de recevoir les offres par SMS.",
    "postal": "J'accepte de recevoir les offres par courrier.",
}


def _ascii(text: str) -> str:
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in flat if ch.isalnum())


def mobile_number(n: int) -> str:
    """A distinct, valid French mobile number for each ``n`` < 89 million (06 39… is not allocated)."""
    x = (n * 7919 + 12345) % 89_000_000
    if x >= 39_000_000:
        x += 1_000_000
    return f"+336{x:08d}"


def seed_contacts(org: Organisation, *, count: int, seed: int) -> None:
    """Called by :func:`glocal.demo.seed.seed_demo`; nothing when ``count`` is 0."""
    if count > 0:
        generate(org, count, seed=seed)


def generate(org: Organisation, count: int, *, seed: int = 42, progress: Any = None) -> int:
    """Create ``count`` contacts for ``org`` (seeding: unscoped writes, the organisation is fixed)."""
    stores = list(
        Entity.unscoped.filter(organisation=org, entity_type__is_local=True, is_active=True)
        .order_by("pk")
        .values_list("pk", "path", "postcode", "city")
    )
    if not stores:
        stores = list(
            Entity.unscoped.filter(organisation=org, parent__isnull=True).values_list(
                "pk", "path", "postcode", "city"
            )
        )
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    start = Contact.unscoped.filter(organisation=org).count()
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        with transaction.atomic():
            _batch(org, stores, rng, start + done, size, now, today)
        done += size
        if progress:
            progress(done, count)
    return done


def _batch(
    org: Organisation,
    stores: list[Store],
    rng: random.Random,
    offset: int,
    size: int,
    now: datetime.datetime,
    today: datetime.date,
) -> None:
    contacts: list[Contact] = []
    plans: list[tuple[dict[str, str], Purchases]] = []
    for n in range(offset, offset + size):
        contact, consents, purchases = _contact(org, stores, rng, n, now, today)
        contacts.append(contact)
        plans.append((consents, purchases))
    Contact.unscoped.bulk_create(contacts, batch_size=BATCH)
    events, sales, suppressions = _ledger(org, contacts, plans)
    ConsentEvent.unscoped.bulk_create(events, batch_size=BATCH)
    Purchase.unscoped.bulk_create(sales, batch_size=BATCH)
    Suppression.unscoped.bulk_create(suppressions, batch_size=BATCH, ignore_conflicts=True)


def _contact(
    org: Organisation,
    stores: list[Store],
    rng: random.Random,
    n: int,
    now: datetime.datetime,
    today: datetime.date,
) -> tuple[Contact, dict[str, str], Purchases]:
    """The ``n``-th contact (not saved), its consents per channel and its purchases. The draws from
    ``rng`` come in a fixed order: the same seed gives the same contacts."""
    store_pk, path, postcode, city = stores[rng.randrange(len(stores))]
    first, last = person_name(rng)
    customer = rng.random() < 0.6
    email = f"{_ascii(first)}.{_ascii(last)}.{n}@example.com" if rng.random() < 0.92 else ""
    mobile = mobile_number(n) if rng.random() < 0.7 else ""
    created = now - datetime.timedelta(days=rng.randrange(1, 1500), minutes=rng.randrange(1440))
    consents = _consents(rng, email=email, mobile=mobile, customer=customer)
    purchases = _purchases(rng, stores, store_pk, today) if customer else []
    tags = "|".join(sorted({rng.choice(TAGS) for _ in range(rng.choice((0, 0, 0, 1, 2)))}))
    contact = Contact(
        organisation=org,
        owner_id=store_pk,
        owner_path=path,
        kind=Contact.Kind.CUSTOMER if customer else Contact.Kind.PROSPECT,
        first_name=first,
        last_name=last,
        email=email,
        email_hash=hash_value(email),
        mobile=mobile,
        mobile_hash=hash_value(mobile),
        address_line1=f"{rng.randrange(1, 120)} rue {rng.choice(reference.names().last_names)}",
        postcode=postcode,
        city=city,
        language="fr",
        tags=f"|{tags}|" if tags else "",
        created_at=created,
        last_activity_at=created + datetime.timedelta(days=rng.randrange(0, 300)),
        **{f"consent_{channel}": status for channel, status in consents.items()},
    )
    return contact, consents, purchases


def _consents(rng: random.Random, *, email: str, mobile: str, customer: bool) -> dict[str, str]:
    """Mixed consents: opt-in, soft opt-in (customers' email), objections, none."""
    consents: dict[str, str] = {}
    roll = rng.random()
    if email:
        if roll < 0.55:
            consents["email"] = "opt_in"
        elif roll < 0.7 and customer:
            consents["email"] = "soft_opt_in"
        elif roll < 0.8:
            consents["email"] = "opt_out"
    if mobile:
        roll = rng.random()
        consents.update({"sms": "opt_in"} if roll < 0.35 else {"sms": "opt_out"} if roll < 0.4 else {})
    if rng.random() < 0.2:
        consents["postal"] = "opt_in"
    return consents


def _purchases(rng: random.Random, stores: list[Store], store_pk: int, today: datetime.date) -> Purchases:
    """One to three purchases, most of them in the contact's own store."""
    purchases = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        where = store_pk if rng.random() < 0.85 else stores[rng.randrange(len(stores))][0]
        purchases.append(
            (
                where,
                today - datetime.timedelta(days=rng.randrange(0, 700)),
                Decimal(rng.randrange(500, 25000)) / 100,
                rng.choice(CATEGORIES),
            )
        )
    return purchases


def _ledger(
    org: Organisation, contacts: list[Contact], plans: list[tuple[dict[str, str], Purchases]]
) -> tuple[list[ConsentEvent], list[Purchase], list[Suppression]]:
    """The saved contacts' consent ledger rows, purchases and opposition-list entries (their objections)."""
    events: list[ConsentEvent] = []
    sales: list[Purchase] = []
    suppressions: list[Suppression] = []
    for contact, (consents, purchases) in zip(contacts, plans, strict=True):
        for channel, status in consents.items():
            events.append(
                ConsentEvent(
                    organisation=org,
                    contact_id=contact.pk,
                    entity_id=contact.owner_id,
                    channel=channel,
                    status=status,
                    source=ConsentSource.STORE,
                    wording="" if status == "opt_out" else WORDING[channel],
                    form_version="seed-v1",
                    created_at=contact.created_at,
                )
            )
            if status == "opt_out":
                value = contact.email_hash if channel == "email" else contact.mobile_hash
                suppressions.append(
                    Suppression(organisation=org, channel=channel, value_hash=value, reason="opt_out")
                )
        sales.extend(
            Purchase(
                organisation=org,
                contact_id=contact.pk,
                entity_id=entity_id,
                date=date,
                amount=amount,
                category=category,
            )
            for entity_id, date, amount, category in purchases
        )
    return events, sales, suppressions
