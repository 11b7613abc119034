"""Print and social deliveries: the merged direct-mail PDF and its manifest, the job, the store kits,
and the pages (scoped: another store's or organisation's objects answer 404)."""

from __future__ import annotations

import csv
import io
import unittest.mock
import zipfile
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import include, path
from django.utils.text import slugify
from PIL import Image

import config.urls
from glocal.audience.models import Contact, Suppression, hash_value
from glocal.brand import printing
from glocal.brand.tests.factories import (
    PRINT_SOURCE,
    PRINT_ZONES,
    SOCIAL_SOURCE,
    SOCIAL_ZONES,
    make_asset_for,
    publish_template,
)
from glocal.campaigns.models import Campaign
from glocal.core import jobs
from glocal.core.models import AuditEvent, Job
from glocal.core.scope import activate
from glocal.creatives import rendering
from glocal.creatives.models import Personalisation
from glocal.delivery import printbatch
from glocal.delivery.social import store_social_export

pytestmark = pytest.mark.django_db

# The project includes print_urls at delivery/print/; the tests include it themselves.
urlpatterns = [*config.urls.urlpatterns, path("delivery/print/", include("glocal.delivery.print_urls"))]

MM = 72 / 25.4
A4 = (round(210 * MM, 2), round(297 * MM, 2))
LETTER_SOURCE = """{# print: format=letter #}
<style>.body { padding: 20mm 20mm 0 20mm; } h1 { color: var(--brand-primary); }</style>
<h1>{{ zones.headline }}</h1>
<div class="body"><p>Bonjour {{ recipient.first_name|fallback('cher client') }},</p>
<p>{{ store.name }} — {{ store.full_address }}</p></div>"""
LETTER_ZONES: list[dict[str, Any]] = [
    {"key": "headline", "type": "short_text", "max_length": 60, "default": "Portes ouvertes"}
]
TWO_PAGE_SOURCE = """{# print: format=letter #}
<div style="height: 250mm">{{ zones.headline }}</div>
<p style="margin-top: 60mm">Page 2, {{ recipient.last_name }}</p>"""
POS_SOURCE = """{# print: format=pos #}
<h1>{{ zones.headline }}</h1><p><a href="https://shop.example/{{ store.code }}">{{ store.name }}</a></p>"""


@pytest.fixture(autouse=True)
def _fresh_render_caches():
    rendering.clear_caches()
    yield
    rendering.clear_caches()


@pytest.fixture
def print_urls(settings):
    settings.ROOT_URLCONF = __name__


_serial = iter(range(10_000, 99_999))


def postal_contact(entity, last_name: str, *, consent: str = "opt_in", **fields) -> Contact:
    n = next(_serial)
    email = f"p{n}@example.test"
    values = {
        "first_name": "Camille",
        "address_line1": f"{n} rue des Lilas",
        "postcode": "59000",
        "city": "Lille",
        **fields,
    }
    return Contact.unscoped.create(
        organisation=entity.organisation,
        owner=entity,
        owner_path=entity.path,
        last_name=last_name,
        email=email,
        email_hash=hash_value(email),
        consent_postal=consent,
        **values,
    )


def make_campaign(store, template, *, state: str = "scheduled", **fields) -> Campaign:
    version = template.published_version()
    assert version is not None
    return Campaign.unscoped.create(
        organisation=store.organisation,
        entity=store,
        name=fields.pop("name", "Lettre aux clients"),
        version=version,
        values=fields.pop("values", {"headline": "Portes ouvertes"}),
        state=state,
        **fields,
    )


@pytest.fixture
def letter(network):
    return publish_template(network, network.hq, "print", LETTER_SOURCE, LETTER_ZONES)


