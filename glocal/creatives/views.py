"""Template pages: HQ list/editor/publish, the store's personalisation screen with live preview.

Thin: forms validate, services write, selectors read. Objects come from scoped managers: another
store's or organisation's ids answer 404 exactly like missing ones.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.roles import Action, Role, role_allows
from glocal.core.views_base import scoped
from glocal.network.models import Entity

from . import blocks as blocklib
from . import carry, hooks, rendering, selectors, services
from . import zones as zonelib
from .forms import (
    EDITOR_BLOCKS,
    EDITOR_MJML,
    PersonalisationForm,
    SettingsForm,
    TemplateCreateForm,
    VersionForm,
)
from .models import Channel, ChannelTemplate, Personalisation, SavedBlock, TemplateVersion
from .widgets import rich_buttons, rich_labels

PREVIEW_WIDTHS = {"desktop": 640, "mobile": 375}


def _add_errors(form: Any, exc: ValidationError) -> None:
    add_validation_errors(form, exc, field_prefix="z_")  # a zone's field is named z_<key>


@scoped(Action.TEMPLATE_VIEW)
def template_list(request: ScopedRequest) -> HttpResponse:
    return render(request, "creatives/template_list.html", {"templates": selectors.templates()})


@scoped(Action.TEMPLATE_MANAGE)
def template_create(request: ScopedRequest) -> HttpResponse:
    form = TemplateCreateForm(request.POST or None, initial={"entity": request.scope.entity_id})
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(
                channel=form.cleaned_data["channel"],
                name=form.cleaned_data["name"],
                entity=form.cleaned_data["entity"],
                description=form.cleaned_data["description"],
                approval_policy=form.cleaned_data["approval_policy"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The template was created."))
            return redirect("creatives:edit", pk=template.pk)
    return render(request, "creatives/template_create.html", {"form": form})


def _can_manage(request: ScopedRequest, template: ChannelTemplate) -> bool:
    return role_allows(request.scope.role, Action.TEMPLATE_MANAGE) and request.scope.covers_path(
        template.entity.path
    )


@scoped(Action.TEMPLATE_VIEW)
def template_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    published = template.published_version()
    zone_defs, _errors = zonelib.parse_zones(published.zones if published else [])
    can_manage = _can_manage(request, template)
    draft = selectors.draft_of(template) if can_manage else None
    active = template.status != ChannelTemplate.Status.ARCHIVED
    context = {
        "template": template,
        "versions": selectors.versions(template),
        "published": published,
        "zones": zone_defs,
        "can_manage": can_manage,
        "can_personalise": role_allows(request.scope.role, Action.TEMPLATE_PERSONALISE),
        # Before publishing: the draft's checks, what changes, and each store's values carried over.
        "plan": selectors.publish_plan(template, draft) if draft is not None and active else None,
        "personalisations": Personalisation.objects.filter(version__template=template)
        .select_related("entity", "version", "carried_from")
        .order_by("entity__name", "-version__number")[:200],
    }
    return render(request, "creatives/template_detail.html", context)


def _store_from(request: ScopedRequest, template: ChannelTemplate, value: Any) -> Entity | None:
    stores = selectors.personalisable_stores(template)
    if value in (None, ""):
        own = stores.filter(pk=request.scope.entity_id).first()
        return own
    try:
        return stores.get(pk=int(value))
    except (ValueError, TypeError, Entity.DoesNotExist):
        raise Http404 from None


def _editor(request: ScopedRequest, template: ChannelTemplate, version: TemplateVersion) -> str:
    """The editor a page or a POST works in: asked for (``editor`` posted, ``?mode=``), else the block
    editor for an email version that has blocks, else MJML."""
    if template.channel != Channel.EMAIL:
        return EDITOR_MJML
    asked = request.POST.get("editor") or request.GET.get("mode")
    if asked in (EDITOR_BLOCKS, EDITOR_MJML):
        return asked
    return EDITOR_BLOCKS if version.blocks is not None else EDITOR_MJML


def _block_document(template: ChannelTemplate, version: TemplateVersion) -> Any:
    """The document the block editor opens: the version's, else (back to blocks from MJML written by
    hand) the latest version's that has one, else a blank page."""
    if version.blocks is not None:
        return version.blocks
    earlier = selectors.versions(template).filter(blocks__isnull=False).order_by("-number").first()
    return earlier.blocks if earlier is not None else blocklib.blank_document()


