"""Reads on the network, always through scoped managers."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from .models import Entity, Membership


@dataclass
class TreeNode:
    entity: Entity
    children: list[TreeNode] = field(default_factory=list)
    local_count: int = 0  # active local entities (stores) in this subtree


def entity_tree(*, include_inactive: bool = False, query: str = "") -> list[TreeNode]:
    """The visible part of the network as a forest (one root per scope: the user's node)."""
    qs = Entity.objects.select_related("entity_type").order_by("depth", "name")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    entities = list(qs)
    nodes = {e.pk: TreeNode(e) for e in entities}
    roots: list[TreeNode] = []
    for e in entities:
        parent = nodes.get(e.parent_id) if e.parent_id else None
        (parent.children if parent else roots).append(nodes[e.pk])
    for e in sorted(entities, key=lambda x: -x.depth):
        node = nodes[e.pk]
        node.local_count = sum(c.local_count for c in node.children) + (
            1 if e.entity_type.is_local and e.is_active else 0
        )
    if query:
        needle = query.lower()

        def prune(node: TreeNode) -> TreeNode | None:
            kept = [c for c in (prune(child) for child in node.children) if c]
            hit = (
                needle in node.entity.name.lower()
                or needle in node.entity.code.lower()
                or (needle in node.entity.city.lower())
            )
            if hit or kept:
                return TreeNode(node.entity, kept, node.local_count)
            return None

        roots = [r for r in (prune(root) for root in roots) if r]
    return roots


def network_stats() -> dict[str, int]:
    return Entity.objects.aggregate(
        entities=Count("id", filter=Q(is_active=True)),
        local=Count("id", filter=Q(is_active=True, entity_type__is_local=True)),
        inactive=Count("id", filter=Q(is_active=False)),
    )


def people_in_scope(*, query: str = "", include_inactive: bool = False) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("user", "entity").order_by("entity__path", "user__email")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if query:
        qs = qs.filter(
            Q(user__email__icontains=query)
            | Q(user__full_name__icontains=query)
            | Q(entity__name__icontains=query)
        )
    return qs


def entity_choices(*, local_only: bool = False, active_only: bool = True) -> QuerySet[Entity]:
    qs = Entity.objects.select_related("entity_type").order_by("path")
    if active_only:
        qs = qs.filter(is_active=True)
    if local_only:
        qs = qs.filter(entity_type__is_local=True)
    return qs