@pytest.fixture
def audience(network):
    """Store A: 4 reachable contacts, and one of each kind that must not get a letter."""
    a = network.store_a
    reachable = [
        postal_contact(a, "Martin", postcode="59800"),
        postal_contact(a, "Bernard", postcode="59000", first_name="Élise"),
        postal_contact(a, "Petit", postcode="59000", first_name="Jean"),
        postal_contact(a, "Dubois", postcode="62000", city="Arras"),
    ]
    opted_out = postal_contact(a, "Refus", consent="opt_out")
    no_consent = postal_contact(a, "Silence", consent="")
    no_address = postal_contact(a, "Sansadresse", address_line1="")
    no_postcode = postal_contact(a, "Sanscode", postcode="")
    opposed = postal_contact(a, "Repoussoir")
    Suppression.unscoped.create(
        organisation=network.org, channel="postal", value_hash=opposed.email_hash, reason="opt_out"
    )
    removed = postal_contact(a, "Retire")
    other_store = postal_contact(network.store_b, "Autre")
    return {
        "reachable": reachable,
        "absent": [opted_out, no_consent, no_address, no_postcode, opposed, removed, other_store],
        "removed": removed,
        "excluded": [removed.pk],
    }


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def manifest_rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def batch(network, campaign, persona: str = "store_a", **kwargs) -> printbatch.BatchResult:
    with activate(network.scope(persona)):
        return printbatch.direct_mail_batch(campaign=Campaign.objects.get(pk=campaign.pk), **kwargs)


# -- pure helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r", "\x00"])
def test_cells_starting_with_a_formula_character_are_neutralised(prefix):
    assert printbatch.neutralise_cell(f"{prefix}SUM(A1)") == f"'{prefix}SUM(A1)"


def test_ordinary_cells_are_kept():
    assert printbatch.neutralise_cell("12 rue des Lilas") == "12 rue des Lilas"
    assert printbatch.neutralise_cell("a=b") == "a=b"
    assert printbatch.neutralise_cell(None) == ""
    assert printbatch.neutralise_cell(7) == "7"


def test_page_dependent_sources_are_laid_out_alone():
    assert printbatch.needs_own_document("<div style='position: fixed; bottom: 0'>x</div>")
    assert printbatch.needs_own_document("<style>@page :first { margin: 0 }</style>")
    assert printbatch.needs_own_document("<span style='content: counter(page)'></span>")
    assert not printbatch.needs_own_document(LETTER_SOURCE)


def test_styles_are_hoisted_once():
    styles, bodies = printbatch.hoist_styles(["<style>a{}</style><p>1</p>", "<style>a{}</style><p>2</p>"])
    assert styles == "<style>a{}</style>"
    assert bodies == ["<p>1</p>", "<p>2</p>"]


def test_foreign_addresses_get_their_country_line():
    recipient = {
        "first_name": "Ana",
        "last_name": "Silva",
        "address": "1 Rua",
        "postcode": "1000",
        "city": "Lisboa",
    }
    assert printbatch.letter_address_lines({**recipient, "country": "PT"}, "FR")[-1] == "PT"
    assert printbatch.letter_address_lines({**recipient, "country": "FR"}, "FR") == printing.address_lines(
        recipient
    )


# -- the merged PDF and the manifest -------------------------------------------------------------


def test_one_a4_page_per_recipient_and_a_manifest_of_exactly_the_recipients(network, letter, audience):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=[audience["removed"].pk])

    result = batch(network, campaign)

    files = read_zip(result.zip_bytes)
    assert sorted(files) == ["letters.pdf", "manifest.csv"]
    assert files["letters.pdf"].startswith(b"%PDF-")
    assert printing.media_boxes(files["letters.pdf"]) == [A4] * 4
    assert result.letters == result.pages == 4
    rows = manifest_rows(files["manifest.csv"])
    assert list(rows[0]) == printbatch.MANIFEST_HEADER
    expected = {c.pk: c for c in audience["reachable"]}
    assert {int(r["contact_id"]) for r in rows} == set(expected)
    assert not {int(r["contact_id"]) for r in rows} & {c.pk for c in audience["absent"]}
    # postal order: postcode, then name; sequence = page
    assert [r["postcode"] for r in rows] == ["59000", "59000", "59800", "62000"]
    assert [r["name"] for r in rows[:2]] == ["Élise Bernard", "Jean Petit"]
    for number, row in enumerate(rows, start=1):
        assert row["sequence"] == row["first_page"] == row["last_page"] == str(number)
        contact = expected[int(row["contact_id"])]
        assert row["address_line1"] == contact.address_line1
        assert (row["postcode"], row["city"], row["country"]) == (contact.postcode, contact.city, "FR")
    assert printing.font_report(files["letters.pdf"])[0] == printing.font_report(files["letters.pdf"])[1] > 0
    assert result.fonts_embedded and result.refused == []


