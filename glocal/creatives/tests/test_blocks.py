"""The block editor's document (creatives.blocks): every block compiles to MJML that renders what it
says, the zones it defines, the problems refused with their place, the locked footer that makes a blank
page compliant, and saved blocks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.creatives import blocks, compliance, hooks, rendering, selectors, services
from glocal.creatives import zones as zonelib
from glocal.creatives.models import SavedBlock, TemplateVersion
from glocal.creatives.sandbox import compile_source, render

pytestmark = pytest.mark.django_db

STORE: dict[str, Any] = {
    "name": "Magasin A",
    "full_address": "1 rue Nationale, 59000 Lille",
    "phone": "03 20 00 00 00",
    "hours_lines": ["Monday: 9:00–19:00"],
    "map_url": "https://maps.test/magasin-a",
    "facebook": "https://facebook.example/magasin-a",
    "instagram": "",
    "city": "Lille",
}


def doc(*content: dict[str, Any], columns: int = 1, **section: Any) -> dict[str, Any]:
    """A document of one section whose first column holds ``content``."""
    cols = [{"type": "column", "blocks": list(content)}] + [
        {"type": "column", "blocks": []} for _ in range(columns - 1)
    ]
    return {"version": 1, "sections": [{"type": "section", "columns": cols, **section}]}


def html_of(document: dict[str, Any], values: dict[str, Any] | None = None) -> str:
    """The document compiled, rendered for STORE in the sandbox as a send does, then MJML → HTML."""
    compiled = blocks.compile_document(document)
    zone_defs, problems = zonelib.parse_zones(compiled.zones)
    assert problems == []
    context = {
        "store": STORE,
        "zones": rendering.zone_context(zone_defs, zonelib.resolve(zone_defs, values or {}), html=True),
        "brand": {"primary": "#ab1234"},
        "organisation": {},
    }
    stage1 = compile_source(rendering.STAGE1_ENV, rendering.defer_recipient_expressions(compiled.source))
    mjml_html = rendering.compile_mjml(render(stage1, context))
    return render(
        compile_source(rendering.HTML_ENV, mjml_html), {**context, "unsubscribe_url": "https://u.test/x"}
    )


def test_every_block_type_compiles_to_mjml_that_shows_what_it_says(monkeypatch):
    monkeypatch.setattr(
        hooks,
        "IMAGE_LIBRARY",
        [hooks.ImageLibrary(url=lambda a, z: f"https://lib.test/{a}.png", choices=lambda z: [])],
    )
    document = doc(
        {
            "type": "text",
            "html": "<p>Bonjour <strong>{{ store.city }}</strong></p>",
            "align": "center",
            "size": 18,
        },
        {
            "type": "image",
            "asset": "42",
            "alt": "La vitrine",
            "href": "https://shop.test/vitrine",
            "width": 300,
        },
        {"type": "image", "src": "https://cdn.test/banner.png", "alt": "Bannière"},
        {
            "type": "button",
            "label": "Voir l'offre",
            "href": "{{ store.map_url }}",
            "background": "brand.primary",
        },
        {
            "type": "product",
            "products": [
                {
                    "src": "https://cdn.test/p1.png",
                    "name": "Chaise",
                    "price": "49.90",
                    "href": "https://shop.test/1",
                },
                {"asset": "7", "name": "Table", "price": "129", "href": "https://shop.test/2"},
            ],
        },
        {"type": "store", "title": "Votre magasin", "map_label": "Itinéraire", "phone_label": "Tél. :"},
        {"type": "social"},
        {"type": "spacer", "height": 32},
        {"type": "divider", "color": "#123456", "thickness": 3},
        columns=2,
        background="#fafafa",
        padding=24,
    )
    source = blocks.compile_document(document).source
    for tag in (
        "mj-section",
        "mj-column",
        "mj-text",
        "mj-image",
        "mj-button",
        "mj-social",
        "mj-spacer",
        "mj-divider",
    ):
        assert f"<{tag}" in source
    html = html_of(document)
    assert "Bonjour <strong>Lille</strong>" in html
    assert (
        'src="https://lib.test/42.png"' in html
        and 'alt="La vitrine"' in html
        and "https://shop.test/vitrine" in html
    )
    assert 'src="https://cdn.test/banner.png"' in html and 'alt="Bannière"' in html
    assert "Voir l&#39;offre" in html or "Voir l'offre" in html
    assert STORE["map_url"] in html and "#ab1234" in html  # the brand kit's primary colour
    assert (
        "Chaise" in html
        and "49.90" in html
        and "https://lib.test/7.png" in html
        and "https://shop.test/2" in html
    )
    assert "Votre magasin" in html and "03 20 00 00 00" in html and "Monday: 9:00–19:00" in html
    assert "Itinéraire" in html
    assert (
        STORE["facebook"] in html and "instagram" not in html.lower().split("</head>")[1]
    )  # no page: no icon
    assert "height:32px" in html and "#123456" in html and "#fafafa" in html
    # The footer: the sender's name and address, the unsubscribe link.
    assert "Magasin A — 1 rue Nationale, 59000 Lille" in html and 'href="https://u.test/x"' in html


def test_editable_blocks_become_zones_with_their_attributes():
    document = doc(
        {
            "type": "text",
            "html": "<p>Texte du siège</p>",
            "zone": {
                "label": "Titre de l'été",
                "roles": ["local_manager"],
                "required": True,
                "max_length": 80,
            },
        },
        {
            "type": "image",
            "asset": "3",
            "alt": "Photo",
            "zone": {"key": "photo", "label": "Photo du magasin"},
        },
        {"type": "image", "asset": "4", "alt": "Logo"},
        {"type": "button", "label": "Venez", "href": "https://shop.test", "zone": {"label": "Bouton"}},
        {
            "type": "product",
            "products": [{"name": "A", "price": "9,90"}, {"name": "B", "price": "12"}],
            "zone": {"label": "Produits"},
        },
        {"type": "text", "html": "<p>Verrouillé</p>"},
    )
    compiled = blocks.compile_document(document)
    by_key = {z["key"]: z for z in compiled.zones}
    assert by_key["titre_de_l_ete"] == {
        "key": "titre_de_l_ete",
        "type": "rich_text",
        "label": "Titre de l'été",
        "roles": ["local_manager"],
        "required": True,
        "max_length": 80,
        "default": "<p>Texte du siège</p>",
    }
    assert by_key["photo"] == {"key": "photo", "type": "image", "label": "Photo du magasin", "default": "3"}
    assert by_key["hq_image"]["locked"] is True and by_key["hq_image"]["default"] == "4"  # HQ's library image
    assert by_key["bouton"] == {
        "key": "bouton",
        "type": "short_text",
        "label": "Bouton",
        "max_length": 40,
        "default": "Venez",
    }
    assert by_key["produits_1_price"]["type"] == "price" and by_key["produits_1_price"]["default"] == "9.90"
    assert by_key["produits_2_name"]["default"] == "B" and by_key["produits_2_image"]["type"] == "image"
    assert "Verrouillé" in compiled.source and "{{ zones.titre_de_l_ete }}" in compiled.source
    zone_defs, problems = zonelib.parse_zones(compiled.zones)
    assert problems == [] and [z.key for z in zone_defs if z.locked] == ["hq_image"]
    # A store's value shows; the locked text does not move.
    html = html_of(document, {"titre_de_l_ete": "<p>Soldes à Lille</p>", "bouton": "Je viens"})
    assert "Soldes à Lille" in html and "Je viens" in html and "Texte du siège" not in html


def test_image_zone_limits_are_emitted_only_when_set():
    plain = blocks.compile_document(doc({"type": "image", "alt": "x", "zone": {"label": "Photo"}}))
    assert plain.zones == [{"key": "photo", "type": "image", "label": "Photo"}]
    limited = {"label": "Photo", "formats": ["jpeg", "png"], "min_width": 600, "max_kb": 500}
    compiled = blocks.compile_document(doc({"type": "image", "alt": "x", "zone": limited}))
    assert compiled.zones == [
        {
            "key": "photo",
            "type": "image",
            "label": "Photo",
            "formats": ["jpeg", "png"],
            "min_width": 600,
            "max_kb": 500,
        }
    ]
    zone_defs, problems = zonelib.parse_zones(compiled.zones)  # the zone rules know them
    assert problems == [] and zone_defs[0].formats == ("jpeg", "png")


def test_zone_keys_are_derived_once_and_typed_keys_win():
    document = doc(
        {"type": "text", "html": "<p>a</p>", "zone": {"label": "Offre"}},
        {"type": "text", "html": "<p>b</p>", "zone": {"label": "Offre"}},
        {"type": "text", "html": "<p>c</p>", "zone": {"key": "offre_2", "label": "Autre"}},
    )
    assert [z["key"] for z in blocks.compile_document(document).zones] == ["offre", "offre_3", "offre_2"]
    twice = doc(
        {"type": "text", "html": "<p>a</p>", "zone": {"key": "titre"}},
        {"type": "text", "html": "<p>b</p>", "zone": {"key": "titre"}},
    )
    assert [p.text for p in blocks.validate(twice)] == ["Zone “titre” is defined twice."]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not a document", "this is not a block document"),
        (
            {"version": 1, "sections": [{"type": "section", "columns": []}]},
            "Section 1 (Section): a section holds 1 to 3 columns.",
        ),
        (doc({"type": "video"}), "Section 1, column 1, block 1: unknown block; the types are text, image"),
        (
            doc({"type": "image", "src": "https://x.test/a.png"}),
            "block 1 (Image): the image needs an alternative text",
        ),
        (
            doc({"type": "image", "alt": "x"}),
            "block 1 (Image): choose an image, or let the stores choose it.",
        ),
        (
            doc({"type": "button", "label": "Go", "href": "javascript:alert(1)"}),
            "block 1 (Button): the link must start with https://",
        ),
        (doc({"type": "text", "html": "", "color": "red"}), "the colour “red” must be like #1f5135"),
        (doc({"type": "product", "products": [{"name": "A"}]}), "a product grid holds 2 or 3 products."),
        (
            doc({"type": "product", "products": [{"price": "abc"}, {}]}),
            "product 1: the price must be a number",
        ),
        (doc({"type": "spacer", "height": 5000}), "the height must be from 4 to 200 px."),
        (
            doc({"type": "text", "html": "", "zone": {"key": "Bad Key"}}),
            "the zone key must be lowercase letters",
        ),
        (
            doc({"type": "text", "html": "", "zone": {"roles": ["boss"]}}),
            "who may edit must be among hq_admin",
        ),
        (
            doc({"type": "image", "alt": "x", "zone": {"formats": ["bmp"]}}),
            "the image formats must be among jpeg, png",
        ),
        (doc({"type": "store", "zone": {}}), "this block cannot be edited by the stores."),
        (doc({"type": "text", "html": "", "onclick": "x"}), "unknown attribute(s) onclick."),
    ],
)
def test_invalid_documents_are_refused_with_a_clear_message(document, message):
    texts = [p.text for p in blocks.validate(document)]
    assert any(message in text for text in texts), texts


def test_the_editor_json_is_parsed_with_its_problem_placed():
    compiled, _doc, problems = blocks.compile_json('{"version": 1, "sections": [')
    assert compiled is None and "not valid JSON (line 1" in problems[0].text
    compiled, document, problems = blocks.compile_json("")
    assert compiled is not None and problems == [] and document == blocks.blank_document()
    assert "{{ unsubscribe_url }}" in compiled.source


def test_a_blank_page_with_one_text_block_passes_the_email_checks():
    html = html_of(doc({"type": "text", "html": "<p>Nos nouveautés arrivent en magasin cette semaine.</p>"}))
    ctx = compliance.EmailContext(
        sender_name=STORE["name"], postal_address=STORE["full_address"], unsubscribe_url="https://u.test/x"
    )
    assert compliance.check_email(html, rendering.html_to_text(html), "Nouveautés", ctx) == []


def test_a_new_email_template_opens_on_a_blank_block_page_that_can_be_published(network):
    with activate(network.scope("hq_marketer")):
        template = services.template_create(channel="email", name="Rentrée", entity=network.hq)
        first = template.latest_version()
        assert first is not None
        assert first.blocks == blocks.blank_document() and "{{ unsubscribe_url }}" in first.source
        document = doc({"type": "text", "html": "<p>Bonjour</p>", "zone": {"label": "Accroche"}})
        version = services.version_save(
            template=template, source="", zones_data=[], subject="Rentrée", blocks=document
        )
        assert version.blocks == document and version.zones[0]["key"] == "accroche"
        assert "{{ zones.accroche }}" in version.source
        assert [f for f in selectors.publish_findings(version) if f.severity == "error"] == []
        with pytest.raises(ValidationError, match="the button needs a label"):
            services.version_save(
                template=template,
                source="",
                zones_data=[],
                subject="x",
                blocks=doc({"type": "button", "href": "https://a.test"}),
            )
        # MJML by hand: the version leaves the block editor.
        hand = services.version_save(
            template=template, source=version.source + " ", zones_data=version.zones, subject="x"
        )
        assert hand.blocks is None
        assert TemplateVersion.unscoped.get(pk=hand.pk).blocks is None


def test_saved_blocks_round_trip_and_stay_in_their_tree(network):
    block = {
        "type": "button",
        "id": "b1",
        "label": "Go",
        "href": "https://a.test",
        "zone": {"key": "go", "label": "Go"},
    }
    with activate(network.scope("hq_marketer")):
        saved = services.saved_block_create(name="  Bouton promo ", block=block)
        assert saved.name == "Bouton promo" and saved.entity == network.hq
        assert saved.block == {**block, "zone": {"label": "Go"}}  # its key is derived afresh where inserted
        assert AuditEvent.unscoped.filter(action="template.block_save").exists()
        # Inserted into a document: it compiles like any block.
        assert blocks.compile_document(doc(saved.block)).zones[0]["key"] == "go"
        with pytest.raises(ValidationError, match="the button needs a label"):
            services.saved_block_create(name="Vide", block={"type": "button", "href": "https://a.test"})
        with pytest.raises(ValidationError, match="Give the block a name"):
            services.saved_block_create(name=" ", block=block)
    with activate(network.scope("regional")):
        assert list(SavedBlock.objects.all()) == [saved]  # a region sees HQ's blocks
    with activate(network.scope("store_a")):
        assert SavedBlock.objects.count() == 1  # visible below its owner, but a store cannot manage them
    with activate(network.scope("other_org")):
        assert SavedBlock.objects.count() == 0
    with activate(network.scope("hq_marketer")):
        services.saved_block_delete(saved=saved)
        assert not SavedBlock.objects.exists()


def test_a_saved_section_round_trips_through_json():
    section = doc({"type": "divider"})["sections"][0]
    assert blocks.validate_block(json.loads(json.dumps(section))) == []
    assert "Section 1 (Section)" in blocks.validate_block({"type": "section", "columns": []})[0].text
