"""Social posts: square and story PNGs with the store's details, brand colours and library background."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

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