def _version_initial(template: ChannelTemplate, version: TemplateVersion) -> dict[str, Any]:
    return {
        "source": version.source,
        "subject": version.subject,
        "preheader": version.preheader,
        "text": version.text,
        "zones_json": json.dumps(version.zones, indent=2, ensure_ascii=False),
        "blocks_json": json.dumps(_block_document(template, version), ensure_ascii=False),
    }


def _save_data(form: VersionForm, version: TemplateVersion) -> dict[str, Any]:
    """What the editor saves. MJML saved unchanged from its blocks keeps them (looking at the MJML is
    not editing it by hand); any hand edit leaves the block editor for this version."""
    data = form.version_data()

    def same(text: str) -> str:
        return text.replace("\r\n", "\n").strip()

    unchanged = (
        same(data.get("source", "")) == same(version.source) and data.get("zones_data") == version.zones
    )
    if form.editor == EDITOR_MJML and version.blocks is not None and unchanged:
        data["blocks"] = version.blocks
    return data


@scoped(Action.TEMPLATE_MANAGE)
def template_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    version = template.latest_version()
    if version is None:  # every template is created with a first version
        raise Http404
    editor = _editor(request, template, version)
    initial = _version_initial(template, version)
    form = VersionForm(request.POST or None, initial=initial, channel=template.channel, editor=editor)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.version_save(template=template, **_save_data(form, version))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Draft v%(n)s saved.") % {"n": version.number})
            if "publish" in request.POST:
                return template_publish(request, pk)
            return redirect("creatives:edit", pk=template.pk)
    stores = selectors.personalisable_stores(template)
    store = _store_from(request, template, request.GET.get("store")) or stores.first()
    preview = selectors.preview(version, store, {}) if store else None
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    context = {
        "template": template,
        "version": version,
        "form": form,
        "zones": zone_defs,
        "stores": stores[:500],
        "store": store,
        "preview": preview,
        "widths": PREVIEW_WIDTHS,
        "editor": editor,
        # MJML written by hand: the block view is gone for this version ("back to blocks" discards it).
        "expert": template.channel == Channel.EMAIL and version.blocks is None,
    }
    if editor == EDITOR_BLOCKS:
        context.update(block_editor_context())
    return render(request, "creatives/template_edit.html", context)


def block_editor_context() -> dict[str, Any]:
    """The block editor's palette, saved blocks, words and choices (read by blockeditor.js)."""
    library = hooks.image_library()
    images = library.choices(zonelib.Zone(key="image", type="image")) if library is not None else []
    saved = SavedBlock.objects.select_related("entity")[:200]
    return {
        "palette": [(kind, blocklib.TYPE_LABELS[kind]) for kind in ("section", *blocklib.CONTENT_TYPES)],
        "saved_blocks": [(block, json.dumps(block.block, ensure_ascii=False)) for block in saved],
        "block_config": block_words(images),
    }


