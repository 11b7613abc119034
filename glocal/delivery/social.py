"""Social deliveries: a store's social export, a zip of its social posts rendered with its own details.

The templates to render are chosen like the print kit's (:func:`printbatch.store_templates`,
:func:`printbatch.campaign_items`, :func:`printbatch.operation_items`), and the zip and its
``contents.csv`` are written by the same helpers (every CSV cell start-neutralised). Everything runs in
the active scope: the store, the templates and the images are read through scoped managers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glocal.brand import social as brand_social
from glocal.creatives.models import Channel, ChannelTemplate, TemplateVersion
from glocal.network.models import Entity

from .printbatch import CONTENTS_HEADER, KitItem, _Names, _variant, csv_bytes, kit_items, pack_zip


def store_social_export(
    *, entity: Entity, templates: Iterable[ChannelTemplate | TemplateVersion | KitItem]
) -> bytes:
    """A zip of the store's social posts: per template ``<stem>-square.png`` (1080×1080),
    ``<stem>-story.png`` (1080×1920) and ``<stem>.txt`` (the caption, UTF-8), with the store's details
    and personalisation, and ``contents.csv``. Other channels are ignored."""
    files: dict[str, bytes] = {}
    rows: list[list[Any]] = []
    names = _Names()
    for item in kit_items(templates):
        if item.template.channel != Channel.SOCIAL:
            continue
        stem = names.stem(item)
        rendered = brand_social.render_social_channel(_variant(item, entity), {}, {})
        post = getattr(rendered, "post", None)
        problems = "; ".join(e.text for e in rendered.errors)
        if post is None:
            rows.append(["", item.template.name, item.version.number, "social", 0, problems])
            continue
        for fmt, png in post.images.items():
            files[f"{stem}-{fmt}.png"] = png
            rows.append([f"{stem}-{fmt}.png", item.template.name, item.version.number, fmt, 1, problems])
        files[f"{stem}.txt"] = (post.caption + "\n").encode("utf-8")
        rows.append([f"{stem}.txt", item.template.name, item.version.number, "caption", 1, problems])
    files["contents.csv"] = csv_bytes(CONTENTS_HEADER, rows)
    return pack_zip(files)
