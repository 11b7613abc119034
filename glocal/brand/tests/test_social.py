"""Social posts: square and story PNGs with the store's details, brand colours and library background."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from glocal.brand import social
from glocal.brand.tests.factories import SOCIAL_SOURCE, SOCIAL_ZONES, make_asset_for, publish_template
from glocal.core.scope import activate
from glocal.creatives import rendering, selectors
from glocal.creatives.zones import Zone


def test_square_and_story_sizes_with_brand_colours():
    variant = rendering.Variant(
        channel="social",
        source="{{ zones.headline }} — {{ store.name }}",
        zones=[Zone(key="headline", type="short_text")],
        values={"headline": "Soldes"},
        store={"name": "Magasin A", "city": "Lille"},
    )
    post = social.render_post(
        variant, kit={"primary": "#123456", "secondary": "#ffffff", "accent": "#ff0000"}
    )
    assert post.caption == "Soldes — Magasin A"
    square = Image.open(io.BytesIO(post.images["square"]))
    story = Image.open(io.BytesIO(post.images["story"]))
    assert (square.format, square.size, story.size) == ("PNG", (1080, 1080), (1080, 1920))
    assert square.getpixel((5, 5)) == (0x12, 0x34, 0x56)  # background: the primary colour
    assert square.getpixel((5, 1080 - 150 + 3)) == (255, 0, 0)  # accent rule above the store band


def test_zone_values_are_data_in_the_caption():
    variant = rendering.Variant(
        channel="social",
        source="{{ zones.headline }}",
        zones=[Zone(key="headline", type="short_text")],
        values={"headline": "{{ ''.__class__.__mro__ }}"},
        store={"name": "A"},
    )
    assert social.render_post(variant, formats=()).caption == "{{ ''.__class__.__mro__ }}"


@pytest.mark.django_db
def test_social_template_uses_the_library_background_per_store(network, login):
    photo = make_asset_for(network.hq, local=False, width=400)
    zones = [dict(z) for z in SOCIAL_ZONES]
    zones[1]["default"] = str(photo.pk)
    template = publish_template(network, network.hq, "social", SOCIAL_SOURCE, zones)
    version = template.published_version()
    assert version is not None
    with activate(network.scope("store_b")):
        rendered: Any = selectors.preview(version, network.store_b, {}).rendered
    assert rendered.errors == []
    assert rendered.text == "Nouvelle collection — Magasin B, Nice #S-B"
    square = Image.open(io.BytesIO(rendered.post.images["square"]))
    pixel: Any = square.getpixel((5, 5))
    r, g, b = pixel[:3]
    assert (r, g, b) != (0x1F, 0x51, 0x35) and r > g  # the (darkened) pink photo, not the plain colour
    response = login(network, "store_a").get(
        reverse("brand:social_png", kwargs={"pk": template.pk}) + "?format=story"
    )
    assert response["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (1080, 1920)


@pytest.mark.django_db
def test_social_live_preview_shows_both_formats(network, login):
    template = publish_template(network, network.hq, "social", SOCIAL_SOURCE, SOCIAL_ZONES)
    page = (
        login(network, "store_a")
        .post(
            reverse("creatives:preview", kwargs={"pk": template.pk}),
            {"store": network.store_a.pk, "z_headline": "Vente privée"},
        )
        .content.decode()
    )
    assert 'data-testid="social-preview"' in page and page.count("data:image/png;base64,") == 2
    assert "Vente privée — Magasin A, Lille" in page


# ---------------------------------------------------------------------------------------------------
# Text fitted to its box: a store's whole name and the offer, never cut


def _demo_longest_name() -> str:
    from glocal.demo.generator import generate_network

    # The demo network (30 stores) and the largest one the seed makes in the docs (500 stores).
    return max((e.name for n in (30, 500) for e in generate_network(stores=n)), key=len)


SIXTY = "Maison Verte Saint-Rémy-de-Provence Boulevard Marceau Nord 1"
OFFER = "Nouvelle collection printemps\u00a0: -20\u00a0% sur tout le magasin"


def _assert_inside(draw: ImageDraw.ImageDraw, block: social.TextBlock) -> None:
    left, top, right, bottom = block.box
    for line, origin in zip(block.lines, block.origins, strict=True):
        x0, y0, x1, y1 = draw.textbbox(origin, line, font=block.font)
        assert left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, (line, (x0, y0, x1, y1), block.box)


@pytest.mark.parametrize("fmt", ["square", "story"])
@pytest.mark.parametrize("name", ["demo", SIXTY])
def test_the_store_name_and_the_offer_fit_their_boxes_whole(fmt, name):
    name = _demo_longest_name() if name == "demo" else name
    assert len(SIXTY) == 60 and len(name) >= 48
    draw = ImageDraw.Draw(Image.new("RGB", social.SIZES[fmt]))
    placed = social.layout(draw, fmt=fmt, headline=OFFER, store_name=name, subline="Villeneuve-d'Ascq")
    for block in placed.blocks.values():
        _assert_inside(draw, block)
        assert " ".join(block.lines) == block.text  # every word, in order: nothing cut
        assert not any("…" in line for line in block.lines)
    shown = placed.blocks["name"]
    style = social.NAME[fmt]
    assert shown.lines and len(shown.lines) <= style.max_lines and shown.font.size >= style.minimum
    assert shown.box[1] >= placed.band_top and shown.box[3] <= placed.height  # in the store band
    assert placed.blocks["headline"].box[3] <= placed.band_top  # the offer stays above it
    # a no-break space holds its words together: no line starts with ":" or "%"
    assert not any(line.startswith((":", "%")) for line in placed.blocks["headline"].lines)


@pytest.mark.parametrize("fmt", ["square", "story"])
def test_the_rendered_name_keeps_to_the_band_margins(fmt):
    """On the PNG itself: the band's side margins hold no ink, and the band grew to the name's lines."""
    name = _demo_longest_name()
    png = social.render_image(fmt=fmt, headline="Soldes", store_name=name, kit={}, subline="Lille")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    draw = ImageDraw.Draw(Image.new("RGB", image.size))
    placed = social.layout(draw, fmt=fmt, headline="Soldes", store_name=name, subline="Lille")
    primary = (0x1F, 0x51, 0x35)
    band = range(placed.band_top + social.STRIPE + 1, height)
    for x in (*range(0, social.MARGIN - 2), *range(width - social.MARGIN + 2, width)):
        assert all(image.getpixel((x, y)) == primary for y in band[::3]), x
    inked = [y for y in band if any(image.getpixel((x, y)) != primary for x in range(0, width, 4))]
    assert inked and max(inked) - min(inked) > placed.blocks["name"].font.size  # more than one line


def test_a_name_too_long_for_any_size_is_shown_whole_smaller():
    draw = ImageDraw.Draw(Image.new("RGB", (1080, 1080)))
    name = "Maison Verte " + " ".join(f"Quartier{i}" for i in range(20))
    font, lines = social.fit_text(draw, name, 936, 200, social.NAME["square"])
    assert " ".join(lines) == name and font.size < social.NAME["square"].minimum
    assert all(draw.textbbox((0, 0), line, font=font)[2] <= 936 for line in lines)