def _capture_documents():
    from weasyprint import HTML

    documents: list = []
    real = HTML.render

    def spy(self, *args, **kwargs):
        document = real(self, *args, **kwargs)
        documents.append(document)
        return document

    return documents, unittest.mock.patch.object(HTML, "render", spy)


def _address_boxes(page) -> list:
    return [
        b
        for b in page._page_box.descendants()
        if getattr(b, "element", None) is not None and b.element.get("data-role") == "address"
    ]


def test_every_letter_has_its_own_address_in_the_window(network, letter, audience):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    documents, spy = _capture_documents()

    with spy:
        result = batch(network, campaign, letters_per_document=3)

    assert len(documents) == result.documents == 2  # 4 letters, 3 per document
    pages = [page for document in documents for page in document.pages]
    assert len(pages) == 4
    px_per_mm = 96 / 25.4
    names = [row.name for row in result.rows]
    for page, name in zip(pages, names, strict=True):
        (box,) = _address_boxes(page)  # one address block per page, the page's recipient's
        assert round(box.position_x / px_per_mm) == printing.WINDOW["left"]
        assert round(box.position_y / px_per_mm) == printing.WINDOW["top"]
        text = "".join(t.text for t in box.descendants() if hasattr(t, "text") and isinstance(t.text, str))
        assert name.replace(" ", "") in text.replace(" ", "")
    assert printing.media_boxes(read_zip(result.zip_bytes)["letters.pdf"]) == [A4] * 4


def test_a_two_page_letter_takes_two_pages_per_recipient(network, audience):
    template = publish_template(network, network.hq, "print", TWO_PAGE_SOURCE, LETTER_ZONES)
    campaign = make_campaign(network.store_a, template, excluded_contacts=audience["excluded"])
    with activate(network.scope("store_a")):
        alone = printing.render_print(
            rendering.Variant(
                channel="print", source=TWO_PAGE_SOURCE, zones=[], values={}, store={"name": "x"}
            ),
            {"last_name": "Martin"},
        )

    result = batch(network, campaign, letters_per_document=3)

    assert alone.page_count == 2
    assert result.pages == 8
    assert printing.media_boxes(read_zip(result.zip_bytes)["letters.pdf"]) == [A4] * 8
    assert [(r.first_page, r.last_page) for r in result.rows] == [(1, 2), (3, 4), (5, 6), (7, 8)]
    rows = manifest_rows(read_zip(result.zip_bytes)["manifest.csv"])
    assert [(r["first_page"], r["last_page"]) for r in rows] == [
        ("1", "2"),
        ("3", "4"),
        ("5", "6"),
        ("7", "8"),
    ]


def test_a_page_dependent_letter_is_laid_out_one_document_per_recipient(network, audience):
    source = LETTER_SOURCE + '<div style="position: fixed; bottom: 5mm">{{ store.name }}</div>'
    template = publish_template(network, network.hq, "print", source, LETTER_ZONES)
    campaign = make_campaign(network.store_a, template, excluded_contacts=audience["excluded"])

    result = batch(network, campaign)

    assert result.documents == result.letters == 4
    assert printing.media_boxes(read_zip(result.zip_bytes)["letters.pdf"]) == [A4] * 4