def block_words(images: list[tuple[str, str]]) -> dict[str, Any]:
    """blockeditor.js's words (in the reader's language) and choices: no JavaScript catalogue needed."""
    return {
        "types": {kind: str(label) for kind, label in blocklib.TYPE_LABELS.items()},
        "images": [{"value": value, "label": label} for value, label in images],
        "roles": [{"value": role, "label": str(Role(role).label)} for role in zonelib.ROLES],
        "formats": list(blocklib.IMAGE_FORMATS),
        "brand": list(blocklib.BRAND_COLOURS),
        "rich": {
            "buttons": " ".join(rich_buttons(zonelib.RICH_TAGS)),
            "tags": " ".join(sorted(zonelib.RICH_TAGS)),
            "schemes": " ".join(sorted(zonelib.RICH_URL_SCHEMES)),
            "labels": rich_labels(),
        },
        "words": {
            "moveUp": _("Move up"),
            "moveDown": _("Move down"),
            "remove": _("Remove"),
            "duplicate": _("Duplicate"),
            "saveBlock": _("Save this block for reuse"),
            "saveName": _("Name of the saved block"),
            "properties": _("Properties"),
            "add": _("Add %(block)s"),
            "insert": _("Insert"),
            "dropHere": _("Drag blocks here, or use the Add buttons."),
            "emptyPage": _("A blank page: drag a block here, or use the Add buttons."),
            "column": _("Column %(n)s"),
            "columns": _("Columns"),
            "section": _("Section %(n)s"),
            "moved": _("Moved."),
            "removed": _("Removed."),
            "added": _("%(block)s added."),
            "background": _("Background colour"),
            "padding": _("Padding (px)"),
            "colourHelp": _("Like #1f5135, or brand.primary, brand.secondary, brand.accent (the brand kit)."),
            "html": _("Text"),
            "align": _("Alignment"),
            "left": _("Left"),
            "center": _("Centre"),
            "right": _("Right"),
            "color": _("Text colour"),
            "size": _("Text size (px)"),
            "asset": _("Image from the library"),
            "none": _("— none —"),
            "src": _("Or an image address (https://…)"),
            "alt": _("Alternative text"),
            "href": _("Link (https://…)"),
            "width": _("Width (px)"),
            "label": _("Label"),
            "buttonColour": _("Button colour"),
            "product": _("Product %(n)s"),
            "addProduct": _("Add a product"),
            "removeProduct": _("Remove the last product"),
            "name": _("Name"),
            "price": _("Price"),
            "title": _("Title"),
            "mapLabel": _("Map link text"),
            "phoneLabel": _("Phone label"),
            "height": _("Height (px)"),
            "thickness": _("Thickness (px)"),
            "editable": _("Stores may edit this"),
            "lockedNote": _("Off: head office's content, locked."),
            "zoneLabel": _("Zone label"),
            "zoneKey": _("Zone key"),
            "zoneKeyHelp": _("Derived from the label; used as {{ zones.<key> }}."),
            "roles": _("Who may edit (none ticked: everyone who personalises)"),
            "required": _("Required"),
            "maxLength": _("Maximum length (characters)"),
            "formats": _("Allowed formats"),
            "minWidth": _("Minimum width (px)"),
            "maxKb": _("Maximum size (KB)"),
            "unsubscribe": _("Unsubscribe link text"),
            "footer": _(
                "Footer, always added: the store's name and postal address, and the unsubscribe link."
            ),
            "storeCard": _("The store's name, address, opening hours, phone and map link."),
            "social": _("The store's Facebook and Instagram pages (shown when the store has them)."),
            # A new block's first content.
            "newText": _("Your text"),
            "newButton": _("Discover"),
            "newMap": _("Directions"),
            "newPhone": _("Phone:"),
            "newUnsubscribe": _("Unsubscribe"),
        },
    }


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def draft_preview(request: ScopedRequest, pk: int) -> HttpResponse:
    """The editor's live preview: the unsaved source and zones (or blocks, compiled), rendered for the
    store chosen in the editor's form."""
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    version = template.latest_version()
    editor = _editor(request, template, version) if version is not None else EDITOR_MJML
    form = VersionForm(request.POST, channel=template.channel, editor=editor)
    store = _store_from(request, template, request.POST.get("store")) or (
        selectors.personalisable_stores(template).first()
    )
    problems: list[str] = []
    if not form.is_valid() or store is None:
        problems = [str(e) for errors in form.errors.values() for e in errors]
    else:
        data = form.version_data()
        if form.editor == EDITOR_BLOCKS:
            compiled, _doc, found = blocklib.compile_json(request.POST.get("blocks_json"))
            problems = [f.text for f in found]
            if compiled is not None:
                data.update(source=compiled.source, zones_data=compiled.zones)
    if problems or store is None:
        return render(request, "creatives/_draft_problems.html", {"problems": problems, "store": store})
    draft = TemplateVersion(
        organisation_id=template.organisation_id,
        template=template,
        number=0,
        source=data["source"],
        subject=data["subject"] if template.channel == Channel.EMAIL else "",
        preheader=data["preheader"] if template.channel == Channel.EMAIL else "",
        text=data["text"],
        zones=data["zones_data"],
    )
    result = selectors.preview(draft, store, {})
    return render(request, "creatives/_preview.html", {"preview": result, "widths": PREVIEW_WIDTHS})


