"""One template set rendered for every store: each store's own details in email, SMS, PDF and PNG."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from PIL import Image

from glocal.brand import printing
from glocal.brand.tests.factories import (
    PRINT_SOURCE,
    PRINT_ZONES,
    SOCIAL_SOURCE,
    SOCIAL_ZONES,
    publish_template,
)
from glocal.demo import creatives as demo

pytestmark = pytest.mark.django_db
MM = 72 / 25.4


def test_render_kit_writes_every_channel_for_every_store(network, tmp_path):
    publish_template(network, network.hq, "email", demo.DEMO_EMAIL_MJML, demo.DEMO_EMAIL_ZONES)
    publish_template(network, network.hq, "sms", demo.DEMO_SMS, demo.DEMO_SMS_ZONES)
    publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    publish_template(network, network.hq, "social", SOCIAL_SOURCE, SOCIAL_ZONES)
    out = io.StringIO()
    call_command(
        "render_kit",
        "--template",
        "all",
        "--stores",
        "all",
        "--out",
        str(tmp_path),
        "--org",
        "maison-test",
        stdout=out,
    )
    stores = {"S-A": ("Magasin A", "Lille"), "S-A2": ("Magasin A2", "Arras"), "S-B": ("Magasin B", "Nice")}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(stores)
    for code, (name, city) in stores.items():
        folder = tmp_path / code
        email_html = next(folder.glob("*-email.html")).read_text()
        assert name in email_html and city in email_html
        for other_name, _city in stores.values():
            if other_name != name:
                assert f"{other_name}<" not in email_html and f"{other_name}," not in email_html
        assert city in next(folder.glob("*-sms.txt")).read_text()
        pdf = next(folder.glob("*-print.pdf")).read_bytes()
        assert printing.media_boxes(pdf) == [(round(148 * MM, 2), round(210 * MM, 2))]
        assert name in next(folder.glob("*-social.txt")).read_text()
        assert Image.open(next(folder.glob("*-social-story.png"))).size == (1080, 1920)
    assert "files for 3 stores" in out.getvalue()


def test_render_kit_with_bleed_and_one_store(network, tmp_path):
    template = publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    call_command(
        "render_kit",
        "--template",
        str(template.pk),
        "--stores",
        "S-B",
        "--out",
        str(tmp_path),
        "--org",
        "maison-test",
        "--bleed",
        stdout=io.StringIO(),
    )
    assert [p.name for p in tmp_path.iterdir()] == ["S-B"]
    pdf = next((tmp_path / "S-B").glob("*.pdf")).read_bytes()
    assert b"/TrimBox" in printing.pdf_objects_text(pdf)