def test_bleed_and_marks_keep_one_page_per_letter(network, audience):
    source = LETTER_SOURCE.replace("format=letter", "format=letter bleed=3 marks=yes")
    template = publish_template(network, network.hq, "print", source, LETTER_ZONES)
    campaign = make_campaign(network.store_a, template, excluded_contacts=audience["excluded"])

    result = batch(network, campaign)

    boxes = printing.media_boxes(read_zip(result.zip_bytes)["letters.pdf"])
    assert len(boxes) == 4 and len(set(boxes)) == 1
    width, height = boxes[0]
    assert width > 216 * MM - 0.5 and height > 303 * MM - 0.5  # A4 + 2 × 3 mm bleed


def test_a_photo_is_embedded_once_across_documents(network, audience):
    source = (
        LETTER_SOURCE
        + '{% if images.photo %}<img src="{{ images.photo.url }}" style="width: 5mm">{% endif %}'
    )
    zones = [*LETTER_ZONES, {"key": "photo", "type": "image"}]
    template = publish_template(network, network.hq, "print", source, zones)
    photo = make_asset_for(network.store_a, width=64)
    campaign = make_campaign(
        network.store_a,
        template,
        excluded_contacts=audience["excluded"],
        values={"headline": "Portes ouvertes", "photo": str(photo.pk)},
    )

    with unittest.mock.patch.object(printing, "_public_image", wraps=printing._public_image) as fetched:
        result = batch(network, campaign, letters_per_document=2)

    pdf = read_zip(result.zip_bytes)["letters.pdf"]
    assert result.documents == 2 and result.refused == []
    assert fetched.call_count == 1  # read and decoded once for both documents
    assert printing.pdf_objects_text(pdf).count(b"/Subtype /Image") == 1


def test_manifest_cells_cannot_become_formulas(network, letter):
    hostile = postal_contact(
        network.store_a,
        "+cmd|' /C calc'!A0",
        first_name='=HYPERLINK("http://evil.example")',
        address_line1="@SUM(1+1)",
        address_line2="\tindent",
        postcode="-59000",
        city="\rLille",  # (NUL, also neutralised, cannot be stored in PostgreSQL text)
    )
    campaign = make_campaign(network.store_a, letter)

    result = batch(network, campaign)

    (row,) = manifest_rows(read_zip(result.zip_bytes)["manifest.csv"])
    assert row["contact_id"] == str(hostile.pk)
    assert row["name"] == "'=HYPERLINK(\"http://evil.example\") +cmd|' /C calc'!A0"
    assert row["address_line1"] == "'@SUM(1+1)"
    assert row["address_line2"] == "'\tindent"
    assert row["postcode"] == "'-59000"
    assert row["city"] == "'\rLille"
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r", "\x00"))


def test_only_approved_direct_mail_letters_can_be_printed(network, letter, audience):
    poster = publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    sms = publish_template(
        network, network.hq, "sms", "{{ organisation.sms_advertiser }} {{ store.name }} STOP au 36180", []
    )
    cases = [
        (make_campaign(network.store_a, letter, state="draft"), printbatch.NOT_APPROVED),
        (make_campaign(network.store_a, letter, state="submitted"), printbatch.NOT_APPROVED),
        (make_campaign(network.store_a, letter, state="cancelled"), printbatch.NOT_APPROVED),
        (make_campaign(network.store_a, poster), printbatch.NOT_LETTER),
        (make_campaign(network.store_a, sms), printbatch.NOT_PRINT),
    ]
    for campaign, message in cases:
        with pytest.raises(ValidationError) as refused:
            batch(network, campaign)
        assert str(message) in refused.value.messages


def test_a_campaign_nobody_can_receive_is_refused(network, letter):
    postal_contact(network.store_a, "Refus", consent="opt_out")
    campaign = make_campaign(network.store_a, letter)
    with pytest.raises(ValidationError) as refused:
        batch(network, campaign)
    assert refused.value.messages == [str(printbatch.NO_RECIPIENTS)]