def _published(request: ScopedRequest, version: TemplateVersion) -> None:
    """The publication's result: the version, and each store's values carried over."""
    text = _("Version %(n)s is published.") % {"n": version.number}
    summary = selectors.carry_summary(selectors.carried_into(version))
    messages.success(request, f"{text} {summary}".strip())


def _refused(request: ScopedRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def template_publish(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    try:
        version = services.version_publish(
            template=template, accept_warnings=request.POST.get("accept_warnings") == "1"
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        _published(request, version)
    return redirect("creatives:detail", pk=template.pk)


@scoped(Action.TEMPLATE_MANAGE)
def version_restore(request: ScopedRequest, pk: int, number: int) -> HttpResponse:
    """Roll back to an earlier published version: the page shows what publishing its content again
    would do (checks, changes, stores' values); the POST publishes it as a new version."""
    template = get_object_or_404(selectors.templates(), pk=pk)
    if not request.scope.covers_path(template.entity.path):
        raise PermissionDenied
    source = get_object_or_404(selectors.versions(template), number=number, published_at__isnull=False)
    if request.method == "POST":
        try:
            version = services.version_restore(
                template=template, number=number, accept_warnings=request.POST.get("accept_warnings") == "1"
            )
        except ValidationError as exc:
            _refused(request, exc)
            return redirect("creatives:restore", pk=template.pk, number=number)
        _published(request, version)
        return redirect("creatives:detail", pk=template.pk)
    copy = selectors.content_copy(template, source)
    context = {
        "template": template,
        "source": source,
        "draft": selectors.draft_of(template),
        "plan": selectors.publish_plan(template, copy),
        "current": template.published_version(),
    }
    return render(request, "creatives/restore.html", context)


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def template_archive(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    services.template_archive(template=template)
    messages.success(request, _("The template is archived."))
    return redirect("creatives:list")


def _personalise_screen(
    request: ScopedRequest, template: ChannelTemplate, version: TemplateVersion, store: Entity
) -> HttpResponse:
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    role = request.scope.role
    stored = selectors.stored_values(version, store)
    initial = {f"z_{k}": v for k, v in zonelib.resolve(zone_defs, stored).items()}
    form = PersonalisationForm(request.POST or None, initial=initial, zones=zone_defs, role=role)
    if request.method == "POST":
        if form.is_valid():
            try:
                personalisation = services.personalisation_save(
                    version=version,
                    entity=store,
                    values=form.cleaned_data["values"],
                    submit="submit" in request.POST,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if personalisation.status == Personalisation.Status.SUBMITTED:
                    messages.success(request, _("Your content was saved and submitted."))
                else:
                    messages.success(request, _("Your content was saved."))
                return redirect("creatives:personalisation", pk=personalisation.pk)
        values = _preview_values(zone_defs, stored, form.submitted_values(), role)
    else:
        values = stored
    preview = selectors.preview(version, store, values)
    saved = (
        Personalisation.objects.filter(version=version, entity=store).select_related("carried_from").first()
    )
    if template.channel == Channel.SMS:  # the text zones get the live SMS counter
        form.for_sms(preview.rendered.text or "")
    context = {
        "template": template,
        "version": version,
        "store": store,
        "stores": selectors.personalisable_stores(template)[:500],
        "form": form,
        "locked": [z for z in zone_defs if not z.editable_by(role)],
        "preview": preview,
        "widths": PREVIEW_WIDTHS,
        "recipients": rendering.SAMPLE_RECIPIENTS,
        "recipient": "camille",
        "personalisation": saved,
        # What HQ's new version could not keep of the store's content, until the store saves again.
        "dropped": carry.describe(saved.dropped) if saved else [],
    }
    return render(request, "creatives/personalise.html", context)


def _preview_values(
    zone_defs: list[zonelib.Zone], stored: dict[str, Any], submitted: dict[str, Any], role: str
) -> dict[str, Any]:
    """For a preview: stored values, overlaid with the submitted values that pass validation
    (locked, unknown and invalid ones are ignored; the form reports them)."""
    by_key = {z.key: z for z in zone_defs}
    values = dict(stored)
    for key, value in submitted.items():
        zone = by_key.get(key)
        if zone is None or not zone.editable_by(role):
            continue
        clean, errors = zonelib.validate_values([replace(zone, required=False)], {key: value}, role)
        if not errors:
            values[key] = clean.get(key, "")
    return values


@scoped(Action.TEMPLATE_PERSONALISE)
def personalise(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    version = template.published_version()
    if version is None or template.status != ChannelTemplate.Status.PUBLISHED:
        messages.error(request, _("This template has no published version to personalise."))
        return redirect("creatives:detail", pk=template.pk)
    store = _store_from(request, template, request.POST.get("store") or request.GET.get("store"))
    if store is None:
        return render(
            request,
            "creatives/pick_store.html",
            {"template": template, "stores": selectors.personalisable_stores(template)[:500]},
        )
    return _personalise_screen(request, template, version, store)


@scoped(Action.TEMPLATE_PERSONALISE)
def personalisation(request: ScopedRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(
        Personalisation.objects.select_related("version__template__entity", "entity__entity_type"), pk=pk
    )
    template = found.version.template
    # The screen always works on the latest published version (values carry over).
    version = template.published_version() or found.version
    return _personalise_screen(request, template, version, found.entity)


@require_POST
@scoped(Action.TEMPLATE_PERSONALISE)
def preview(request: ScopedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(selectors.templates(), pk=pk)
    version = template.published_version()
    if version is None:
        raise Http404
    store = _store_from(request, template, request.POST.get("store"))
    if store is None:
        raise Http404
    zone_defs, _errors = zonelib.parse_zones(version.zones)
    form = PersonalisationForm(request.POST, zones=zone_defs, role=request.scope.role)
    submitted = form.submitted_values()
    role = request.scope.role
    values = _preview_values(zone_defs, selectors.stored_values(version, store), submitted, role)
    errors = zonelib.validate_values(zone_defs, submitted, role)[1] if submitted else []
    recipient = request.POST.get("recipient", "camille")
    result = selectors.preview(version, store, values, recipient)
    return render(
        request,
        "creatives/_preview.html",
        {"preview": result, "widths": PREVIEW_WIDTHS, "zone_errors": errors, "template": template},
    )


@scoped(Action.TEMPLATE_MANAGE)
def creative_settings(request: ScopedRequest) -> HttpResponse:
    instance = selectors.settings_for(request.scope.organisation_id)
    form = SettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(
                restricted_patterns=form.cleaned_data["patterns"],
                sms_advertiser=form.cleaned_data["sms_advertiser"],
                sms_opt_out=form.cleaned_data["sms_opt_out"],
                sms_price_per_segment=form.cleaned_data["sms_price_per_segment"],
                sms_segment_limit=form.cleaned_data["sms_segment_limit"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("creatives:settings")
    return render(request, "creatives/settings.html", {"form": form, "channels": Channel})


# -- saved blocks -------------------------------------------------------------------------------------


@scoped(Action.TEMPLATE_MANAGE)
def saved_blocks(request: ScopedRequest) -> HttpResponse:
    """The blocks saved for reuse that the scope sees (its own, and its ancestors' read-only)."""
    found = SavedBlock.objects.select_related("entity", "created_by")
    rows = [(saved, request.scope.covers_path(saved.entity.path)) for saved in found]
    return render(request, "creatives/saved_blocks.html", {"rows": rows, "labels": blocklib.TYPE_LABELS})


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def saved_block_create(request: ScopedRequest) -> HttpResponse:
    """Save a block of the editor for reuse (the editor posts it with htmx and gets its palette back)."""
    error = ""
    try:
        block = json.loads(request.POST.get("block") or "null")
        services.saved_block_create(name=request.POST.get("name", ""), block=block)
    except json.JSONDecodeError:
        error = _("The block could not be read.")
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        context = {**block_editor_context(), "saved_error": error, "saved_ok": not error}
        return render(request, "creatives/_blocks_saved.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("The block is saved for reuse."))
    return redirect("creatives:saved_blocks")


@require_POST
@scoped(Action.TEMPLATE_MANAGE)
def saved_block_delete(request: ScopedRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedBlock.objects.select_related("entity"), pk=pk)
    services.saved_block_delete(saved=saved)
    messages.success(request, _("The saved block “%(name)s” is deleted.") % {"name": saved.name})
    return redirect("creatives:saved_blocks")
