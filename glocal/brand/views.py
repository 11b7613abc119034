"""Library, asset, brand-kit pages, and the print/social outputs of a template for a store.

Thin: forms validate, services write, selectors read. Objects come from scoped managers: another
store's or organisation's ids answer 404 exactly like missing ones. Files are served through these
views (never from a public media URL), so the same visibility rule applies to every byte.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.core.forms import add_validation_errors
from glocal.core.http import ScopedRequest
from glocal.core.roles import Action
from glocal.core.views_base import scoped
from glocal.creatives import selectors as creative_selectors
from glocal.network.models import Entity

from . import printing, selectors, services, social, usage
from .forms import AssetEditForm, FolderForm, KitForm, LibrarySettingsForm, UploadForm, VersionUploadForm
from .models import Asset, AssetVersion, BrandKit, Folder

MAX_READ = 60 * 1_048_576


_add_errors = add_validation_errors


def _read(upload: Any) -> bytes:
    return upload.read(MAX_READ + 1)


@scoped(Action.ASSET_VIEW)
def library(request: ScopedRequest) -> HttpResponse:
    folder = None
    folder_id = request.GET.get("folder", "")
    if folder_id.isdigit():
        folder = get_object_or_404(Folder.objects.all(), pk=int(folder_id))
    tag = request.GET.get("tag", "")[:40]
    query = request.GET.get("q", "")[:100]
    context = {
        "folders": selectors.folders(),
        "folder": folder,
        "tags": selectors.tags(),
        "tag": tag,
        "query": query,
        "assets": selectors.assets(folder=folder, tag=tag, query=query)[:200],
        "can_manage": services.can_manage(),
        "can_upload": services.can_manage() or services.can_upload_locally(),
    }
    template = "brand/_grid.html" if request.htmx and not request.htmx.boosted else "brand/library.html"
    return render(request, template, context)


@scoped(Action.ASSET_MANAGE)
def folder_create(request: ScopedRequest) -> HttpResponse:
    form = FolderForm(request.POST or None, initial={"entity": request.scope.entity_id})
    if request.method == "POST" and form.is_valid():
        try:
            folder = services.folder_create(
                entity=form.cleaned_data["entity"], name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The folder was created."))
            return redirect(f"{request.path.rsplit('folders/', 1)[0]}?folder={folder.pk}")
    return render(request, "brand/form.html", {"form": form, "title": _("New folder")})


@scoped(Action.ASSET_VIEW)
def upload(request: ScopedRequest) -> HttpResponse:
    manage = services.can_manage()
    if not manage and not services.can_upload_locally():
        raise PermissionDenied
    # HQ roles pick a folder of their subtree; a store's photos always go to its own folder.
    folders = Folder.objects.filter(entity__path__startswith=request.scope.entity_path, is_local=False)
    initial = {"folder": int(request.GET["folder"])} if request.GET.get("folder", "").isdigit() else {}
    form = UploadForm(
        request.POST or None,
        request.FILES or None,
        folders=folders.order_by("entity__depth", "name") if manage else None,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            asset = services.asset_upload(
                folder=data.get("folder") if manage else None,
                name=data["name"],
                data=_read(data["file"]),
                filename=data["file"].name,
                kind=data["kind"],
                tags=data["tags"],
                alt_text=data["alt_text"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The file was added to the library."))
            return redirect("brand:asset", pk=asset.pk)
    return render(request, "brand/form.html", {"form": form, "title": _("Upload"), "multipart": True})


def _asset(pk: int) -> Asset:
    return get_object_or_404(Asset.objects.select_related("folder__entity", "current", "entity"), pk=pk)


def _writable(asset: Asset) -> bool:
    try:
        services._check_folder_writable(asset.folder)
    except PermissionDenied:
        return False
    return True


@scoped(Action.ASSET_VIEW)
def asset_detail(request: ScopedRequest, pk: int) -> HttpResponse:
    asset = _asset(pk)
    writable = _writable(asset)
    form = AssetEditForm(
        request.POST or None,
        initial={
            "name": asset.name,
            "alt_text": asset.alt_text,
            "tags": ", ".join(t.name for t in asset.tags.all()),
        },
    )
    if request.method == "POST":
        if not writable:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.asset_update(asset=asset, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("brand:asset", pk=asset.pk)
    context = {
        "asset": asset,
        "versions": selectors.versions(asset),
        "usages": selectors.usages(asset),
        "form": form,
        "version_form": VersionUploadForm(),
        "writable": writable,
    }
    return render(request, "brand/asset.html", context)


@require_POST
@scoped(Action.ASSET_VIEW)
def asset_version(request: ScopedRequest, pk: int) -> HttpResponse:
    asset = _asset(pk)
    if not _writable(asset):
        raise PermissionDenied
    form = VersionUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            version = services.asset_new_version(
                asset=asset, data=_read(form.cleaned_data["file"]), filename=form.cleaned_data["file"].name
            )
        except ValidationError as exc:
            for errors in getattr(exc, "message_dict", {"file": exc.messages}).values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, _("Version %(number)s added.") % {"number": version.number})
    else:
        messages.error(request, _("Choose a file."))
    return redirect("brand:asset", pk=asset.pk)


def _version(request: ScopedRequest, asset: Asset) -> AssetVersion:
    number = request.GET.get("v", "")
    if number.isdigit():
        return get_object_or_404(AssetVersion.objects.filter(asset=asset), number=int(number))
    if asset.current is None:
        raise Http404
    return asset.current


def _serve(field: Any, content_type: str, *, download: bool, name: str) -> FileResponse:
    try:
        handle = field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type, as_attachment=download, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@scoped(Action.ASSET_VIEW)
def asset_file(request: ScopedRequest, pk: int) -> HttpResponse:
    asset = _asset(pk)
    version = _version(request, asset)
    ext = str(version.file.name).rsplit(".", 1)[-1]
    return cast(
        HttpResponse,
        _serve(
            version.file,
            version.content_type,
            download=not version.is_image,
            name=f"{asset.name}-v{version.number}.{ext}",
        ),
    )


@scoped(Action.ASSET_VIEW)
def asset_thumbnail(request: ScopedRequest, pk: int) -> HttpResponse:
    asset = _asset(pk)
    version = _version(request, asset)
    if not version.thumbnail:
        raise Http404
    is_png = str(version.thumbnail.name).endswith(".png")
    thumbnail = _serve(
        version.thumbnail, "image/png" if is_png else "image/jpeg", download=False, name="thumbnail"
    )
    return cast(HttpResponse, thumbnail)


def public_file(request: HttpRequest, token: str) -> FileResponse:
    """An image version by its signed token (email clients and the print renderer load these). The
    signature is the authorisation: the lookup is unscoped on purpose, a bad token answers 404."""
    version_id = usage.version_id_from_token(token)
    version = AssetVersion.unscoped.filter(pk=version_id).first() if version_id else None
    if version is None or not version.is_image:
        raise Http404
    return _serve(version.file, version.content_type, download=False, name=f"image.{version.file.name[-3:]}")


@scoped(Action.ASSET_MANAGE)
def library_settings(request: ScopedRequest) -> HttpResponse:
    current = selectors.library_settings()
    form = LibrarySettingsForm(
        request.POST or None,
        initial={
            "allow_local_uploads": current.allow_local_uploads,
            "max_upload_mb": current.max_upload_mb,
            "max_dimension": current.max_dimension,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.library_settings_save(**form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("brand:settings")
    return render(request, "brand/form.html", {"form": form, "title": _("Library settings")})


@scoped(Action.BRAND_MANAGE)
def kit(request: ScopedRequest) -> HttpResponse:
    nodes = selectors.kit_nodes()
    node_id = request.GET.get("node", "") or request.POST.get("node", "")
    node = get_object_or_404(nodes, pk=int(node_id)) if node_id.isdigit() else nodes.first()
    if node is None:
        raise Http404
    own = BrandKit.objects.filter(entity=node).first()
    initial: dict[str, Any] = {}
    if own is not None:
        initial = {
            "colours": ", ".join(own.colours),
            "fonts": own.fonts[0] if own.fonts else "",
            "logo": own.logo_id,
            **{
                n: getattr(own, n)
                for n in ("legal_mentions", "footer", "sender_name", "sender_email", "reply_to")
            },
        }
    form = KitForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.brand_kit_save(entity=node, data=form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The brand kit was saved."))
            return redirect(f"{request.path}?node={node.pk}")
    effective = selectors.effective_kit(node)
    return render(
        request,
        "brand/kit.html",
        {
            "form": form,
            "node": node,
            "nodes": nodes,
            "effective": effective,
            "inherits": node.parent_id is not None,
        },
    )


# -- print and social outputs of a template for a store ----------------------------------------


def _template_for_store(request: ScopedRequest, pk: int, channel: str) -> tuple[Any, Entity]:
    template = get_object_or_404(creative_selectors.templates().filter(channel=channel), pk=pk)
    version = template.published_version()
    if version is None:
        raise Http404
    stores = creative_selectors.personalisable_stores(template)
    store_id = request.GET.get("store", "")
    if store_id.isdigit():
        store = get_object_or_404(stores, pk=int(store_id))
    else:
        found = stores.filter(pk=request.scope.entity_id).first() or stores.first()
        if found is None:
            raise Http404
        store = found
    return version, store


@scoped(Action.TEMPLATE_VIEW)
def print_pdf(request: ScopedRequest, pk: int) -> HttpResponse:
    version, store = _template_for_store(request, pk, "print")
    variant = creative_selectors.build_variant(
        version, store, creative_selectors.stored_values(version, store)
    )
    kit_ctx, images = printing.variant_assets(variant)
    result = printing.render_print(
        variant,
        sample_recipient(),
        {},
        kit=kit_ctx,
        images=images,
        bleed=request.GET.get("bleed") == "1",
    )
    response = HttpResponse(result.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="print-{pk}-{store.pk}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def sample_recipient() -> dict[str, Any]:
    from glocal.creatives import rendering

    recipient = rendering.sample_recipient()
    recipient.update({"address": "12 rue des Lilas", "postcode": "59000"})
    return recipient


@scoped(Action.TEMPLATE_VIEW)
def social_png(request: ScopedRequest, pk: int) -> HttpResponse:
    fmt = request.GET.get("format", "square")
    if fmt not in social.SIZES:
        raise Http404
    version, store = _template_for_store(request, pk, "social")
    variant = creative_selectors.build_variant(
        version, store, creative_selectors.stored_values(version, store)
    )
    rendered = social.render_social_channel(variant, {}, {})
    post = getattr(rendered, "post", None)
    if post is None or fmt not in post.images:
        raise Http404
    response = HttpResponse(post.images[fmt], content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    return response