def test_the_engine_can_narrow_the_batch_to_its_outbox(network, letter, audience):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    wanted = [audience["reachable"][0].pk, audience["absent"][0].pk]  # the opted-out one stays out

    result = batch(network, campaign, persona="hq_admin", contact_ids=wanted)

    assert [r.contact_id for r in result.rows] == [audience["reachable"][0].pk]


# -- the job -------------------------------------------------------------------------------------


def test_the_job_stores_the_zip_and_reports_progress(network, letter, audience):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("store_a")):
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
        again = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    assert again.pk == job.pk  # a second click while it is queued starts nothing new

    assert jobs.run_job(job.pk, "test-worker")

    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    assert (job.progress, job.total) == (4, 4)
    result = job.result
    assert result["letters"] == result["pages"] == 4
    assert result["file"] == f"{printbatch.STORAGE_DIR}/{job.token}.zip"
    with default_storage.open(result["file"], "rb") as handle:
        data = handle.read()
    assert len(data) == result["size"]
    files = read_zip(data)
    assert printing.media_boxes(files["letters.pdf"]) == [A4] * 4
    assert len(manifest_rows(files["manifest.csv"])) == 4
    event = AuditEvent.unscoped.get(action=printbatch.AUDIT_START)
    assert event.entity_id == network.store_a.pk and event.data["letters"] == 4

    # a rerun (worker crash after the upload) replaces its own file
    with activate(network.scope("store_a")):
        rerun = printbatch.run_direct_mail_job(job, lambda done, total: None)
    assert rerun["file"] == result["file"]


def test_the_zip_is_a_file_under_the_data_directory(network, letter, audience, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("store_a")):
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))

    assert jobs.run_job(job.pk, "test-worker")

    job.refresh_from_db()
    stored = tmp_path / printbatch.STORAGE_DIR / f"{job.token}.zip"
    assert job.result["file"] == f"{printbatch.STORAGE_DIR}/{job.token}.zip"
    assert stored.stat().st_size == job.result["size"]
    assert printing.media_boxes(read_zip(stored.read_bytes())["letters.pdf"]) == [A4] * 4


def test_a_batch_started_for_a_campaign_edited_back_to_draft_fails_and_writes_nothing(
    network, letter, audience
):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("store_a")):
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    Campaign.unscoped.filter(pk=campaign.pk).update(state="draft")

    jobs.run_job(job.pk, "test-worker")

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert not default_storage.exists(f"{printbatch.STORAGE_DIR}/{job.token}.zip")


def test_staff_cannot_start_a_batch(network, letter, audience):
    from django.core.exceptions import PermissionDenied

    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("staff_a")), pytest.raises(PermissionDenied):
        printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    assert not Job.unscoped.filter(kind=printbatch.JOB_KIND).exists()


# -- kits ----------------------------------------------------------------------------------------


@pytest.fixture
def kit_templates(network, letter):
    for store, site in ((network.store_a, "https://a.example"), (network.store_b, "https://b.example")):
        store.website = site
        store.address_line1 = "1 rue du Port"
        store.postcode = "59000"
        store.save(update_fields=["website", "address_line1", "postcode"])
    flyer = publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    pos = publish_template(network, network.hq, "print", POS_SOURCE, PRINT_ZONES)
    post = publish_template(network, network.hq, "social", SOCIAL_SOURCE, SOCIAL_ZONES)
    regional = publish_template(network, network.region_s, "print", POS_SOURCE, PRINT_ZONES)
    Personalisation.unscoped.create(
        organisation=network.org,
        entity=network.store_a,
        version=post.published_version(),
        values={"headline": "Braderie lilloise"},
    )
    return {"flyer": flyer, "pos": pos, "post": post, "letter": letter, "regional": regional}


