"""The brand kit in every channel's context: emails get the store's kit (HQ's, with its region's
overrides) under the same names as print, through the creatives hook."""

from __future__ import annotations

from glocal.brand import services
from glocal.brand.models import Asset
from glocal.brand.tests.factories import make_asset_for
from glocal.brand.usage import public_url
from glocal.core.scope import activate
from glocal.creatives import rendering
from glocal.creatives.zones import Zone

EMAIL_SOURCE = """<mjml><mj-body><mj-section><mj-column>
<mj-text color="{{ brand.primary }}" font-family="{{ brand.font_stack }}">{{ zones.headline }}</mj-text>
<mj-image src="{{ brand.logo_url }}" alt="logo" />
<mj-text>secondary={{ brand.secondary }}</mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def _email(store) -> rendering.Rendered:
    variant = rendering.Variant(
        channel="email",
        source=EMAIL_SOURCE,
        zones=[Zone(key="headline", type="short_text")],
        values={"headline": "Bonjour"},
        store=rendering.store_context(store),
        subject="{{ store.name }}",
    )
    return rendering.render_variant(variant, rendering.sample_recipient(), {})


def _kits(network) -> Asset:
    logo = make_asset_for(network.hq, local=False, name="Logo")
    Asset.unscoped.filter(pk=logo.pk).update(kind=Asset.Kind.LOGO)
    logo.refresh_from_db()
    with activate(network.scope("hq_admin")):
        services.brand_kit_save(
            entity=network.hq,
            data={"colours": ["#123456", "#fedcba"], "fonts": ["DejaVu Serif"], "logo": logo},
        )
        services.brand_kit_save(entity=network.region_n, data={"colours": ["#003366"]})
    return logo


def test_email_renders_the_store_kit_and_the_region_override(network):
    logo = _kits(network)
    with activate(network.scope("hq_admin")):
        outside = _email(network.store_b)  # no regional kit: HQ's
        inside = _email(network.store_a)  # region_n overrides the colours
        assert logo.current is not None
        logo_url = public_url(logo.current)
    assert not outside.errors and not inside.errors
    assert "#123456" in outside.html and "secondary=#fedcba" in outside.html
    assert logo_url.replace("&", "&amp;") in outside.html or logo_url in outside.html
    assert "DejaVu Serif" in outside.html and "Arial" in outside.html
    assert "#003366" in inside.html and "#123456" not in inside.html
    assert "secondary=#ffffff" in inside.html  # a region's colours replace HQ's list; the rest is inherited
    assert logo_url in inside.html


def test_a_kit_change_reaches_the_next_email(network):
    _kits(network)
    with activate(network.scope("hq_admin")):
        assert "#003366" in _email(network.store_a).html
        services.brand_kit_save(entity=network.region_n, data={"colours": ["#445566"]})
        assert "#445566" in _email(network.store_a).html


def test_print_and_email_share_the_kit_names(network):
    _kits(network)
    with activate(network.scope("hq_admin")):
        variant = rendering.Variant(
            channel="print",
            source="<p>{{ brand.primary }}</p>",
            zones=[],
            values={},
            store=rendering.store_context(network.store_b),
        )
        assert variant.brand["primary"] == "#123456"
        assert set(variant.brand) >= {"primary", "secondary", "logo_url", "font", "font_stack"}


def test_a_font_print_cannot_embed_is_refused_with_the_choices(network):
    from django.core.exceptions import ValidationError

    from glocal.brand import fonts
    from glocal.brand.forms import KitForm

    with activate(network.scope("hq_admin")):
        try:
            services.brand_kit_save(entity=network.hq, data={"fonts": ["Montserrat"]})
        except ValidationError as exc:
            message = " ".join(exc.message_dict["fonts"])
        else:
            raise AssertionError("Montserrat was accepted")
        assert "Montserrat cannot be embedded in print PDFs" in message and "DejaVu Sans" in message
        form = KitForm(data={"fonts": "Montserrat"})
        assert not form.is_valid() and "fonts" in form.errors
        assert "DejaVu Serif" in fonts.embeddable_fonts()
        assert KitForm(data={"fonts": "DejaVu Serif"}).is_valid()


def test_an_embeddable_font_reaches_print_css_and_email(network):
    from glocal.brand import printing

    _kits(network)  # HQ's kit: DejaVu Serif
    with activate(network.scope("hq_admin")):
        email = _email(network.store_b)
        variant = rendering.Variant(
            channel="print",
            source="<p>Bonjour</p>",
            zones=[],
            values={},
            store=rendering.store_context(network.store_b),
        )
        kit, images = printing.variant_assets(variant)
        result = printing.render_print(variant, {}, kit=kit, images=images)
    assert "font-family:'DejaVu Serif', Arial, Helvetica, sans-serif" in email.html.replace("&#39;", "'")
    assert printing._css_fonts(kit["fonts"]).startswith('"DejaVu Serif"')
    assert b"DejaVu-Serif" in printing.pdf_objects_text(result.pdf)  # the PDF embeds the kit's font
    assert printing.font_report(result.pdf)[0] == printing.font_report(result.pdf)[1]


def _renamed_font(family: str) -> bytes:
    """DejaVu Sans under another family name (a font the server does not have)."""
    import io

    from fontTools.ttLib import TTFont

    font = TTFont("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    for record in font["name"].names:
        if record.nameID in (1, 4, 6, 16):
            record.string = family if record.nameID != 6 else family.replace(" ", "")
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def test_an_uploaded_font_can_be_chosen_and_is_embedded_in_print(network):
    import pytest
    from django.core.exceptions import ValidationError

    from glocal.brand import fonts, printing

    with activate(network.scope("hq_admin")):
        folder = services.folder_create(entity=network.hq, name="Polices")
        with pytest.raises(ValidationError, match="cannot be read"):
            services.asset_upload(
                folder=folder, name="x", data=b"\x00\x01\x00\x00broken", kind=Asset.Kind.FONT
            )
        with pytest.raises(ValidationError):
            services.brand_kit_save(entity=network.hq, data={"fonts": ["Glocal Test Sans"]})
        asset = services.asset_upload(
            folder=folder,
            name="",
            filename="gts.ttf",
            data=_renamed_font("Glocal Test Sans"),
            kind=Asset.Kind.FONT,
        )
        assert asset.current is not None
        assert asset.name == "Glocal Test Sans" and asset.current.content_type == "font/ttf"
        assert "Glocal Test Sans" in fonts.embeddable_fonts()
        services.brand_kit_save(entity=network.hq, data={"fonts": ["Glocal Test Sans"]})
        variant = rendering.Variant(
            channel="print",
            source="<p>Bonjour</p>",
            zones=[],
            values={},
            store=rendering.store_context(network.store_b),
        )
        kit, images = printing.variant_assets(variant)
        result = printing.render_print(variant, {}, kit=kit, images=images)
        email = _email(network.store_b)
    assert b"Glocal-Test-Sans" in printing.pdf_objects_text(result.pdf)  # the uploaded font, embedded
    assert printing.font_report(result.pdf)[0] == printing.font_report(result.pdf)[1]
    assert not result.refused
    assert "Glocal Test Sans" in email.html and "Arial" in email.html
