"""Publishing a template version: the checks gate it (an error never passes; a warning needs HQ's
confirmation, kept in the audit record), the stores' values are carried over to the new version where
they still fit (what does not is listed, the stores are told), HQ sees the changes and the stores'
losses before publishing, and can restore an earlier version the same way."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from glocal.core.models import AuditEvent
from glocal.core.scope import activate
from glocal.creatives import carry, selectors, services
from glocal.creatives import zones as zonelib
from glocal.creatives.models import Channel, Personalisation, TemplateVersion
from glocal.demo import creatives as demo

pytestmark = pytest.mark.django_db

# An email with five errors: no unsubscribe link, neither the sender's name nor its address, an image
# without alternative text, and the network's restricted word "gratuit".
FIVE_ERRORS = (
    "<mjml><mj-body><mj-section><mj-column>"
    '<mj-image src="https://cdn.example.test/vitrine.png"></mj-image>'
    "<mj-text>{{ zones.headline }} Livraison gratuite !</mj-text>"
    "</mj-column></mj-section></mj-body></mjml>"
)


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.unscoped.filter(action=action).order_by("pk"))


def _save_email(template, source=demo.DEMO_EMAIL_MJML, zones=None):
    return services.version_save(
        template=template,
        source=source,
        zones_data=zones if zones is not None else demo.DEMO_EMAIL_ZONES,
        subject="{{ zones.headline }} — {{ store.name }}",
        text=demo.DEMO_EMAIL_TEXT,
    )


# -- the gate ------------------------------------------------------------------------------------------


def test_an_email_with_error_findings_is_not_published(network, templates):
    with activate(network.scope("hq_admin")):
        draft = _save_email(templates.email, source=FIVE_ERRORS)
        with pytest.raises(ValidationError) as refused:
            services.version_publish(template=templates.email)
        with pytest.raises(ValidationError):  # no override for an error
            services.version_publish(template=templates.email, accept_warnings=True)
    text = " ".join(refused.value.messages)
    assert "no unsubscribe link" in text
    assert "sender's name (Magasin A)" in text
    assert "postal address" in text
    assert "no alternative text" in text
    assert "“gratuit” is a restricted word" in text
    draft.refresh_from_db()
    assert not draft.is_published and templates.email.published_version().number == 1
    assert len(_audit("template.publish")) == 2  # the fixture's two publications only


def test_an_sms_without_the_opt_out_mention_is_not_published(network, templates):
    with activate(network.scope("hq_admin")):
        services.version_save(
            template=templates.sms,
            source="{{ organisation.sms_advertiser }} : {{ zones.message }}",
            zones_data=demo.DEMO_SMS_ZONES,
        )
        with pytest.raises(ValidationError) as refused:
            services.version_publish(template=templates.sms)
    assert any("STOP au 36180" in m for m in refused.value.messages)
    assert templates.sms.published_version().number == 1


def test_a_warning_is_published_only_when_hq_confirms(network, templates):
    source = (
        "{{ organisation.sms_advertiser }} : {{ zones.message }} ça arrive ! {{ organisation.sms_opt_out }}"
    )
    with activate(network.scope("hq_admin")):
        services.version_save(template=templates.sms, source=source, zones_data=demo.DEMO_SMS_ZONES)
        with pytest.raises(ValidationError) as refused:
            services.version_publish(template=templates.sms)
        assert "Confirm that you publish despite the warnings." in refused.value.messages
        assert any("UCS-2" in m for m in refused.value.messages)
        version = services.version_publish(template=templates.sms, accept_warnings=True)
    assert version.is_published and version.number == 2
    event = _audit("template.publish")[-1]
    assert event.data["despite_warnings"] is True and "ucs2" in event.data["warnings"]


def test_the_template_page_lists_the_findings_in_the_users_language(network, templates, login):
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, source=FIVE_ERRORS)
    client = login(network, "hq_admin")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    url = reverse("creatives:detail", kwargs={"pk": templates.email.pk})
    page = client.get(url).content.decode()
    assert "pas de lien de désabonnement" in page
    assert "Une erreur bloque la publication" in page
    assert reverse("creatives:publish", kwargs={"pk": templates.email.pk}) not in page  # no button
    response = client.post(reverse("creatives:publish", kwargs={"pk": templates.email.pk}), follow=True)
    assert "pas de lien de désabonnement" in response.content.decode()
    assert templates.email.published_version().number == 1


def test_warnings_on_the_page_need_the_confirmation_box(network, templates, login):
    source = (
        "{{ organisation.sms_advertiser }} : {{ zones.message }} ça arrive ! {{ organisation.sms_opt_out }}"
    )
    with activate(network.scope("hq_admin")):
        services.version_save(template=templates.sms, source=source, zones_data=demo.DEMO_SMS_ZONES)
    client = login(network, "hq_marketer")
    page = client.get(reverse("creatives:detail", kwargs={"pk": templates.sms.pk})).content.decode()
    assert 'name="accept_warnings"' in page and "UCS-2" in page
    publish = reverse("creatives:publish", kwargs={"pk": templates.sms.pk})
    client.post(publish)
    assert templates.sms.published_version().number == 1
    response = client.post(publish, {"accept_warnings": "1"}, follow=True)
    assert templates.sms.published_version().number == 2
    assert "Version 2 is published." in response.content.decode()


def test_the_demo_templates_pass_every_check(network, templates):
    with activate(network.scope("hq_admin")):
        for template in (templates.email, templates.sms):
            assert selectors.publish_findings(template.published_version()) == []


def test_a_network_without_stores_yet_can_publish(network):
    """The sample store is HQ's node when no store exists: its missing address is not the template's."""
    with activate(network.scope("hq_admin")):
        template = services.template_create(
            channel=Channel.EMAIL, name="Avant les magasins", entity=network.hq
        )
        network.store_a.is_active = network.store_a2.is_active = network.store_b.is_active = False
        for store in (network.store_a, network.store_a2, network.store_b):
            store.save(update_fields=["is_active"])
        assert services.version_publish(template=template).is_published


# -- carrying the stores' values over ------------------------------------------------------------------

SHORTENED = [dict(z) for z in demo.DEMO_EMAIL_ZONES]
SHORTENED[0] = {**SHORTENED[0], "max_length": 30, "default": "Nouveautés"}


def _personalise(network, templates, store, values):
    with activate(network.scope("hq_admin")):
        return services.personalisation_save(
            version=templates.email.published_version(), entity=store, values=values
        )


@pytest.fixture
def three_stores(network, templates):
    """Three stores' own values on v1: store A's title is 44 characters long."""
    _personalise(
        network,
        templates,
        network.store_a,
        {"headline": "Notre grande braderie d'automne commence !", "body": "<p>Chez A</p>", "offer": "-20 %"},
    )
    _personalise(network, templates, network.store_a2, {"headline": "Arras en fête", "offer": "-10 %"})
    _personalise(network, templates, network.store_b, {"headline": "Nice au soleil", "body": "<p>Chez B</p>"})
    return templates


def test_a_new_version_carries_each_stores_own_values_and_tells_the_one_that_loses(
    network, three_stores, django_capture_on_commit_callbacks
):
    templates = three_stores
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, zones=SHORTENED)
        draft = selectors.draft_of(templates.email)
        assert draft is not None
        plan = selectors.publish_plan(templates.email, draft)
        assert plan.summary == (
            "2 stores keep all their values; Magasin A loses “Titre” (now 30 characters max)."
        )
        with django_capture_on_commit_callbacks(execute=True):
            v2 = services.version_publish(template=templates.email)
    rows = {p.entity_id: p for p in Personalisation.unscoped.filter(version=v2)}
    assert rows[network.store_a2.pk].values == {"headline": "Arras en fête", "offer": "-10 %"}
    assert rows[network.store_b.pk].values == {"headline": "Nice au soleil", "body": "<p>Chez B</p>"}
    assert rows[network.store_a.pk].values == {"body": "<p>Chez A</p>", "offer": "-20 %"}
    assert [d["key"] for d in rows[network.store_a.pk].dropped] == ["headline"]
    assert rows[network.store_a.pk].dropped[0]["value"] == "Notre grande braderie d'automne commence !"
    assert not rows[network.store_a2.pk].dropped and not rows[network.store_b.pk].dropped
    assert {p.carried_from.number for p in rows.values()} == {1}
    # store A's managers are told, in their language (French by default), and only they
    assert [m.to for m in mail.outbox] == [["store_a@example.test"]]
    assert "Notre grande braderie d'automne commence !" in mail.outbox[0].body
    assert "30 caractères maximum" in mail.outbox[0].body
    event = _audit("template.publish")[-1]
    assert event.data["stores_kept"] == 2
    assert event.data["stores_losing"] == {str(network.store_a.pk): ["headline"]}


def test_the_store_sees_what_was_not_kept_until_it_saves(network, three_stores, login):
    templates = three_stores
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, zones=SHORTENED)
        services.version_publish(template=templates.email)
    client = login(network, "store_a")
    url = reverse("creatives:personalise", kwargs={"pk": templates.email.pk}) + f"?store={network.store_a.pk}"
    page = client.get(url).content.decode()
    assert 'data-testid="carry-notice"' in page
    assert "Notre grande braderie d&#x27;automne commence !" in page and "now 30 characters max" in page
    other = login(network, "store_b").get(reverse("creatives:personalise", kwargs={"pk": templates.email.pk}))
    assert 'data-testid="carry-notice"' not in other.content.decode()
    client = login(network, "store_a")
    client.post(
        reverse("creatives:personalise", kwargs={"pk": templates.email.pk}),
        {"store": network.store_a.pk, "z_headline": "Braderie d'automne", "z_offer": "-20 %", "save": "1"},
    )
    assert 'data-testid="carry-notice"' not in client.get(url).content.decode()


def test_hq_sees_the_changes_and_the_losses_before_and_after_publishing(network, three_stores, login):
    templates = three_stores
    zones_v2 = [dict(z) for z in SHORTENED]
    zones_v2[2] = {**zones_v2[2], "choices": ["-10 %", "1 acheté = 1 offert"]}  # "-20 %" removed
    zones_v2.append({"key": "signature", "type": "short_text", "label": "Signature"})
    source = demo.DEMO_EMAIL_MJML.replace("Venir au magasin", "Nous trouver")
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, source=source, zones=zones_v2)
    client = login(network, "hq_admin")
    page = client.get(reverse("creatives:detail", kwargs={"pk": templates.email.pk})).content.decode()
    assert "Publish draft v2" in page
    assert "Zones added:" in page and "Signature" in page
    assert "<code>max_length</code></td><td>60</td><td>30</td>" in page
    assert "-10 % · -20 % · 1 acheté = 1 offert" in page
    assert "Venir au magasin" in page and "Nous trouver" in page  # the source's changed lines
    summary = (
        "2 stores keep all their values; Magasin A loses “Titre” (now 30 characters max), "
        "“Offre” (no longer one of the choices: -10 %, 1 acheté = 1 offert)."
    )
    assert summary in page
    response = client.post(reverse("creatives:publish", kwargs={"pk": templates.email.pk}), follow=True)
    assert f"Version 2 is published. {summary}" in response.content.decode()


def test_restoring_an_earlier_version_publishes_it_again_and_gives_values_back(network, three_stores, login):
    templates = three_stores
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, zones=SHORTENED)
        services.version_publish(template=templates.email)
    client = login(network, "hq_admin")
    url = reverse("creatives:restore", kwargs={"pk": templates.email.pk, "number": 1})
    page = client.get(url).content.decode()
    assert "Restore version 1" in page and "as version 3" in page
    assert "<code>max_length</code></td><td>30</td><td>60</td>" in page
    assert "3 stores keep all their values." in page  # store A's title fits again
    response = client.post(url, follow=True)
    assert "Version 3 is published. 3 stores keep all their values." in response.content.decode()
    v3 = TemplateVersion.unscoped.get(template=templates.email, number=3)
    v1 = TemplateVersion.unscoped.get(template=templates.email, number=1)
    assert v3.is_published and v3.zones == v1.zones and v3.source == v1.source
    a = Personalisation.unscoped.get(version=v3, entity=network.store_a)
    assert a.values["headline"] == "Notre grande braderie d'automne commence !" and a.dropped == []
    event = _audit("template.restore")[-1]
    assert event.data["restored"] == 1 and event.data["version"] == 3
    # the current version cannot be "restored", and a store cannot restore at all
    assert (
        "is the published version already"
        in client.post(
            reverse("creatives:restore", kwargs={"pk": templates.email.pk, "number": 3}), follow=True
        ).content.decode()
    )
    assert login(network, "store_a").post(url).status_code == 403


def test_restoring_replaces_the_draft_in_progress(network, three_stores):
    templates = three_stores
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, zones=SHORTENED)
        services.version_publish(template=templates.email)
        draft = _save_email(templates.email, source=FIVE_ERRORS)
        restored = services.version_restore(template=templates.email, number=1)
    assert restored.pk == draft.pk and restored.number == 3 and restored.is_published
    assert restored.source == demo.DEMO_EMAIL_MJML


# -- the pure rules ------------------------------------------------------------------------------------


def test_carry_rules():
    old, _e = zonelib.parse_zones(
        [
            {"key": "title", "type": "short_text", "max_length": 60},
            {"key": "offer", "type": "choice", "choices": ["A", "B"]},
            {"key": "price", "type": "price"},
            {"key": "when", "type": "short_text"},
            {"key": "gone", "type": "short_text"},
            {"key": "legal", "type": "short_text"},
            {"key": "empty", "type": "short_text"},
        ]
    )
    new, _e = zonelib.parse_zones(
        [
            {"key": "title", "type": "short_text", "max_length": 60},
            {"key": "offer", "type": "choice", "choices": ["A"]},
            {"key": "price", "type": "price", "min": "1", "max": "10"},
            {"key": "when", "type": "date"},
            {"key": "legal", "type": "short_text", "locked": True, "default": "HQ"},
            {"key": "empty", "type": "short_text"},
        ]
    )
    values = {
        "title": "Bonjour",
        "offer": "B",
        "price": "19.90",
        "when": "demain",
        "gone": "x",
        "legal": "mine",
        "empty": "",
    }
    kept, lost = carry.carry_values(old, new, values)
    assert kept == {"title": "Bonjour"}
    assert {d["key"]: (d["code"], d["params"]) for d in lost} == {
        "offer": ("bad_choice", {"choices": "A"}),
        "price": ("price_out_of_range", {"min": "1", "max": "10"}),
        "when": ("type_changed", {"type": "date"}),
        "gone": ("removed", {}),
        "legal": ("locked", {}),
    }
    assert carry.reason_text("type_changed", {"type": "date"}) == "the zone is now of type “Date”"
    json.dumps(lost)  # stored as JSON


def test_a_version_published_before_the_carry_over_only_offers_values_that_fit(network, templates):
    """A store without a row on the new version (published before values were carried) gets only its
    earlier values that fit the new zones."""
    _personalise(network, templates, network.store_a, {"headline": "Un titre bien trop long pour la v2"})
    with activate(network.scope("hq_admin")):
        v1 = templates.email.published_version()
        v2 = TemplateVersion.objects.create(
            organisation_id=v1.organisation_id,
            template=templates.email,
            number=2,
            source=v1.source,
            subject=v1.subject,
            zones=SHORTENED,
        )
        assert selectors.stored_values(v2, network.store_a) == {}


def test_restore_pages_of_other_organisations_and_missing_versions_are_not_found(network, templates, login):
    with activate(network.scope("hq_admin")):
        _save_email(templates.email, zones=SHORTENED)  # v2, a draft
    with activate(network.scope("other_org")):
        theirs = services.template_create(channel=Channel.SMS, name="Autre", entity=network.other_hq)
        services.version_publish(template=theirs)
    client = login(network, "hq_admin")
    for pk, number in ((theirs.pk, 1), (templates.email.pk, 2), (templates.email.pk, 99)):
        url = reverse("creatives:restore", kwargs={"pk": pk, "number": number})
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    url = reverse("creatives:restore", kwargs={"pk": templates.email.pk, "number": 1})
    assert login(network, "other_org").get(url).status_code == 404