def test_the_print_kit_has_every_print_template_of_the_store_with_its_details(network, kit_templates):
    with activate(network.scope("store_a")):
        store = network.store_a
        items = printbatch.store_templates(store, "print")
        files = read_zip(printbatch.store_print_kit(entity=store, templates=items))

    flyer, pos = kit_templates["flyer"], kit_templates["pos"]
    assert {i.template.pk for i in items} == {flyer.pk, pos.pk, kit_templates["letter"].pk}  # not region S's
    flyer_pdf, pos_pdf = f"{slugify(flyer.name)}-{flyer.pk}-a5.pdf", f"{slugify(pos.name)}-{pos.pk}-pos.pdf"
    pdfs = sorted(name for name in files if name.endswith(".pdf"))
    assert pdfs == sorted([flyer_pdf, pos_pdf])
    assert printing.media_boxes(files[flyer_pdf]) == [(round(148 * MM, 2), round(210 * MM, 2))]
    assert printing.media_boxes(files[pos_pdf]) == [(round(105 * MM, 2), round(148 * MM, 2))]
    text = printing.pdf_objects_text(files[pos_pdf])
    assert b"https://shop.example/S-A" in text and b"S-B" not in text  # the store's own link
    contents = manifest_rows(files["contents.csv"])
    assert {r["file"] for r in contents} == {*pdfs, ""}
    (skipped,) = [r for r in contents if not r["file"]]
    assert skipped["problems"] == str(printbatch.LETTER_SKIPPED)


def test_the_kit_of_another_store_carries_that_stores_details(network, kit_templates):
    with activate(network.scope("hq_admin")):
        files = read_zip(printbatch.store_print_kit(entity=network.store_b, templates=[kit_templates["pos"]]))
    (name,) = [n for n in files if n.endswith(".pdf")]
    text = printing.pdf_objects_text(files[name])
    assert b"https://shop.example/S-B" in text and b"S-A" not in text


def test_the_social_export_has_both_images_and_the_caption_of_the_store(network, kit_templates):
    post = kit_templates["post"]
    with activate(network.scope("store_a")):
        items = printbatch.store_templates(network.store_a, "social")
        files = read_zip(store_social_export(entity=network.store_a, templates=items))
    with activate(network.scope("store_b")):
        other = read_zip(store_social_export(entity=network.store_b, templates=[post]))

    stem = f"{slugify(post.name)}-{post.pk}"
    assert sorted(files) == sorted(["contents.csv", f"{stem}-square.png", f"{stem}-story.png", f"{stem}.txt"])
    assert Image.open(io.BytesIO(files[f"{stem}-square.png"])).size == (1080, 1080)
    assert Image.open(io.BytesIO(files[f"{stem}-story.png"])).size == (1080, 1920)
    caption = files[f"{stem}.txt"].decode()
    assert caption == "Braderie lilloise — Magasin A, Lille #S-A\n"  # the store's personalisation
    other_caption = other[f"{stem}.txt"].decode()
    assert other_caption == "Nouvelle collection — Magasin B, Nice #S-B\n"  # HQ's default, store B
    assert files[f"{stem}-square.png"] != other[f"{stem}-square.png"]


def test_kit_of_a_campaign_uses_its_content(network, kit_templates):
    campaign = make_campaign(
        network.store_a, kit_templates["post"], name="Braderie", values={"headline": "Grande braderie"}
    )
    with activate(network.scope("store_a")):
        items = printbatch.campaign_items(Campaign.objects.get(pk=campaign.pk), "social")
        files = read_zip(store_social_export(entity=network.store_a, templates=items))
    assert (
        files[f"braderie-{kit_templates['post'].pk}.txt"].decode().startswith("Grande braderie — Magasin A")
    )


# -- pages -----------------------------------------------------------------------------------------


