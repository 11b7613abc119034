"""The personalisation screen and HQ editor through HTTP: locks, limits, scope, preview."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.creatives import services
from glocal.creatives.models import (
    Channel,
    ChannelTemplate,
    CreativeSettings,
    Personalisation,
    TemplateVersion,
)
from glocal.demo import creatives as demo

pytestmark = pytest.mark.django_db


def personalise_url(t):
    return reverse("creatives:personalise", kwargs={"pk": t.pk})


def snapshot(network) -> dict:
    with activate(network.scope("hq_admin")):
        return {
            "templates": list(ChannelTemplate.objects.order_by("pk").values_list("pk", "name", "status")),
            "versions": list(
                TemplateVersion.objects.order_by("pk").values_list("pk", "source", "zones", "published_at")
            ),
            "personalisations": list(
                Personalisation.unscoped.order_by("pk").values_list("pk", "entity_id", "values", "status")
            ),
            "settings": list(CreativeSettings.unscoped.values_list("restricted_patterns", "sms_opt_out")),
            "audit": AuditEvent.unscoped.count(),
        }


def test_store_manager_personalises_and_the_preview_follows(network, templates, login):
    client = login(network, "store_a")
    page = client.get(personalise_url(templates.email))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="z_headline"' in html and 'data-maxlength="60"' in html
    assert 'name="z_legal"' not in html  # locked: no field at all
    assert 'sandbox=""' in html and "srcdoc=" in html and "Magasin A" in html

    preview = client.post(
        reverse("creatives:preview", kwargs={"pk": templates.email.pk}),
        {
            "store": network.store_a.pk,
            "z_headline": "Grande braderie",
            "z_offer": "-20 %",
            "recipient": "long",
        },
        HTTP_HX_REQUEST="true",
    )
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "Grande braderie" in body and "Offre : -20 %" in body and "Marie-Genevi" in body
    assert 'width="640"' in body and 'width="375"' in body

    saved = client.post(
        personalise_url(templates.email),
        {"store": network.store_a.pk, "z_headline": "Grande braderie", "z_body": "<p>Venez</p>", "save": "1"},
    )
    assert saved.status_code == 302
    found = Personalisation.unscoped.get(entity=network.store_a)
    assert found.values["headline"] == "Grande braderie" and found.status == "draft"
    assert client.get(saved["Location"]).status_code == 200


def test_locked_zone_forged_in_the_form_changes_nothing(network, templates, login):
    client = login(network, "store_a")
    before = snapshot(network)
    response = client.post(
        personalise_url(templates.email),
        {"store": network.store_a.pk, "z_headline": "Ok", "z_legal": "Rien n'est valable", "save": "1"},
    )
    assert response.status_code == 200
    assert "locked by head office" in response.content.decode()
    assert snapshot(network) == before
    # Unknown keys are refused too, never silently dropped.
    response = client.post(
        personalise_url(templates.email), {"store": network.store_a.pk, "z_footer": "x", "save": "1"}
    )
    assert "is not a zone of this template" in response.content.decode()
    assert snapshot(network) == before


def test_the_service_refuses_locked_zones_whoever_calls_it(network, templates):
    from django.core.exceptions import ValidationError

    with activate(network.scope("hq_admin")):
        version = templates.email.published_version()
        with pytest.raises(ValidationError) as caught:
            services.personalisation_save(version=version, entity=network.store_a, values={"legal": "x"})
    assert "legal" in caught.value.message_dict
    assert not Personalisation.unscoped.exists()


def test_over_limit_text_is_refused_with_a_clear_message(network, templates, login):
    client = login(network, "staff_a")
    before = snapshot(network)
    response = client.post(
        personalise_url(templates.email), {"store": network.store_a.pk, "z_headline": "x" * 61, "save": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "limited to 60 characters; 61 were typed" in html
    assert "x" * 61 in html  # what was typed is kept in the form
    assert snapshot(network) == before


def test_submit_is_blocked_by_compliance_errors(network, templates, login):
    client = login(network, "store_a")
    response = client.post(
        personalise_url(templates.email),
        {"store": network.store_a.pk, "z_headline": "Livraison gratuite", "submit": "1"},
    )
    assert "is a restricted word" in response.content.decode()
    assert not Personalisation.unscoped.exists()
    response = client.post(
        personalise_url(templates.email),
        {"store": network.store_a.pk, "z_headline": "Bonne rentrée", "submit": "1"},
    )
    assert response.status_code == 302
    assert Personalisation.unscoped.get().status == "submitted"


def test_store_b_cannot_see_or_personalise_store_a(network, templates, login):
    with activate(network.scope("store_a")):
        mine = services.personalisation_save(
            version=templates.email.published_version(), entity=network.store_a, values={"headline": "A"}
        )
    before = snapshot(network)
    client = login(network, "store_b")
    url = reverse("creatives:personalisation", kwargs={"pk": mine.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"z_headline": "Hacked", "save": "1"}).status_code == 404
    # Naming store A in the payload does not help either.
    assert client.get(personalise_url(templates.email), {"store": network.store_a.pk}).status_code == 404
    response = client.post(
        personalise_url(templates.email), {"store": network.store_a.pk, "z_headline": "Hacked", "save": "1"}
    )
    assert response.status_code == 404
    preview = reverse("creatives:preview", kwargs={"pk": templates.email.pk})
    assert client.post(preview, {"store": network.store_a.pk}).status_code == 404
    assert snapshot(network) == before


def test_hq_picks_a_store_and_regional_only_sees_its_region(network, templates, login):
    hq = login(network, "hq_admin")
    assert "Personalise for which store?" in hq.get(personalise_url(templates.email)).content.decode()
    page = hq.get(personalise_url(templates.email), {"store": network.store_b.pk}).content.decode()
    assert "Nice" in page
    regional = login(network, "regional")
    assert regional.get(personalise_url(templates.email), {"store": network.store_b.pk}).status_code == 404
    assert regional.get(personalise_url(templates.email), {"store": network.store_a2.pk}).status_code == 200


def test_denied_writes_change_nothing(network, templates, login, client):
    before = snapshot(network)
    email = templates.email.pk
    attempts = [
        ("viewer", "creatives:personalise", {"pk": email}, {"store": network.store_a.pk, "z_headline": "x"}),
        ("store_a", "creatives:create", {}, {"name": "X", "channel": "email", "entity": network.hq.pk}),
        ("store_a", "creatives:edit", {"pk": email}, {"source": "hacked", "zones_json": "[]"}),
        ("regional", "creatives:publish", {"pk": email}, {}),
        ("staff_a", "creatives:archive", {"pk": email}, {}),
        ("store_a", "creatives:settings", {}, {"patterns": "", "sms_opt_out": "x"}),
        ("other_org", "creatives:edit", {"pk": email}, {"source": "hacked", "zones_json": "[]"}),
        ("other_org", "creatives:archive", {"pk": email}, {}),
        (
            "other_org",
            "creatives:personalise",
            {"pk": email},
            {"store": network.store_a.pk, "z_headline": "x"},
        ),
        ("store_b", "creatives:personalise", {"pk": email}, {"store": network.store_a.pk, "z_headline": "x"}),
    ]
    for persona, route, kwargs, data in attempts:
        response = login(network, persona).post(reverse(route, kwargs=kwargs), data)
        assert response.status_code in {403, 404}, f"{persona} {route}: {response.status_code}"
    assert snapshot(network) == before


def test_other_org_never_sees_templates(network, templates, login):
    client = login(network, "other_org")
    assert "Lettre" not in client.get(reverse("creatives:list")).content.decode()
    assert client.get(reverse("creatives:detail", kwargs={"pk": templates.email.pk})).status_code == 404


def test_hq_editor_shows_zone_errors_plainly_and_publishes_new_versions(network, templates, login):
    client = login(network, "hq_marketer")
    url = reverse("creatives:edit", kwargs={"pk": templates.sms.pk})
    v1 = templates.sms.published_version()
    bad = client.post(url, {"source": "x", "zones_json": '[{"key": "a", "type": "short_text",}]'})
    assert "not valid JSON (line 1" in bad.content.decode()
    bad = client.post(url, {"source": "x", "zones_json": '[{"key": "a", "type": "poster"}]'})
    assert "the type must be one of" in bad.content.decode()
    bad = client.post(url, {"source": "{% if %}", "zones_json": "[]"})
    assert "Template error on line 1" in bad.content.decode()
    zones_json = json.dumps([{"key": "message", "type": "short_text", "max_length": 40}])
    source = "{{ organisation.sms_advertiser }} {{ zones.message }} {{ organisation.sms_opt_out }}"
    response = client.post(url, {"source": source, "zones_json": zones_json, "publish": "1"})
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.source != source  # the published version never changed
    with activate(network.scope("hq_admin")):
        latest = templates.sms.latest_version()
    assert latest.number == 2 and latest.is_published and latest.source == source
    # Editing a published template starts a new draft.
    client.post(url, {"source": source + " !", "zones_json": zones_json, "save": "1"})
    with activate(network.scope("hq_admin")):
        assert templates.sms.latest_version().number == 3
        assert not templates.sms.latest_version().is_published


def test_hq_creates_a_template_and_sms_preview_counts_segments(network, login):
    client = login(network, "hq_admin")
    response = client.post(
        reverse("creatives:create"),
        {"name": "Flash", "channel": "sms", "entity": network.hq.pk, "approval_policy": "none"},
    )
    assert response.status_code == 302
    template = ChannelTemplate.unscoped.get(name="Flash")
    client.post(reverse("creatives:publish", kwargs={"pk": template.pk}))
    assert template.published_version() is not None  # the starter passes the checks it is held to
    page = login(network, "store_a").post(
        reverse("creatives:preview", kwargs={"pk": template.pk}),
        {"store": network.store_a.pk, "z_message": "Soldes ç " + "x" * 80},
    )
    body = page.content.decode()
    assert "UCS-2" in body and "2 segments" in body
    assert "Maison Test Lille : Soldes" in body and "STOP au 36180" in body
    assert "The SMS must name the advertiser" not in body


def test_settings_refuse_dangerous_patterns(network, login):
    client = login(network, "hq_admin")
    data = {
        "patterns": "(a+)+$",
        "sms_advertiser": "M",
        "sms_opt_out": "STOP",
        "sms_price_per_segment": "0.05",
        "sms_segment_limit": "2",
    }
    assert "nested repetitions" in client.post(reverse("creatives:settings"), data).content.decode()
    assert not CreativeSettings.unscoped.exists()
    data["patterns"] = "gratuit\nofferts?"
    assert client.post(reverse("creatives:settings"), data).status_code == 302
    assert CreativeSettings.unscoped.get().restricted_patterns == ["gratuit", "offerts?"]


def test_a_published_version_cannot_be_changed_even_directly(network, templates):
    from django.core.exceptions import ValidationError

    version = TemplateVersion.unscoped.get(template=templates.sms)
    version.source = "changed"
    with pytest.raises(ValidationError):
        version.save()
    assert TemplateVersion.unscoped.get(pk=version.pk).source != "changed"


def test_screens_and_findings_in_french(network, templates, login):
    from django.conf import settings

    client = login(network, "store_a")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get(personalise_url(templates.email)).content.decode()
    assert "Votre contenu" in page and "Fixé par le siège" in page
    response = client.post(
        personalise_url(templates.email), {"store": network.store_a.pk, "z_headline": "x" * 61, "save": "1"}
    )
    assert "60" in response.content.decode() and "Enregistrer et soumettre" in response.content.decode()


def test_the_editor_preview_follows_unsaved_edits(network, templates, login):
    url = reverse("creatives:draft_preview", kwargs={"pk": templates.email.pk})
    data = {
        "source": "<mjml><mj-body><mj-section><mj-column><mj-text>Brouillon {{ store.city }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>",
        "subject": "Essai",
        "zones_json": "[]",
        "store": network.store_b.pk,
    }
    before = snapshot(network)
    body = login(network, "hq_marketer").post(url, data).content.decode()
    assert "Brouillon Nice" in body and 'sandbox=""' in body
    assert "no unsubscribe link" in body  # the checks run on the draft too
    body = login(network, "hq_marketer").post(url, {**data, "zones_json": "[{"}).content.decode()
    assert "Fix these to see the preview" in body and "not valid JSON" in body
    assert login(network, "store_a").post(url, data).status_code == 403
    assert login(network, "other_org").post(url, data).status_code == 404
    assert snapshot(network) == before  # a preview writes nothing


def test_image_zones_offer_the_library_choices_when_plugged_in(network, templates, monkeypatch):
    from glocal.creatives import forms, hooks, zones

    image_zones, _ = zones.parse_zones([{"key": "hero", "type": "image", "tag": "summer"}])
    library = hooks.ImageLibrary(
        url=lambda asset_id, zone: "", choices=lambda zone: [("7", f"Beach ({zone.tag})")]
    )
    monkeypatch.setattr(hooks, "IMAGE_LIBRARY", [library])
    form = forms.PersonalisationForm(zones=image_zones, role="local_manager")
    assert list(form.fields["z_hero"].choices) == [("", "—"), ("7", "Beach (summer)")]  # type: ignore[attr-defined]
    monkeypatch.setattr(hooks, "IMAGE_LIBRARY", [])
    form = forms.PersonalisationForm(zones=image_zones, role="local_manager")
    assert form.fields["z_hero"].__class__.__name__ == "CharField"


def test_stores_and_regions_see_only_what_hq_has_published(network, templates, login):
    """HQ's drafts stay at HQ: below the owner a template appears once published, and only its published
    versions (the draft of the next version is not shown either)."""
    with activate(network.scope("hq_admin")):
        draft = services.template_create(channel=Channel.EMAIL, name="Brouillon secret", entity=network.hq)
        services.version_save(template=draft, source=demo.DEMO_EMAIL_MJML, zones_data=demo.DEMO_EMAIL_ZONES)
        services.version_save(
            template=templates.email,
            source=demo.DEMO_EMAIL_MJML.replace("</mj-body>", "<mj-section></mj-section></mj-body>"),
            zones_data=demo.DEMO_EMAIL_ZONES,
        )
    hq = login(network, "hq_admin")
    assert hq.get(reverse("creatives:detail", args=[draft.pk])).status_code == 200
    assert "Brouillon secret" in hq.get(reverse("creatives:list")).content.decode()
    for persona in ("regional", "store_a", "staff_a"):
        client = login(network, persona)
        assert client.get(reverse("creatives:detail", args=[draft.pk])).status_code == 404, persona
        assert "Brouillon secret" not in client.get(reverse("creatives:list")).content.decode(), persona
        with activate(network.scope(persona)):
            numbers = set(
                TemplateVersion.objects.filter(template=templates.email).values_list("number", flat=True)
            )
            assert numbers == {1}, persona
    with activate(network.scope("hq_admin")):
        assert TemplateVersion.objects.filter(template=templates.email).count() == 2
