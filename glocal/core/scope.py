"""The acting user's scope, and querysets that fail closed without one.

Every model holding an organisation's data uses :class:`ScopedManager` as its default manager
(``Model.objects``): its querysets are filtered by ``Model.scope_q(scope)`` for the scope active in
the current context, and raise :class:`ScopeMissing` when none is active. The scope is set by
:class:`glocal.core.middleware.ScopeMiddleware` from the session's active membership (never from the
request payload), by :func:`activate` in tasks and commands, and nowhere else.

The only escape is ``Model.unscoped`` (a plain manager): grep for ``.unscoped.`` to review each use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from django.db import models


class ScopeMissing(RuntimeError):
    """A query on tenant data ran with no active scope."""


@dataclass(frozen=True)
class Scope:
    """Who is acting, for which organisation, over which part of the network.

    ``entity_path`` is the materialised path of the node the role is granted on: the scope covers
    that node and its whole subtree.
    """

    organisation_id: int
    entity_id: int
    entity_path: str
    role: str
    user_id: int | None = None
    membership_id: int | None = None

    def covers_path(self, path: str) -> bool:
        return path.startswith(self.entity_path)


_current: ContextVar[Scope | None] = ContextVar("glocal_scope", default=None)


def current_scope() -> Scope | None:
    return _current.get()


def get_scope() -> Scope:
    scope = _current.get()
    if scope is None:
        raise ScopeMissing(
            "Tenant data queried without an active scope; use glocal.core.scope.activate() "
            "or Model.unscoped for an explicit, reviewed escape."
        )
    return scope


@contextlib.contextmanager
def activate(scope: Scope) -> Iterator[Scope]:
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


@contextlib.contextmanager
def deactivate() -> Iterator[None]:
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


M = TypeVar("M", bound=models.Model)


class ScopedManager(models.Manager[M], Generic[M]):
    """Default manager of tenant models: filtered by the active scope, raising without one."""

    def get_queryset(self) -> models.QuerySet[M]:
        scope = get_scope()
        model: Any = self.model
        return super().get_queryset().filter(model.scope_q(scope))


class TenantModel(models.Model):
    """Base for models holding an organisation's data.

    Subclasses define ``scope_q(scope)``: the condition a row must meet to be visible in ``scope``.
    The two common shapes are ready-made: inherit :class:`OrganisationOwned` or :class:`EntityOwned`
    rather than writing them again; define ``scope_q`` only for a rule of another shape.
    """

    objects: ClassVar[ScopedManager[Any]] = ScopedManager()
    unscoped: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:  # pragma: no cover - abstract
        raise NotImplementedError


class OrganisationOwned(TenantModel):
    """Tenant data visible to the whole organisation, whatever the scope's node: settings, policies,
    reference lists HQ defines (needs an ``organisation`` field).

    Pick it when every member of the organisation may read the row; write rights stay with the role
    matrix and the services."""

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return models.Q(organisation_id=scope.organisation_id)


class EntityOwned(TenantModel):
    """Tenant data owned by one node of the network (``organisation`` and ``entity`` fields): visible
    in that node's subtree only, i.e. to the scopes granted on the node or on one of its ancestors.

    Pick it for anything a store or region creates for itself. A rule that reaches through another
    relation (``campaign__entity``, ``contact__owner_path``) or that also shows ancestors' rows
    (HQ templates seen by stores) is not this shape: define ``scope_q`` on the model."""

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, scope: Scope) -> models.Q:
        return models.Q(organisation_id=scope.organisation_id, entity__path__startswith=scope.entity_path)


def system_scope(organisation_id: int, root: Any = None) -> Scope:
    """The organisation's HQ admin on its root node: the scope of jobs, commands, the delivery engine
    and the lazy deadline check (no user). ``root`` is the root entity when the caller already has it.

    The root entity is read by its app label: the kernel does not import the network app."""
    from django.apps import apps

    from glocal.core.roles import Role

    if root is None:
        entity_model: Any = apps.get_model("network", "Entity")
        root = entity_model.unscoped.get(organisation_id=organisation_id, parent__isnull=True)
    return Scope(
        organisation_id=organisation_id, entity_id=root.pk, entity_path=root.path, role=Role.HQ_ADMIN
    )
