"""Print PDFs: page sizes, bleed, resources refused, resolution and font checks, the channel hook."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.urls import reverse

from glocal.brand import printing
from glocal.brand.models import AssetVersion
from glocal.brand.tests.factories import PRINT_SOURCE, PRINT_ZONES, make_asset_for, publish_template
from glocal.brand.usage import public_url
from glocal.core.scope import activate
from glocal.creatives import rendering, selectors
from glocal.creatives.zones import Zone

MM = 72 / 25.4
STORE = {
    "name": "Magasin A",
    "full_address": "1 rue Nationale, 59000 Lille",
    "code": "S-A",
    "website": "https://maison.example/lille",
}


def variant(source: str, values: dict | None = None, zones: list | None = None) -> rendering.Variant:
    return rendering.Variant(
        channel="print",
        source=source,
        zones=zones or [Zone(key="headline", type="short_text")],
        values=values or {"headline": "Portes ouvertes"},
        store=STORE,
    )


@pytest.mark.parametrize(
    ("fmt", "width_mm", "height_mm"),
    [("a3", 297, 420), ("a4", 210, 297), ("a5", 148, 210), ("pos", 105, 148), ("letter", 210, 297)],
)
def test_each_format_has_its_page_size(fmt, width_mm, height_mm):
    result = printing.render_print(
        variant(f"{{# print: format={fmt} #}}<h1>{{{{ zones.headline }}}}</h1>"), {}
    )
    assert printing.media_boxes(result.pdf) == [(round(width_mm * MM, 2), round(height_mm * MM, 2))]
    assert result.pdf.startswith(b"%PDF-")


def test_bleed_and_marks_enlarge_the_page_and_can_be_dropped_for_preview():
    source = "{# print: format=a5 bleed=3 marks=yes #}<p>{{ store.name }}</p>"
    with_bleed = printing.render_print(variant(source), {})
    ((width, height),) = printing.media_boxes(with_bleed.pdf)
    assert width > 148 * MM + 6 * MM - 0.5 and height > 210 * MM + 6 * MM - 0.5
    assert b"/TrimBox" in printing.pdf_objects_text(with_bleed.pdf)
    preview = printing.render_print(variant(source), {}, bleed=False)
    assert printing.media_boxes(preview.pdf) == [(round(148 * MM, 2), round(210 * MM, 2))]


def test_options_are_parsed_defensively():
    assert printing.parse_options(
        "{# print: format=a3 bleed=50 marks=yes qr=offer #}"
    ) == printing.PrintOptions(format="a3", bleed_mm=10.0, marks=True, qr="offer")
    assert printing.parse_options("{# print: format=tabloid bleed=x qr=evil #}") == printing.PrintOptions()


def test_only_platform_files_and_data_uris_are_fetched(settings):
    source = """<img src="https://evil.example/track.png"><img src="file:///etc/passwd">
    <img src="/media/../../etc/passwd"><link rel="stylesheet" href="http://169.254.169.254/latest">
    <img src="{{ qr }}" style="width: 20mm">"""
    result = printing.render_print(variant("{# print: format=pos qr=store #}" + source), {})
    assert sorted(result.refused) == sorted(
        [
            "https://evil.example/track.png",
            "file:///etc/passwd",
            "https://platform.invalid/etc/passwd",
            "http://169.254.169.254/latest",
        ]
    )
    assert [f.code for f in printing.check_print(result)].count("print_resource_refused") == 4


def test_qr_code_points_to_the_store_page():
    svg_uri = printing.qr_data_uri("https://maison.example/lille")
    assert svg_uri.startswith("data:image/svg+xml")
    assert printing.parse_options("{# print: qr=store #}").qr == "store"


def test_fonts_are_embedded():
    result = printing.render_print(
        variant("<p style='font-weight: bold'>{{ store.name }}</p><p>é à ç</p>"), {}
    )
    described, embedded = printing.font_report(result.pdf)
    assert described >= 1 and described == embedded
    assert not [f for f in printing.check_print(result) if f.code == "print_font_not_embedded"]


def test_a_font_descriptor_without_font_file_is_reported():
    fake = printing.PrintResult(pdf=b"%PDF-1.7\n1 0 obj << /Type /FontDescriptor /FontName /Arial >>\nendobj")
    assert [f.code for f in printing.check_print(fake)] == ["print_font_not_embedded"]


@pytest.mark.django_db
def test_low_resolution_images_are_refused_and_large_ones_pass(network):
    small = make_asset_for(network.hq, local=False, name="small", width=200)
    large = make_asset_for(network.hq, local=False, name="large", width=800)
    zones = [Zone(key="photo", type="image")]
    source = '{# print: format=a5 #}<img src="{{ images.photo.url }}" style="width: 60mm">'
    with activate(network.scope("hq_admin")):
        for asset, ok in ((small, False), (large, True)):
            values = {"photo": str(asset.pk)}
            images = printing.image_context(zones, values)
            result = printing.render_print(variant(source, values, zones), {}, images=images)
            assert result.refused == []
            (measured,) = result.images
            assert measured["printed_mm"][0] == 60
            codes = [f.code for f in printing.check_print(result)]
            assert ("print_low_resolution" not in codes) is ok, (asset.name, measured)
        assert measured["dpi"] == 339  # 800 px over 60 mm (2.36 in)


@pytest.mark.django_db
def test_public_image_urls_need_a_valid_signature(network, client):
    asset = make_asset_for(network.hq, local=False)
    url = public_url(AssetVersion.unscoped.get(asset=asset))
    path = url.split("8000", 1)[-1] if "8000" in url else url
    assert client.get(path).status_code == 200
    forged = path.rstrip("/")[:-3] + "abc/"
    assert client.get(forged).status_code == 404


@pytest.mark.django_db
def test_print_template_renders_per_store_through_the_channel_hook(network, login):
    photo = make_asset_for(network.hq, local=False, width=800)
    zones = [dict(z) for z in PRINT_ZONES]
    zones[1]["default"] = str(photo.pk)
    template = publish_template(network, network.hq, "print", PRINT_SOURCE, zones)
    version = template.published_version()
    assert version is not None
    with activate(network.scope("store_a")):
        preview = selectors.preview(version, network.store_a, {})
        rendered: Any = preview.rendered
        assert rendered.errors == [] and rendered.pdf.startswith(b"%PDF-")
        assert printing.media_boxes(rendered.pdf) == [(round(148 * MM, 2), round(210 * MM, 2))]
        assert rendered.print_result.refused == [] and len(rendered.print_result.images) == 1
    response = login(network, "store_a").get(reverse("brand:print_pdf", kwargs={"pk": template.pk}))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF-")
    other = login(network, "store_b").get(
        reverse("brand:print_pdf", kwargs={"pk": template.pk}) + f"?store={network.store_a.pk}"
    )
    assert other.status_code == 404


def test_letter_address_lines():
    lines = printing.address_lines(
        {
            "first_name": "Camille",
            "last_name": "Martin",
            "address": "12 rue des Lilas",
            "postcode": "59000",
            "city": "Lille",
        }
    )
    assert lines == ["Camille Martin", "12 rue des Lilas", "59000 LILLE"]


def test_the_address_block_follows_la_postes_standard():
    recipient = {
        "first_name": "Marie-Éléonore",
        "last_name": "de La Tour d'Auvergne-Lauraguais",
        "address": "Résidence « Les Glycines », bâtiment B, escalier 4",
        "address_line2": "Lieu-dit Le Cœur-Joyeux",
        "postcode": "42000",
        "city": "Saint-Étienne Cedex 1",
    }
    lines = printing.address_lines(recipient)
    assert lines[-1] == "42000 SAINT ETIENNE CEDEX 1"
    assert all(len(line) <= 38 for line in lines) and len(lines) <= 6
    assert lines[0] == "Marie-Éléonore de La Tour d'Auvergne-L"  # cut at 38 characters
    assert printing.postal_capitals("L'Haÿ-les-Roses") == "L HAY LES ROSES"
    assert printing.address_lines({**recipient, "address_line2": ""}, max_lines=2)[-1].startswith("42000 ")


def test_letter_has_the_address_in_the_window_position():
    from weasyprint import HTML

    captured = {}
    real = HTML.render

    def spy(self, *args, **kwargs):
        document = real(self, *args, **kwargs)
        captured["document"] = document
        return document

    import unittest.mock

    with unittest.mock.patch.object(HTML, "render", spy):
        printing.render_print(
            variant("{# print: format=letter #}<p>Madame, Monsieur,</p>"),
            {"first_name": "Camille", "last_name": "Martin", "city": "Lille"},
        )
    boxes = [
        b
        for b in captured["document"].pages[0]._page_box.descendants()
        if getattr(b, "element", None) is not None and b.element.get("data-role") == "address"
    ]
    box = boxes[0]
    px_per_mm = 96 / 25.4
    assert round(box.position_x / px_per_mm) == printing.WINDOW["left"]
    assert round(box.position_y / px_per_mm) == printing.WINDOW["top"]


@pytest.mark.django_db
def test_low_resolution_blocks_submission_and_shows_in_the_live_preview(network, login):
    from django.core.exceptions import ValidationError

    from glocal.creatives import services as creative_services

    small = make_asset_for(network.hq, local=False, name="small", width=200)
    template = publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    version = template.published_version()
    assert version is not None
    with activate(network.scope("store_a")), pytest.raises(ValidationError, match="dpi"):
        creative_services.personalisation_save(
            version=version, entity=network.store_a, values={"photo": str(small.pk)}, submit=True
        )
    client = login(network, "store_a")
    page = client.post(
        reverse("creatives:preview", kwargs={"pk": template.pk}),
        {"store": network.store_a.pk, "z_photo": str(small.pk), "z_headline": "Soldes"},
    ).content.decode()
    assert 'data-testid="print-preview"' in page and "dpi" in page
    assert "data:application/pdf;base64," in page or "data:image/png;base64," in page


# -- the print fetcher resolves only the rendering scope's own library images -----------------------


def pdf_images(pdf: bytes) -> int:
    import re

    return len(re.findall(rb"/Subtype\s*/Image", printing.pdf_objects_text(pdf)))


def media_path(asset: Any) -> str:
    return AssetVersion.unscoped.get(asset=asset).file.url


def refused_codes(result: printing.PrintResult) -> list[str]:
    return [f.code for f in printing.check_print(result) if f.code == "print_resource_refused"]


@pytest.mark.django_db
def test_a_print_template_cannot_pull_another_organisations_or_another_stores_files(network):
    org_a_photo = make_asset_for(network.hq, local=False, name="siège A", width=800)
    private_b = make_asset_for(network.store_b, local=True, name="photo privée du magasin B", width=800)
    own_photo = make_asset_for(network.store_a, local=True, name="photo du magasin A", width=800)
    signed = {
        a.pk: public_url(AssetVersion.unscoped.get(asset=a)) for a in (org_a_photo, private_b, own_photo)
    }

    def render(persona: str, srcs: list[str], store: dict) -> printing.PrintResult:
        tags = "".join(f'<img src="{s}" style="width: 40mm">' for s in srcs)
        tags += f'<a rel="attachment" href="{srcs[0]}">pièce jointe</a>'
        source = "{# print: format=a5 qr=none #}" + tags
        with activate(network.scope(persona)):
            return printing.render_print(dataclasses.replace(variant(source), store=store), {})

    # organisation B's HQ admin names organisation A's media path and signed URL
    other_store = {**STORE, "code": "S-A"}
    stolen = render("other_org", [media_path(org_a_photo), signed[org_a_photo.pk]], other_store)
    assert pdf_images(stolen.pdf) == 0
    assert f"https://platform.invalid{media_path(org_a_photo)}" in stolen.refused
    assert signed[org_a_photo.pk] in stolen.refused
    assert refused_codes(stolen) and stolen.images == []

    # store A's print (rendered by store A, or by HQ for store A) never gets store B's private photo
    store_a = {**STORE, "code": network.store_a.code}
    for persona in ("store_a", "hq_admin"):
        peek = render(persona, [signed[private_b.pk], media_path(private_b)], store_a)
        assert pdf_images(peek.pdf) == 0, persona
        assert signed[private_b.pk] in peek.refused and len(refused_codes(peek)) >= 2

    # while the store's own photo and HQ's images are embedded
    allowed = render("store_a", [signed[own_photo.pk], signed[org_a_photo.pk]], store_a)
    assert allowed.refused == [] and pdf_images(allowed.pdf) >= 2


# -- bleed: backgrounds and photos at the trim edge extend into it --------------------------------

BAND, PHOTO = (0x1F, 0x51, 0x35), (0xCC, 0x33, 0x66)
BLEED_SOURCE = """{# print: format=a5 bleed=3 marks=no qr=none #}
<div style="background: #1f5135; color: #fff; padding: 8mm; height: 40mm; box-sizing: border-box">
  <h1 style="margin: 0">{{ zones.headline }}</h1></div>
<p style="margin: 10mm">{{ store.name }}</p>
<img src="PHOTO" alt="" style="position: absolute; left: 0; bottom: 0; width: 100%; height: 50mm">"""


def page_pixels(pdf: bytes, dpi: int = 72) -> Any:
    import io

    from PIL import Image

    pages = printing.pdf_pages_png(pdf, dpi=dpi, first_pages=1)
    assert pages, "pdftoppm (poppler-utils) is needed to look at the pixels"
    return Image.open(io.BytesIO(pages[0])).convert("RGB")


def near(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(pixel, colour, strict=True))


def test_backgrounds_and_photos_at_the_trim_edge_extend_into_the_bleed():
    import base64

    from glocal.brand.tests.factories import png_bytes

    photo = "data:image/png;base64," + base64.b64encode(png_bytes(600, 300, "#cc3366")).decode()
    result = printing.render_print(variant(BLEED_SOURCE.replace("PHOTO", photo)), {})
    image = page_pixels(result.pdf)
    px = 72 / 25.4  # pixels per mm at 72 dpi; the page is the trim box + 3 mm on each side
    assert abs(image.size[0] - 154 * px) <= 1 and abs(image.size[1] - 216 * px) <= 1

    def at(x_mm: float, y_mm: float) -> tuple[int, int, int]:  # mm from the bleed edge (top left)
        return image.getpixel((int(x_mm * px), int(y_mm * px)))

    # the band: inside the trim box, and over the top, left and right bleed
    assert near(at(60, 20), BAND)
    for x_mm, y_mm in ((1, 1), (77, 1), (153, 1), (1, 20), (153, 20)):
        assert near(at(x_mm, y_mm), BAND), (x_mm, y_mm, at(x_mm, y_mm))
    # the photo: inside the trim box, and over the bottom, left and right bleed
    assert near(at(77, 190), PHOTO)
    for x_mm, y_mm in ((1, 215), (77, 215), (153, 215), (1, 190), (153, 190)):
        assert near(at(x_mm, y_mm), PHOTO), (x_mm, y_mm, at(x_mm, y_mm))
    # where nothing touches the edge the bleed stays white, and the trim box keeps its layout
    assert near(at(1, 100), (255, 255, 255)) and near(at(153, 100), (255, 255, 255))
    assert near(at(60, 3 + 40 + 1), (255, 255, 255))  # the band still ends 40 mm below the trim line
    assert near(at(77, 216 - 3 - 50 - 1), (255, 255, 255))  # the photo still starts 50 mm above it


def test_the_longest_address_block_fits_the_dl_window_area():
    from weasyprint import HTML

    captured = {}
    real = HTML.render

    def spy(self, *args, **kwargs):
        captured["document"] = real(self, *args, **kwargs)
        return captured["document"]

    import unittest.mock

    recipient = {
        "first_name": "MARIE ELEONORE",
        "last_name": "DE LA TOUR D AUVERGNE LAU",
        "address": "RESIDENCE LES GLYCINES BATIMENT B ESC 4",
        "address_line2": "LIEU DIT LE COEUR JOYEUX BP 12345 ZZZZZ",
        "postcode": "42000",
        "city": "SAINT ETIENNE DU ROUVRAY CEDEX 9",
    }
    lines = printing.address_lines(recipient)
    assert len(lines) == 4 and all(37 <= len(line) <= 38 for line in lines)
    with unittest.mock.patch.object(HTML, "render", spy):
        printing.render_print(variant("{# print: format=letter #}<p>Madame, Monsieur,</p>"), recipient)
    (block,) = [
        b
        for b in captured["document"].pages[0]._page_box.descendants()
        if getattr(b, "element", None) is not None and b.element.get("data-role") == "address"
    ]
    px_per_mm = 96 / 25.4
    text = [box for box in block.descendants() if type(box).__name__ == "TextBox"]
    right = max(box.position_x + box.width for box in text) / px_per_mm
    bottom = max(box.position_y + box.height for box in text) / px_per_mm
    # the part of the page a DL window (45 × 100 mm, 20 mm from the right, 15 mm from the bottom)
    # shows whatever the letter's play in the envelope: x 100–190 mm, y 50–84 mm
    assert block.position_x / px_per_mm >= 100 and block.position_y / px_per_mm >= 50
    assert right <= 190 and bottom <= 84, (right, bottom)
    assert len(text) == 4