def test_store_downloads_its_kits_and_another_store_gets_404(network, kit_templates, print_urls, login):
    client = login(network, "store_a")
    a, b = network.store_a.pk, network.store_b.pk

    assert client.get("/delivery/print/kit/")["Location"] == f"/delivery/print/stores/{a}/"
    page = client.get(f"/delivery/print/stores/{a}/")
    assert page.status_code == 200 and kit_templates["flyer"].name.encode() in page.content
    zipped = client.get(f"/delivery/print/stores/{a}/print-kit.zip")
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    assert any(n.endswith("-a5.pdf") for n in read_zip(zipped.content))
    social = client.get(f"/delivery/print/stores/{a}/social.zip")
    assert social.status_code == 200 and any(n.endswith(".txt") for n in read_zip(social.content))

    for url in (
        f"/delivery/print/stores/{b}/",
        f"/delivery/print/stores/{b}/print-kit.zip",
        f"/delivery/print/stores/{b}/social.zip",
        f"/delivery/print/stores/{network.other_store.pk}/",
        "/delivery/print/stores/999999/print-kit.zip",
    ):
        assert client.get(url).status_code == 404, url
    campaign_b = make_campaign(network.store_b, kit_templates["post"])
    assert client.get(f"/delivery/print/stores/{a}/social.zip?campaign={campaign_b.pk}").status_code == 404


def test_hq_picks_a_store_and_the_other_organisation_sees_none_of_ours(
    network, kit_templates, print_urls, login
):
    hq = login(network, "hq_admin")
    listing = hq.get("/delivery/print/kit/?q=Magasin")
    assert listing.status_code == 200
    assert b"Magasin A" in listing.content and b"Magasin B" in listing.content
    zipped = hq.get(f"/delivery/print/stores/{network.store_b.pk}/print-kit.zip")
    assert zipped.status_code == 200
    other = login(network, "other_org")
    assert b"Magasin A" not in other.get("/delivery/print/kit/").content
    assert other.get(f"/delivery/print/stores/{network.store_a.pk}/print-kit.zip").status_code == 404


def test_direct_mail_pages_start_show_and_download_the_batch(network, letter, audience, print_urls, login):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    client = login(network, "store_a")
    base = f"/delivery/print/campaigns/{campaign.pk}/direct-mail/"

    page = client.get(base)
    assert page.status_code == 200
    assert b'data-testid="recipients">4 recipients' in page.content

    started = client.post(f"{base}start/")
    job = Job.unscoped.get(kind=printbatch.JOB_KIND)
    assert started.status_code == 302 and started["Location"] == f"/jobs/{job.pk}/"
    assert jobs.run_job(job.pk, "test-worker")
    job_page = client.get(f"/jobs/{job.pk}/")
    assert job_page.status_code == 200 and b"Done" in job_page.content

    download_url = f"/delivery/print/direct-mail/{job.pk}/download/"
    assert download_url.encode() in client.get(base).content
    partial = client.get(base, headers={"HX-Request": "true"})  # the batch list the page polls
    assert partial.content.startswith(b'<div id="batches"') and download_url.encode() in partial.content
    download = client.get(download_url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    files = read_zip(b"".join(download.streaming_content))
    assert printing.media_boxes(files["letters.pdf"]) == [A4] * 4
    assert AuditEvent.unscoped.filter(action=printbatch.AUDIT_DOWNLOAD, entity=network.store_a).exists()


def test_another_stores_campaign_and_batch_answer_404(network, letter, audience, print_urls, login):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("store_a")):
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    jobs.run_job(job.pk, "test-worker")
    base = f"/delivery/print/campaigns/{campaign.pk}/direct-mail/"
    download_url = f"/delivery/print/direct-mail/{job.pk}/download/"

    for persona in ("store_b", "other_org"):
        client = login(network, persona)
        assert client.get(base).status_code == 404
        assert client.post(f"{base}start/").status_code == 404
        assert client.get(download_url).status_code == 404
    assert Job.unscoped.filter(kind=printbatch.JOB_KIND).count() == 1  # nothing started by them
    assert login(network, "store_a").get("/delivery/print/direct-mail/999999/download/").status_code == 404


