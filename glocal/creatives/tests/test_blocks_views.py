"""The block editor through HTTP: a new email opens on blank blocks, saving compiles the source and the
zones, the live preview follows unsaved blocks and the store chosen, MJML for experts, saved blocks."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from glocal.core.scope import activate
from glocal.creatives import services
from glocal.creatives.models import ChannelTemplate, SavedBlock, TemplateVersion

pytestmark = pytest.mark.django_db

TEXT = {"type": "text", "html": "<p>Offre spéciale</p>", "zone": {"label": "Accroche"}}
CITY = {"type": "text", "html": "<p>Chez nous à {{ store.city }}</p>"}


def document(*blocks: dict) -> str:
    return json.dumps(
        {
            "version": 1,
            "sections": [{"type": "section", "columns": [{"type": "column", "blocks": list(blocks)}]}],
        }
    )


@pytest.fixture
def email(network, login) -> ChannelTemplate:
    response = login(network, "hq_marketer").post(
        reverse("creatives:create"),
        {"name": "Rentrée", "channel": "email", "entity": network.hq.pk, "approval_policy": "none"},
    )
    assert response.status_code == 302
    return ChannelTemplate.unscoped.get(name="Rentrée")


def test_a_new_email_opens_in_the_block_editor_and_saving_compiles_the_blocks(network, login, email):
    client = login(network, "hq_marketer")
    url = reverse("creatives:edit", kwargs={"pk": email.pk})
    page = client.get(url).content.decode()
    assert (
        'data-testid="block-editor"' in page and 'name="blocks_json"' in page and 'name="source"' not in page
    )
    assert 'id="block-config"' in page and "Stores may edit this" in page and "Edit MJML" in page
    response = client.post(
        url, {"editor": "blocks", "subject": "Rentrée", "blocks_json": document(TEXT), "save": "1"}
    )
    assert response.status_code == 302
    version = TemplateVersion.unscoped.get(template=email)
    assert version.blocks["sections"][0]["columns"][0]["blocks"][0] == TEXT
    assert "{{ zones.accroche }}" in version.source and "{{ unsubscribe_url }}" in version.source
    assert version.zones == [
        {"key": "accroche", "type": "rich_text", "label": "Accroche", "default": TEXT["html"]}
    ]
    page = client.get(url).content.decode()
    assert "<code>accroche</code>" in page  # the zones table
    bad = client.post(
        url,
        {
            "editor": "blocks",
            "subject": "x",
            "blocks_json": document({"type": "image", "src": "https://a.test/i.png"}),
        },
    )
    assert "the image needs an alternative text" in bad.content.decode()
    assert TemplateVersion.unscoped.get(template=email).blocks == version.blocks  # nothing written


def test_the_preview_follows_unsaved_blocks_and_the_store_chosen(network, login, email):
    client = login(network, "hq_marketer")
    url = reverse("creatives:draft_preview", kwargs={"pk": email.pk})
    data = {"editor": "blocks", "subject": "Essai", "blocks_json": document(TEXT, CITY)}
    lille = client.post(url, {**data, "store": network.store_a.pk}).content.decode()
    assert "Offre spéciale" in lille and "Chez nous à Lille" in lille and "Magasin A" in lille
    nice = client.post(url, {**data, "store": network.store_b.pk}).content.decode()
    assert "Offre spéciale" in nice and "Chez nous à Nice" in nice  # the same unsaved edit, another store
    assert "no unsubscribe link" not in nice  # the footer the editor always adds
    broken = client.post(
        url, {**data, "blocks_json": document({"type": "spacer", "height": 0})}
    ).content.decode()
    assert "Fix these to see the preview" in broken and "the height must be from 4 to 200 px" in broken
    assert TemplateVersion.unscoped.get(template=email).blocks["sections"] == []  # a preview writes nothing


def test_mjml_for_experts_leaves_the_blocks_and_back_to_blocks_reopens_them(network, login, email):
    client = login(network, "hq_marketer")
    url = reverse("creatives:edit", kwargs={"pk": email.pk})
    client.post(url, {"editor": "blocks", "subject": "Rentrée", "blocks_json": document(TEXT)})
    version = TemplateVersion.unscoped.get(template=email)
    mjml = client.get(url + "?mode=mjml").content.decode()
    assert 'name="source"' in mjml and "zones.accroche" in mjml and "Back to the block editor" in mjml
    zones_json = json.dumps(version.zones)
    # Saved unchanged, the MJML keeps its blocks.
    client.post(
        url, {"editor": "mjml", "subject": "Rentrée", "source": version.source, "zones_json": zones_json}
    )
    assert TemplateVersion.unscoped.get(template=email).blocks == version.blocks
    edited = version.source.replace("<mj-body", '<mj-body width="600px"')
    client.post(url, {"editor": "mjml", "subject": "Rentrée", "source": edited, "zones_json": zones_json})
    hand = TemplateVersion.unscoped.get(template=email)
    assert hand.blocks is None and hand.source == edited.strip()
    page = client.get(url).content.decode()
    assert "the block view is no longer available" in page and "Back to blocks" in page
    assert 'name="source"' in page and 'data-testid="block-editor"' not in page
    back = client.get(url + "?mode=blocks").content.decode()
    # No earlier blocks: a blank document.
    assert 'data-testid="block-editor"' in back and "&quot;sections&quot;: []" in back


def test_saved_blocks_are_saved_listed_and_deleted_in_their_scope(network, login, email):
    client = login(network, "hq_marketer")
    create = reverse("creatives:saved_block_create")
    partial = client.post(
        create, {"name": "Accroche", "block": json.dumps(TEXT)}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "The block is saved for reuse." in partial and "Insert Accroche" in partial
    saved = SavedBlock.unscoped.get()
    assert saved.entity == network.hq and saved.created_by == network.users["hq_marketer"]
    refused = client.post(create, {"name": "X", "block": '{"type": "bogus"}'}, HTTP_HX_REQUEST="true")
    assert "unknown block" in refused.content.decode() and SavedBlock.unscoped.count() == 1
    editor = client.get(reverse("creatives:edit", kwargs={"pk": email.pk})).content.decode()
    assert "Insert Accroche" in editor  # in the palette of every template
    listing = client.get(reverse("creatives:saved_blocks")).content.decode()
    assert "Accroche" in listing and "Delete “Accroche”" in listing
    delete = reverse("creatives:saved_block_delete", kwargs={"pk": saved.pk})
    assert login(network, "store_a").post(delete).status_code == 403
    assert login(network, "store_a").get(reverse("creatives:saved_blocks")).status_code == 403
    assert login(network, "other_org").post(delete).status_code == 404
    with activate(network.scope("other_org")):
        other = services.saved_block_create(name="Autre", block={"type": "divider"})
    other_delete = reverse("creatives:saved_block_delete", kwargs={"pk": other.pk})
    assert login(network, "hq_marketer").post(other_delete).status_code == 404
    assert (
        "Autre" not in login(network, "hq_marketer").get(reverse("creatives:saved_blocks")).content.decode()
    )
    assert SavedBlock.unscoped.count() == 2
    assert login(network, "hq_marketer").post(delete).status_code == 302
    assert list(SavedBlock.unscoped.all()) == [other]
