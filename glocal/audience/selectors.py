"""Reads on the audience, always through scoped managers (a store sees only the contacts it owns).

Building blocks for segments and campaigns: :func:`reachable_contacts` (consent × opposition list ×
a usable address) and :func:`audience_counts_by_store` (every store's counts in one GROUP BY).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, FilteredRelation, OuterRef, Q, QuerySet

from glocal.core.scope import get_scope
from glocal.network.models import Entity

from .models import POSITIVE, Channel, Contact, OwnershipTransfer, Suppression, consent_field

PAGE_SIZE = 50
COUNT_CAP = 10_000


# ---------------------------------------------------------------------------------------------------
# Reachability


def address_q(channel: str) -> Q:
    """The contact has an address usable on ``channel``."""
    if channel == Channel.EMAIL:
        return ~Q(email="")
    if channel in (Channel.SMS, Channel.PHONE):
        return ~Q(mobile="")
    return ~Q(address_line1="") & ~Q(postcode="")


def suppressed_q(channel: str) -> Q:
    """For WHERE clauses: the contact's email or mobile hash is on the opposition list for
    ``channel`` (a correlated EXISTS, which PostgreSQL runs as a hash anti-join under NOT).
    In aggregates (FILTER clauses) use :func:`with_suppression` instead: a join, not a probe per row."""

    def on_list(column: str) -> Exists:
        return Exists(
            Suppression.unscoped.filter(
                organisation_id=OuterRef("organisation_id"), channel=channel, value_hash=OuterRef(column)
            )
        )

    if channel == Channel.EMAIL:
        return Q(on_list("email_hash"))
    if channel in (Channel.SMS, Channel.PHONE):
        return Q(on_list("mobile_hash"))
    return Q(on_list("email_hash")) | Q(on_list("mobile_hash"))


def reachable_q(channel: str) -> Q:
    """For WHERE clauses: consent, a usable address and not on the opposition list."""
    return consent_q(channel) & address_q(channel) & ~suppressed_q(channel)


def with_suppression(queryset: QuerySet[Contact], channel: str) -> tuple[QuerySet[Contact], Q]:
    """``queryset`` LEFT JOINed to the opposition list for ``channel``, and the condition "is on it".

    One hash join per identifier (``Contact.email_suppressions`` / ``mobile_suppressions`` filtered
    on the channel, so at most one row each), instead of a probe per row and per use."""
    paths = {
        Channel.EMAIL: ("email_suppressions",),
        Channel.SMS: ("mobile_suppressions",),
        Channel.PHONE: ("mobile_suppressions",),
        Channel.POSTAL: ("email_suppressions", "mobile_suppressions"),
    }[Channel(channel)]
    condition = Q()
    relations = {}
    for path in paths:
        alias = f"_{path}_{channel}"
        relations[alias] = FilteredRelation(path, condition=Q(**{f"{path}__channel": channel}))
        condition |= Q(**{f"{alias}__id__isnull": False})
    return queryset.annotate(**relations), condition


def consent_q(channel: str) -> Q:
    return Q(**{f"{consent_field(channel)}__in": [s.value for s in POSITIVE]})


def reachable_contacts(channel: str, queryset: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """The contacts of the scope (or of ``queryset``) that marketing may address on ``channel``.

    Senders must still call ``services.is_suppressed`` right before each message (objections that
    arrive after the audience was computed)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    qs, suppressed = with_suppression(queryset if queryset is not None else Contact.objects.all(), channel)
    return qs.filter(consent_q(channel) & address_q(channel) & ~suppressed)


# ---------------------------------------------------------------------------------------------------
# Counts for every store at once


@dataclass
class StoreCounts:
    owner_id: int
    total: int
    reachable: int  # consent × address × not suppressed
    consented: int  # consent on the channel, whatever the rest
    suppressed: int
    matching: int  # the criterion (``criteria``) among reachable ones


def audience_counts_by_store(
    queryset_or_criteria: QuerySet[Contact] | Q | dict[str, Any] | None, channel: str
) -> dict[int, StoreCounts]:
    """Per owning entity: contacts, consented, suppressed, reachable, and reachable matching the
    criterion — in ONE GROUP BY over the scope's contacts, never store by store.

    ``queryset_or_criteria``: a Contact queryset (already filtered: counted as the criterion), a Q or
    a dict of field lookups (the criterion), or None (every contact matches).
    """
    rows = counts_queryset(queryset_or_criteria, channel)
    return {r["owner_id"]: StoreCounts(**r) for r in rows}