def test_who_may_see_start_and_download(network, letter, audience, print_urls, login):
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])
    with activate(network.scope("hq_admin")):  # HQ (or the engine) launched it: the store downloads it
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    jobs.run_job(job.pk, "test-worker")
    base = f"/delivery/print/campaigns/{campaign.pk}/direct-mail/"
    download_url = f"/delivery/print/direct-mail/{job.pk}/download/"

    assert login(network, "store_a").get(download_url).status_code == 200
    viewer = login(network, "viewer")
    assert viewer.get(base).status_code == 200
    assert viewer.get(download_url).status_code == 403
    staff = login(network, "staff_a")
    assert staff.post(f"{base}start/").status_code == 403
    assert client_anon_redirects(base)


def client_anon_redirects(url: str) -> bool:
    from django.test import Client

    response = Client().get(url)
    return response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_refused_start_shows_why_and_starts_nothing(network, letter, audience, print_urls, login):
    campaign = make_campaign(network.store_a, letter, state="draft")
    client = login(network, "store_a")
    base = f"/delivery/print/campaigns/{campaign.pk}/direct-mail/"

    page = client.get(base)
    assert str(printbatch.NOT_APPROVED).encode() in page.content
    response = client.post(f"{base}start/", follow=True)
    assert str(printbatch.NOT_APPROVED).encode() in response.content
    assert not Job.unscoped.filter(kind=printbatch.JOB_KIND).exists()


def test_a_poster_campaign_is_a_print_kit_at_its_send_date_not_a_letter_batch(
    network, letter, audience, django_capture_on_commit_callbacks
):
    """A poster or flyer addresses nobody: at its send date it writes no message and starts no direct-mail
    batch (which would refuse it as "not a letter"); it is closed as sent, the kit being the store's
    download. A letter's campaign, launched together, still becomes one letter per contact."""
    import datetime as dt

    from django.utils import timezone

    from glocal.campaigns.states import State
    from glocal.delivery import dispatch, launch
    from glocal.delivery.models import Message

    poster = publish_template(network, network.hq, "print", PRINT_SOURCE, PRINT_ZONES)
    past = timezone.now() - dt.timedelta(minutes=1)
    kit = make_campaign(network.store_a, poster, name="Affiche", scheduled_at=past)
    letters = make_campaign(
        network.store_a, letter, scheduled_at=past, excluded_contacts=[audience["removed"].pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        launch.launch_due()
    assert not Message.unscoped.filter(campaign=kit).exists()
    assert Message.unscoped.filter(campaign=letters).count() == 4
    batches = Job.unscoped.filter(kind="delivery.direct_mail")
    assert [j.params["campaign"] for j in batches] == [letters.pk]
    dispatch.finish_campaigns()
    assert Campaign.unscoped.get(pk=kit.pk).state == State.SENT


def test_the_kits_uploaded_font_is_embedded_in_the_letters(network, letter, audience):
    """A font HQ uploaded and chose in the brand kit reaches the direct-mail batch, as it reaches a
    single print render: the letters' PDF embeds it."""
    from glocal.brand import services as brand_services
    from glocal.brand.models import Asset
    from glocal.brand.tests.test_brand_context import _renamed_font

    with activate(network.scope("hq_admin")):
        folder = brand_services.folder_create(entity=network.hq, name="Polices")
        brand_services.asset_upload(
            folder=folder,
            name="",
            filename="gbs.ttf",
            data=_renamed_font("Glocal Batch Sans"),
            kind=Asset.Kind.FONT,
        )
        brand_services.brand_kit_save(entity=network.hq, data={"fonts": ["Glocal Batch Sans"]})
    campaign = make_campaign(network.store_a, letter, excluded_contacts=audience["excluded"])

    result = batch(network, campaign)

    pdf = read_zip(result.zip_bytes)["letters.pdf"]
    assert b"Glocal-Batch-Sans" in printing.pdf_objects_text(pdf)
    assert result.fonts_embedded
