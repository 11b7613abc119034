"""Image zones' rules: allowed formats, a minimum width, a maximum weight — declared by HQ, checked when a
store picks an image (the error names the rules), and only the images that fit are offered."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from glocal.brand import usage
from glocal.brand.models import AssetVersion
from glocal.brand.tests.factories import make_asset_for, publish_template
from glocal.core.scope import activate
from glocal.creatives import carry, forms, zones
from glocal.creatives import services as creative_services

RULES = {"key": "photo", "type": "image", "label": "Photo", "formats": ["jpeg", "png"], "min_width": 600}
RULES["max_kb"] = 500
NBSP = "\u00a0"


def zone(**attributes: object) -> zones.Zone:
    data = {k: v for k, v in {**RULES, **attributes}.items() if v is not None}  # None: without it
    parsed, errors = zones.parse_zones([data])
    assert errors == []
    return parsed[0]


def test_the_rules_are_parsed_and_written_back():
    photo = zone()
    assert (photo.formats, photo.min_width, photo.max_kb) == (("jpeg", "png"), 600, 500)
    assert photo.as_dict() == RULES
    assert zones.parse_zones([photo.as_dict()])[0] == [photo]


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"formats": ["bmp"]}, "formats must be a list among jpeg, png, webp, gif"),
        ({"formats": []}, "formats must be a list"),
        ({"formats": ["png", "png"]}, "formats must be a list"),
        ({"min_width": "600"}, "min_width must be a whole number between 1 and 10000"),
        ({"min_width": 0}, "min_width must be a whole number"),
        ({"max_kb": True}, "max_kb must be a whole number between 1 and 50000"),
        ({"type": "short_text"}, "formats, min_width, max_kb applies to image zones"),
    ],
)
def test_bad_rules_are_refused_at_authoring(attributes, fragment):
    _zones, errors = zones.parse_zones([{**RULES, **attributes}])
    assert [e.code for e in errors] == ["zone_bad_image_rule"] * len(errors) and errors
    assert any(fragment in e.text for e in errors)


def test_the_rules_are_one_sentence_in_the_readers_language():
    with translation.override("en"):
        assert zones.image_rules_text(zone()) == (
            "This zone accepts JPEG or PNG images at least 600 px wide, at most 500 KB."
        )
        assert zones.image_rules_text(zone(formats=["webp"], min_width=None, max_kb=None)) == (
            "This zone accepts WebP images."
        )
    with translation.override("fr"):
        assert zones.image_rules_text(zone()) == (
            f"Cette zone accepte des images JPEG ou PNG d’au moins 600{NBSP}px de large, "
            f"de 500{NBSP}Ko au plus."
        )
    assert zones.image_rules_text(zones.parse_zones([{"key": "p", "type": "image"}])[0][0]) == ""


def test_an_image_fits_when_it_meets_every_rule():
    photo = zone()
    assert zones.image_fits(photo, zones.ImageInfo("jpeg", 800, 400 * 1024))
    assert not zones.image_fits(photo, zones.ImageInfo("gif", 800, 1000))  # format
    assert not zones.image_fits(photo, zones.ImageInfo("png", 599, 1000))  # width
    assert not zones.image_fits(photo, zones.ImageInfo("png", 800, 500 * 1024 + 1))  # weight
    assert zones.ImageInfo.from_content_type("image/webp", 10, 5) == zones.ImageInfo("webp", 10, 5)


def test_a_new_version_lists_the_changed_rules():
    changes = carry.zone_changes(zone(), zone(formats=["png"], min_width=800))
    assert [(c.attribute, c.before, c.after) for c in changes] == [
        ("formats", "jpeg · png", "png"),
        ("min_width", "600", "800"),
    ]


@pytest.fixture
def photos(network):
    """HQ's social template with a ruled image zone; a store's images: one that fits, three that do not."""
    template = publish_template(network, network.hq, "social", "{{ zones.photo }}", [RULES])
    made = {
        "fits": make_asset_for(network.store_a, name="Grande", width=800),
        "narrow": make_asset_for(network.store_a, name="Etroite", width=300),
        "heavy": make_asset_for(network.store_a, name="Lourde", width=800),
        "gif": make_asset_for(network.store_a, name="Animee", width=800),
    }
    AssetVersion.unscoped.filter(asset__in=made.values()).update(size_bytes=100 * 1024)
    AssetVersion.unscoped.filter(asset=made["heavy"]).update(size_bytes=900 * 1024)
    AssetVersion.unscoped.filter(asset=made["gif"]).update(content_type="image/gif")
    return template, made


@pytest.mark.django_db
def test_a_store_is_offered_only_the_images_that_fit(network, photos):
    template, made = photos
    version = template.published_version()
    assert version is not None
    with activate(network.scope("store_a")):
        offered = [pk for pk, _label in usage.image_choices(zone())]
        form = forms.PersonalisationForm(zones=zones.parse_zones(version.zones)[0], role="local_manager")
        in_form = [pk for pk, _label in form.fields[forms.ZONE_PREFIX + "photo"].choices if pk]  # type: ignore[attr-defined]
        info = usage.image_info(str(made["heavy"].pk))
    assert offered == [str(made["fits"].pk)]
    assert in_form == offered
    assert info == zones.ImageInfo("png", 800, 900 * 1024)


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["narrow", "heavy", "gif"])
def test_a_store_picking_an_image_that_breaks_the_rules_is_told_them(network, photos, which):
    template, made = photos
    version = template.published_version()
    assert version is not None
    with activate(network.scope("store_a")), translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            creative_services.personalisation_save(
                version=version, entity=network.store_a, values={"photo": str(made[which].pk)}
            )
        saved = creative_services.personalisation_save(
            version=version, entity=network.store_a, values={"photo": str(made["fits"].pk)}
        )
    assert refused.value.message_dict == {
        "photo": ["“Photo”: This zone accepts JPEG or PNG images at least 600 px wide, at most 500 KB."]
    }
    assert saved.values == {"photo": str(made["fits"].pk)}