def counts_queryset(queryset_or_criteria: QuerySet[Contact] | Q | dict[str, Any] | None, channel: str) -> Any:
    """The single GROUP BY query behind :func:`audience_counts_by_store`."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    base = Contact.objects.all()
    criterion = Q()
    if isinstance(queryset_or_criteria, QuerySet):
        base = queryset_or_criteria
    elif isinstance(queryset_or_criteria, Q):
        criterion = queryset_or_criteria
    elif isinstance(queryset_or_criteria, dict):
        criterion = Q(**queryset_or_criteria)
    base, suppressed = with_suppression(base, channel)
    reachable = consent_q(channel) & address_q(channel) & ~suppressed
    return (
        base.values("owner_id")
        .annotate(
            total=Count("pk"),
            consented=Count("pk", filter=consent_q(channel)),
            suppressed=Count("pk", filter=suppressed),
            reachable=Count("pk", filter=reachable),
            matching=Count("pk", filter=reachable & criterion),
        )
        .order_by()
    )


# ---------------------------------------------------------------------------------------------------
# The contact list


@dataclass
class Page:
    contacts: list[Contact]
    next_cursor: str  # "" on the last page


def filtered_contacts(
    *,
    query: str = "",
    kind: str = "",
    channel: str = "",
    tag: str = "",
    owner: Entity | None = None,
) -> QuerySet[Contact]:
    """The scope's contacts matching the list filters (``owner``, an entity of the scope, narrows to
    one store or region)."""
    from . import services

    qs = Contact.objects.all()
    node_id = owner.pk if owner is not None else get_scope().entity_id
    if owner is not None:
        qs = qs.filter(owner_path__startswith=owner.path)
    if not Entity.unscoped.filter(parent_id=node_id).exists():
        # A leaf (a store): its subtree is itself, and owner equality walks the
        # (organisation, owner, last_name, id) index in page order.
        qs = qs.filter(owner_id=node_id)
    if kind:
        qs = qs.filter(kind=kind)
    if channel in Channel.values:
        qs = reachable_contacts(channel, qs)
    if tag:
        qs = qs.filter(tags__contains=f"|{tag.strip().lower()}|")
    query = query.strip()
    if query:
        if "@" in query:
            qs = qs.filter(email__startswith=query.lower())
        elif sum(ch.isdigit() for ch in query) >= 6:
            try:
                qs = qs.filter(mobile=services.normalise_mobile(query))
            except Exception:  # not a phone number after all: search the digits as text
                qs = qs.filter(mobile__contains="".join(ch for ch in query if ch.isdigit()))
        else:
            words = query.split()
            for word in words[:3]:
                qs = qs.filter(
                    Q(last_name__istartswith=word)
                    | Q(first_name__istartswith=word)
                    | Q(email__startswith=word.lower())
                )
    return qs


def encode_cursor(contact: Contact) -> str:
    return f"{contact.last_name}\x1f{contact.pk}"


def contact_page(qs: QuerySet[Contact], cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """Keyset pagination on (last_name, id): constant time on any page, no COUNT."""
    qs = qs.select_related("owner").order_by("last_name", "id")
    if cursor and "\x1f" in cursor:
        last_name, _sep, raw_id = cursor.rpartition("\x1f")
        if raw_id.isdigit():
            qs = qs.filter(Q(last_name__gt=last_name) | Q(last_name=last_name, id__gt=int(raw_id)))
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(contacts=rows, next_cursor=encode_cursor(rows[-1]) if more and rows else "")


def capped_count(qs: QuerySet[Contact], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, capped): never counts more than ``cap`` + 1 rows."""
    n = qs.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


def transfer_log(
    *, store: Entity | None = None, since: Any = None, until: Any = None
) -> QuerySet[OwnershipTransfer]:
    """The ownership transfers the scope took part in, newest first: into or out of a node under the
    acting entity (HQ: the whole network). Unscoped on purpose: ``OwnershipTransfer.objects`` follows the
    contact's current owner, whereas a store must also see the contacts it lost. A contact's creation
    (its first owner) is not a move and is left out."""
    scope = get_scope()
    qs = OwnershipTransfer.unscoped.filter(organisation_id=scope.organisation_id, from_entity__isnull=False)
    qs = qs.filter(
        Q(from_entity__path__startswith=scope.entity_path) | Q(to_entity__path__startswith=scope.entity_path)
    )
    if store is not None:
        qs = qs.filter(Q(from_entity=store) | Q(to_entity=store))
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    return qs.select_related("contact", "from_entity", "to_entity", "actor").order_by("-created_at", "-id")
