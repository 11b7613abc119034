"""Library rules: visibility down the tree, local photos, upload validation, versions, usage, kit."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from PIL import Image

from glocal.brand import selectors, services, usage
from glocal.brand.models import Asset, AssetUsage, AssetVersion, BrandKit, Folder
from glocal.brand.tests.factories import make_asset_for, png_bytes
from glocal.core.models import AuditEvent
from glocal.core.scope import activate

pytestmark = pytest.mark.django_db


def visible_asset_ids(network, persona):
    with activate(network.scope(persona)):
        return set(Asset.objects.values_list("pk", flat=True))


def test_folders_are_visible_down_the_tree_and_local_photos_stay_in_their_store(network):
    hq_asset = make_asset_for(network.hq, local=False)
    region_asset = make_asset_for(network.region_n, local=False)
    a_photo = make_asset_for(network.store_a)
    b_photo = make_asset_for(network.store_b)
    other = make_asset_for(network.other_hq, local=False)
    assert visible_asset_ids(network, "store_a") == {hq_asset.pk, region_asset.pk, a_photo.pk}
    assert visible_asset_ids(network, "store_b") == {hq_asset.pk, b_photo.pk}
    assert visible_asset_ids(network, "regional") == {hq_asset.pk, region_asset.pk, a_photo.pk}
    assert visible_asset_ids(network, "hq_admin") == {hq_asset.pk, region_asset.pk, a_photo.pk, b_photo.pk}
    assert visible_asset_ids(network, "other_org") == {other.pk}


def test_hq_upload_is_reencoded_with_a_thumbnail_and_tags(network):
    with activate(network.scope("hq_marketer")):
        folder = services.folder_create(entity=network.hq, name="Campagne été")
        raw = io.BytesIO()
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make; GPS and the like would go the same way
        Image.new("RGB", (1200, 800), "#336699").save(raw, "JPEG", exif=exif)
        asset = services.asset_upload(
            folder=folder, name="Plage", data=raw.getvalue(), filename="plage.jpg", tags=["Été", "plage"]
        )
        version = asset.current
        assert version is not None
        assert (version.width, version.height, version.content_type) == (1200, 800, "image/jpeg")
        assert sorted(t.name for t in asset.tags.all()) == ["plage", "été"]
        stored = Image.open(version.file.open("rb"))
        assert stored.format == "JPEG" and not stored.getexif()
        thumb = Image.open(version.thumbnail.open("rb"))
        assert max(thumb.size) == 320
        assert [a.pk for a in selectors.assets(tag="plage")] == [asset.pk]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "SVG",
        ),
        (b"<svg onload=alert(1)>", "SVG"),
        (b"GIF89a not really a gif", "not a valid image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not a valid image"),
        (b"%PDF-1.7 fake", "Only images"),
        (b"", "empty"),
    ],
)
def test_bad_uploads_are_refused_and_write_nothing(network, data, message):
    with activate(network.scope("hq_admin")):
        folder = services.folder_create(entity=network.hq, name="Divers")
        assets_before, versions_before = Asset.objects.count(), AssetVersion.objects.count()
        with pytest.raises(ValidationError) as caught:
            services.asset_upload(folder=folder, name="x", data=data, filename="x.png")
        assert message in str(caught.value)
        assert (Asset.objects.count(), AssetVersion.objects.count()) == (assets_before, versions_before)


def test_size_and_dimension_limits(network):
    with activate(network.scope("hq_admin")):
        services.library_settings_save(allow_local_uploads=False, max_upload_mb=1, max_dimension=500)
        folder = services.folder_create(entity=network.hq, name="Divers")
        with pytest.raises(ValidationError, match="too large"):
            services.asset_upload(folder=folder, name="big", data=png_bytes(600, 100))
        noisy = io.BytesIO()
        Image.frombytes("RGB", (450, 450), bytes(range(256)) * 2373 + b"\x00" * 57).save(noisy, "PNG")
        big = noisy.getvalue() + b"\x00" * (1_100_000 - len(noisy.getvalue()))
        with pytest.raises(ValidationError, match="MB"):
            services.asset_upload(folder=folder, name="heavy", data=big)
        assert Asset.objects.count() == 0


def test_new_version_keeps_the_old_one(network):
    with activate(network.scope("hq_admin")):
        folder = services.folder_create(entity=network.hq, name="Logos")
        asset = services.asset_upload(folder=folder, name="Logo", data=png_bytes(100, 50), kind="logo")
        first = asset.current
        assert first is not None
        second = services.asset_new_version(asset=asset, data=png_bytes(200, 100, "#000000"))
        asset.refresh_from_db()
        assert asset.current == second and second.number == 2
        assert [v.number for v in selectors.versions(asset)] == [2, 1]
        assert first.file.open("rb").read() != second.file.open("rb").read()


def test_local_uploads_only_when_hq_allows_and_only_in_the_store_folder(network, local_uploads):
    hq_folder = Folder.unscoped.create(organisation=network.org, entity=network.hq, name="HQ")
    with activate(network.scope("store_a")):
        photo = services.asset_upload(folder=None, name="Vitrine", data=png_bytes())
        assert photo.folder.is_local and photo.entity_id == network.store_a.pk
        with pytest.raises(PermissionDenied):
            services.asset_upload(folder=hq_folder, name="Intrus", data=png_bytes())
        with pytest.raises(PermissionDenied):
            services.asset_upload(folder=None, name="Doc", data=b"%PDF-1.4", kind="document")
    with activate(network.scope("staff_a")), pytest.raises(PermissionDenied):
        services.asset_upload(folder=None, name="Staff", data=png_bytes())
    local_uploads.allow_local_uploads = False
    local_uploads.save()
    with activate(network.scope("store_a")), pytest.raises(PermissionDenied):
        services.asset_upload(folder=None, name="Again", data=png_bytes())
    assert visible_asset_ids(network, "store_b") == set()


def test_store_upload_through_the_page(network, login, local_uploads):
    client = login(network, "store_a")
    response = client.post(
        reverse("brand:upload"),
        {"file": _upload("vitrine.png", png_bytes()), "name": "Vitrine", "kind": "image", "tags": "vitrine"},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    asset = Asset.unscoped.get(name="Vitrine")
    assert asset.entity_id == network.store_a.pk
    assert client.get(reverse("brand:file", kwargs={"pk": asset.pk})).status_code == 200
    other = login(network, "store_b")
    assert other.get(reverse("brand:asset", kwargs={"pk": asset.pk})).status_code == 404
    assert other.get(reverse("brand:file", kwargs={"pk": asset.pk})).status_code == 404


def test_svg_through_the_page_is_refused_with_a_message(network, login):
    Folder.unscoped.create(organisation=network.org, entity=network.hq, name="HQ")
    client = login(network, "hq_admin")
    folder = Folder.unscoped.get(name="HQ")
    response = client.post(
        reverse("brand:upload"),
        {"file": _upload("x.svg", b"<svg onload=alert(1)></svg>"), "folder": folder.pk, "kind": "image"},
    )
    assert response.status_code == 200
    assert "SVG files are not accepted" in response.content.decode()
    assert not Asset.unscoped.exists()


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def _snapshot():
    return (
        Asset.unscoped.count(),
        AssetVersion.unscoped.count(),
        Folder.unscoped.count(),
        BrandKit.unscoped.count(),
        AuditEvent.unscoped.count(),
    )


def test_denied_writes_change_nothing(network, login):
    photo = make_asset_for(network.store_a)
    hq_folder = Folder.unscoped.create(organisation=network.org, entity=network.hq, name="HQ")
    before = _snapshot()
    attempts = [
        ("store_a", reverse("brand:upload"), {"file": _upload("a.png", png_bytes()), "folder": hq_folder.pk}),
        ("viewer", reverse("brand:upload"), {"file": _upload("a.png", png_bytes()), "folder": hq_folder.pk}),
        ("store_a", reverse("brand:folder_create"), {"name": "X", "entity": network.store_a.pk}),
        ("store_a", reverse("brand:kit"), {"colours": "#000000", "node": network.hq.pk}),
        ("regional", reverse("brand:kit"), {"colours": "#000000", "node": network.region_n.pk}),
        (
            "staff_a",
            reverse("brand:settings"),
            {"allow_local_uploads": "on", "max_upload_mb": 5, "max_dimension": 900},
        ),
        ("viewer", reverse("brand:asset", kwargs={"pk": photo.pk}), {"name": "Renamed"}),
        (
            "staff_a",
            reverse("brand:asset_version", kwargs={"pk": photo.pk}),
            {"file": _upload("b.png", png_bytes())},
        ),
        (
            "store_b",
            reverse("brand:asset_version", kwargs={"pk": photo.pk}),
            {"file": _upload("b.png", png_bytes())},
        ),
        ("other_org", reverse("brand:asset", kwargs={"pk": photo.pk}), {"name": "Renamed"}),
    ]
    for persona, url, data in attempts:
        response = login(network, persona).post(url, data)
        assert response.status_code in (403, 404), (persona, url, response.status_code)
    assert _snapshot() == before
    photo.refresh_from_db()
    assert photo.name == "Photo"


def test_brand_kit_region_overrides_inherit_the_rest(network):
    with activate(network.scope("hq_admin")):
        services.brand_kit_save(
            entity=network.hq,
            data={
                "colours": ["#1F5135", "#ffffff"],
                "fonts": ["DejaVu Sans"],
                "sender_name": "Maison",
                "sender_email": "news@maison.test",
                "legal_mentions": "SAS Maison",
            },
        )
        services.brand_kit_save(
            entity=network.region_n, data={"colours": ["#003366"], "sender_name": "Maison Nord"}
        )
        with pytest.raises(ValidationError, match="#rrggbb"):
            services.brand_kit_save(entity=network.region_s, data={"colours": ["red;} body{x"]})
        with pytest.raises(ValidationError):
            services.brand_kit_save(entity=network.store_a, data={})
    with activate(network.scope("store_a")):
        kit = selectors.effective_kit(network.store_a)
        assert kit.colours == ["#003366"] and kit.sender_name == "Maison Nord"
        assert kit.sender_email == "news@maison.test" and kit.legal_mentions == "SAS Maison"
    with activate(network.scope("store_b")):
        kit = selectors.effective_kit(network.store_b)
        assert kit.colours == ["#1f5135", "#ffffff"] and kit.sender_name == "Maison"


def test_kit_editor_page_saves(network, login):
    client = login(network, "hq_marketer")
    response = client.post(
        reverse("brand:kit"),
        {
            "node": network.region_n.pk,
            "colours": "#112233, #445566",
            "fonts": "DejaVu Serif",
            "sender_email": "n@x.test",
        },
    )
    assert response.status_code == 302
    kit = BrandKit.unscoped.get(entity=network.region_n)
    assert kit.colours == ["#112233", "#445566"] and kit.fonts == ["DejaVu Serif"]
    page = client.get(reverse("brand:kit") + f"?node={network.region_n.pk}").content.decode()
    assert "#112233" in page


def test_library_page_filters_by_tag_and_folder(network, login):
    with activate(network.scope("hq_admin")):
        folder = services.folder_create(entity=network.hq, name="Été")
        services.asset_upload(folder=folder, name="Plage", data=png_bytes(), tags=["ete"])
        services.asset_upload(folder=folder, name="Neige", data=png_bytes(), tags=["hiver"])
    client = login(network, "store_a")
    page = client.get(reverse("brand:library") + "?tag=ete").content.decode()
    assert "Plage" in page and "Neige" not in page
    partial = client.get(reverse("brand:library") + f"?folder={folder.pk}&q=nei", HTTP_HX_REQUEST="true")
    assert "Neige" in partial.content.decode() and "<html" not in partial.content.decode()
    foreign = Folder.unscoped.create(organisation=network.other_org, entity=network.other_hq, name="Autre")
    assert client.get(reverse("brand:library") + f"?folder={foreign.pk}").status_code == 404


def test_usage_is_recorded_for_versions_and_personalisations(network):
    from glocal.brand.tests.factories import publish_template
    from glocal.creatives import services as creative_services

    photo = make_asset_for(network.hq, local=False)
    own = make_asset_for(network.store_a)
    zones = [
        {"key": "headline", "type": "short_text"},
        {"key": "photo", "type": "image", "default": str(photo.pk)},
    ]
    template = publish_template(network, network.hq, "social", "{{ zones.headline }}", zones)
    version = template.published_version()
    assert version is not None
    assert list(AssetUsage.unscoped.values_list("asset_id", "personalisation_id")) == [(photo.pk, None)]
    with activate(network.scope("store_a")):
        p = creative_services.personalisation_save(
            version=version, entity=network.store_a, values={"photo": str(own.pk)}
        )
        assert {(u.asset_id, u.personalisation_id) for u in AssetUsage.objects.all()} == {
            (photo.pk, None),
            (own.pk, p.pk),
        }
        assert [u.zone for u in selectors.usages(own)] == ["photo"]


def _jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments up to the image data (start of scan)."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers


def _png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_uploads_keep_no_metadata_comments_xmp_iptc_or_png_text(network):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plain = io.BytesIO()
    Image.new("RGB", (400, 300), "#336699").save(plain, "JPEG", icc_profile=srgb)  # applied, then dropped
    jpeg = (
        b"\xff\xd8"
        + _segment(0xFE, b"Taken at 12 rue Secrete by Jean Dupont")  # COM
        + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>Secrete</x:xmpmeta>")  # XMP
        + _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0cSecrete IPTC")  # IPTC
        + plain.getvalue()[2:]
    )
    assert {0xFE, 0xE1, 0xED} <= set(_jpeg_markers(jpeg))
    assert Image.open(io.BytesIO(jpeg)).info.get("comment")  # Pillow sees the comment
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "Secrete text")
    info.add_text("Author", "Secrete zip", zip=True)
    info.add_itxt("Description", "Secrete itxt")
    png = io.BytesIO()
    Image.new("RGBA", (300, 200), (10, 20, 30, 128)).save(png, "PNG", pnginfo=info)
    assert {b"tEXt", b"zTXt", b"iTXt"} <= set(_png_chunks(png.getvalue()))

    with activate(network.scope("hq_marketer")):
        folder = services.folder_create(entity=network.hq, name="Photos")
        photo = services.asset_upload(folder=folder, name="Photo", data=jpeg, filename="photo.jpg")
        logo = services.asset_upload(folder=folder, name="Logo", data=png.getvalue(), filename="logo.png")
        assert photo.current is not None and logo.current is not None
        stored = {
            "photo": photo.current.file.open("rb").read(),
            "photo thumbnail": photo.current.thumbnail.open("rb").read(),
            "logo": logo.current.file.open("rb").read(),
            "logo thumbnail": logo.current.thumbnail.open("rb").read(),
        }
    for name, data in stored.items():
        assert b"Secrete" not in data, name
        if data[:2] == b"\xff\xd8":
            markers = _jpeg_markers(data)
            # Only the image itself: JFIF header, tables, frame, scan (no COM, APP1..APP15).
            assert not {0xFE, *range(0xE1, 0xF0)} & set(markers), (name, markers)
            decoded = Image.open(io.BytesIO(data))
            assert not {"comment", "icc_profile", "xmp", "exif"} & set(decoded.info), name
            assert decoded.convert("RGB").getpixel((10, 10)) == pytest.approx((51, 102, 153), abs=3)
        else:
            chunks = set(_png_chunks(data))
            assert not chunks & {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}, (name, chunks)


def test_a_new_image_version_reaches_the_next_render(network):
    """The render cache is keyed on the image's current version, not on the asset id: after a new
    upload, the next preview or sent email of the same store and values shows the new file."""
    from glocal.creatives import rendering
    from glocal.creatives.zones import Zone

    rendering.clear_caches()
    source = (
        "<mjml><mj-body><mj-section><mj-column>"
        '<mj-image src="{{ zones.photo }}" alt="Photo"></mj-image>'
        "</mj-column></mj-section></mj-body></mjml>"
    )
    with activate(network.scope("hq_admin")):
        folder = services.folder_create(entity=network.hq, name="Photos")
        asset = services.asset_upload(folder=folder, name="Vitrine", data=png_bytes(100, 50), kind="image")

        def render() -> str:
            variant = rendering.Variant(
                channel="email",
                source=source,
                zones=[Zone(key="photo", type="image")],
                values={"photo": str(asset.pk)},
                store={"name": "Magasin A"},
                version_id=1,
                subject="Vitrine",
            )
            return rendering.render_variant(variant, rendering.sample_recipient()).html

        assert asset.current is not None
        first_url = usage.public_url(asset.current)
        assert first_url in render() and first_url in render()
        services.asset_new_version(asset=asset, data=png_bytes(200, 100, "#000000"))
        asset.refresh_from_db()
        assert asset.current is not None
        second_url = usage.public_url(asset.current)
        assert second_url != first_url
        html = render()
        assert second_url in html and first_url not in html
