"""Network pages: tree, entity profile, moves, groups, settings, import. Thin: forms + services. (The
home pages are the pages shell's: ``glocal.web``.)"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.core import jobs
from glocal.core.http import ScopedRequest
from glocal.core.models import AuditEvent
from glocal.core.roles import Action, role_allows
from glocal.core.views_base import scoped

from . import selectors, services
from .forms import DAY_LABELS, CustomFieldForm, EntityForm, GroupForm, ImportForm, LocalFieldsForm, MoveForm
from .models import DAYS, CustomFieldDefinition, Entity, EntityGroup, Membership, Organisation


@scoped(Action.NETWORK_VIEW)
def tree(request: ScopedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    include_inactive = request.GET.get("inactive") == "1"
    context = {
        "roots": selectors.entity_tree(include_inactive=include_inactive, query=query),
        "stats": selectors.network_stats(),
        "query": query,
        "include_inactive": include_inactive,
    }
    if request.htmx:
        return render(request, "network/_tree.html", context)
    return render(request, "network/tree.html", context)


@scoped(Action.NETWORK_VIEW)
def entity_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    entity = get_object_or_404(Entity.objects.select_related("entity_type", "parent"), pk=pk)
    role = request.scope.role
    children = (
        Entity.objects.filter(parent=entity).select_related("entity_type").order_by("-is_active", "name")
    )
    context = {
        "entity": entity,
        "children": children,
        "ancestors": Entity.objects.filter(pk__in=entity.ancestor_ids).order_by("depth"),
        "groups": entity.groups.all(),
        "team": Membership.objects.filter(entity=entity, is_active=True).select_related("user"),
        "custom_values": [
            (cf.label, entity.custom.get(cf.key, "")) for cf in CustomFieldDefinition.objects.all()
        ],
        "can_edit": bool(services.editable_fields(entity, role)),
        "opening_hours": [
            (DAY_LABELS[day], entity.opening_hours[day])
            for day in DAYS
            if day in (entity.opening_hours or {})
        ],
        "history": AuditEvent.objects.filter(entity=entity).select_related("actor")[:20],
    }
    return render(request, "network/entity_detail.html", context)


def _entity_form(request: ScopedRequest, entity: Entity, data: Any = None, files: Any = None) -> EntityForm:
    role = request.scope.role
    return EntityForm(
        data,
        files,
        instance=entity,
        editable=services.editable_fields(entity, role),
        custom_defs=list(CustomFieldDefinition.objects.all()),
        local_custom_only=not role_allows(role, Action.ENTITY_EDIT_ALL),
    )


@scoped(Action.ENTITY_EDIT_LOCAL)
def entity_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    entity = get_object_or_404(Entity, pk=pk)
    role = request.scope.role
    if request.method == "POST":
        form = _entity_form(request, entity, request.POST, request.FILES)
        # A field the role may not edit is refused loudly, never silently dropped.
        forbidden = {
            EntityForm.model_name_of(k)
            for k in request.POST
            if k not in form.fields and k != "csrfmiddlewaretoken"
        }
        if forbidden:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.entity_update(entity=entity, changes=form.changes(), by_role=role)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The profile was saved."))
                return redirect("network:entity", pk=entity.pk)
    else:
        form = _entity_form(request, entity)
    return render(request, "network/entity_form.html", {"form": form, "entity": entity})


@scoped(Action.ENTITY_CREATE)
def entity_create(request: ScopedRequest, pk: int) -> HttpResponse:
    parent = get_object_or_404(Entity, pk=pk, is_active=True)
    blank = Entity(organisation_id=parent.organisation_id, timezone=parent.timezone, country=parent.country)
    if request.method == "POST":
        form = _entity_form(request, blank, request.POST, request.FILES)
        if form.is_valid():
            fields = form.changes()
            try:
                entity = services.entity_create(parent=parent, fields=fields)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The entity was created."))
                return redirect("network:entity", pk=entity.pk)
    else:
        form = _entity_form(request, blank)
    return render(request, "network/entity_form.html", {"form": form, "parent": parent})


@scoped(Action.ENTITY_MOVE)
def entity_move(request: ScopedRequest, pk: int) -> HttpResponse:
    entity = get_object_or_404(Entity, pk=pk)
    form = MoveForm(request.POST or None, entity=entity)
    if request.method == "POST" and form.is_valid():
        try:
            services.entity_move(entity=entity, new_parent=form.cleaned_data["new_parent"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The entity was moved."))
            return redirect("network:entity", pk=entity.pk)
    return render(request, "network/entity_move.html", {"form": form, "entity": entity})


@require_POST
@scoped(Action.ENTITY_DEACTIVATE)
def entity_deactivate(request: ScopedRequest, pk: int) -> HttpResponse:
    entity = get_object_or_404(Entity, pk=pk)
    try:
        if request.POST.get("reactivate"):
            services.entity_reactivate(entity=entity)
            messages.success(request, _("The entity was reactivated."))
        else:
            services.entity_deactivate(entity=entity)
            messages.success(request, _("The entity was deactivated. Its history is kept."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("network:entity", pk=entity.pk)


@scoped(Action.NETWORK_VIEW)
def group_list(request: ScopedRequest) -> HttpResponse:
    groups = EntityGroup.objects.all()
    return render(request, "network/group_list.html", {"groups": groups})


@scoped(Action.GROUP_MANAGE)
def group_edit(request: ScopedRequest, pk: int | None = None) -> HttpResponse:
    scope = request.scope
    group = (
        get_object_or_404(EntityGroup, pk=pk) if pk else EntityGroup(organisation_id=scope.organisation_id)
    )
    form = GroupForm(request.POST or None, instance=group)
    if request.method == "POST" and form.is_valid():
        services.group_save(group=form.save(commit=False), entities=form.cleaned_data["entities"])
        messages.success(request, _("The group was saved."))
        return redirect("network:groups")
    return render(request, "network/group_form.html", {"form": form, "group": group})


@scoped(Action.NETWORK_SETTINGS)
def network_settings(request: ScopedRequest) -> HttpResponse:
    scope = request.scope
    org = Organisation.objects.get(pk=scope.organisation_id)
    local_form = LocalFieldsForm(
        request.POST or None, initial={"fields_": org.locally_editable_fields}, prefix="local"
    )
    field_form = CustomFieldForm(
        request.POST or None, prefix="cf", instance=CustomFieldDefinition(organisation=org)
    )
    if request.method == "POST":
        if "local-submit" in request.POST and local_form.is_valid():
            services.local_fields_set(organisation=org, fields=local_form.cleaned_data["fields_"])
            messages.success(request, _("Settings saved."))
            return redirect("network:settings")
        if "cf-submit" in request.POST and field_form.is_valid():
            services.custom_field_add(field=field_form.save(commit=False))
            messages.success(request, _("Custom field added."))
            return redirect("network:settings")
    return render(
        request,
        "network/settings.html",
        {
            "local_form": local_form,
            "field_form": field_form,
            "custom_fields": CustomFieldDefinition.objects.all(),
        },
    )


@scoped(Action.NETWORK_IMPORT)
def network_import(request: ScopedRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        # Streamed to storage (never read whole); the job reads it as a stream too.
        name = default_storage.save(f"uploads/{uuid.uuid4().hex}.csv", form.cleaned_data["file"])
        job = jobs.enqueue(
            "network.import",
            scope=request.scope,
            params={
                "upload": name,
                "dry_run": form.cleaned_data["dry_run"],
                "filename": form.cleaned_data["file"].name,
            },
            by_user_id=request.user.pk,
        )
        return redirect("core:job", pk=job.pk)
    return render(request, "network/import.html", {"form": form})
