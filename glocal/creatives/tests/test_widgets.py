"""The personalisation form's enhanced widgets: a rich-text zone's textarea says which toolbar
buttons its allowed tags give; an SMS template's text zones become multi-line boxes with the live
counter, given the rest of the message to count with."""

from __future__ import annotations

import json

from glocal.creatives import zones as zonelib
from glocal.creatives.forms import PersonalisationForm
from glocal.creatives.widgets import RichTextArea, message_rest, rich_buttons


def test_toolbar_buttons_follow_the_allowed_tags():
    assert rich_buttons(zonelib.RICH_TAGS) == ["bold", "italic", "link", "list", "break"]
    assert rich_buttons({"p", "b", "br"}) == ["bold", "break"]
    assert rich_buttons({"p", "ul"}) == []  # a list needs its items too


def test_rich_text_zone_is_marked_for_the_editor_and_still_a_textarea():
    zones, errors = zonelib.parse_zones([{"key": "body", "type": "rich_text", "label": "Message"}])
    assert not errors
    form = PersonalisationForm(zones=zones, role="local_manager", initial={"z_body": "<p>Bonjour</p>"})
    widget = form.fields["z_body"].widget
    assert isinstance(widget, RichTextArea)
    html = str(form["z_body"])
    assert html.startswith("<textarea") and 'name="z_body"' in html  # works without JavaScript
    assert 'data-richtext="bold italic link list break"' in html
    assert 'data-richtext-schemes="http https mailto tel"' in html
    labels = json.loads(widget.get_context("z_body", "", {})["widget"]["attrs"]["data-richtext-labels"])
    assert labels["bold"] == "Bold (Ctrl+B)"


def test_sms_text_zones_get_the_live_counter_with_the_rest_of_the_message():
    zones, _errors = zonelib.parse_zones(
        [{"key": "message", "type": "short_text", "max_length": 90}, {"key": "code", "type": "offer_code"}]
    )
    form = PersonalisationForm(zones=zones, role="local_manager", initial={"z_message": "Vente privée"})
    form.for_sms("Maison Lille : Vente privée STOP au 36180")
    html = str(form["z_message"])
    assert html.startswith("<textarea") and "data-sms-counter" in html
    assert 'data-sms-rest="Maison Lille :  STOP au 36180"' in html
    assert "data-sms-counter" not in str(form["z_code"])  # an offer code stays one line


def test_message_rest():
    assert message_rest("A B C", "B") == "A  C"
    assert message_rest("A B C", "") == "A B C"
    assert message_rest("A B C", "Z") is None  # not found as typed: the zone is counted alone
