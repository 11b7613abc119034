"""Unknown variables are errors when HQ saves a template version."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from glocal.core.scope import activate
from glocal.creatives import services
from glocal.creatives.variables import check_version_variables

ZONES = [{"key": "title", "type": "short_text", "max_length": 60, "default": "Bonjour"}]
GOOD = (
    "{{ zones.title }} {{ store.name }} {{ store.full_address }} {{ brand.primary }} {{ brand.logo_url }} "
    "{{ recipient.first_name|fallback('client') }} {{ unsubscribe_url }} {{ store.custom.anything }} "
    "{% for line in store.hours_lines %}{{ line }} {{ loop.index }}{% endfor %}{% set x = 1 %}{{ x }}"
)


@pytest.mark.parametrize(
    ("typo", "name", "known"),
    [
        ("{{ brand.primry }}", "brand.primry", "brand.primary, "),
        ("{{ zones.titel }}", "zones.titel", "zones.title"),
        ("{{ store.nmae }}", "store.nmae", "store.name"),
        ("{{ recipent.first_name }}", "recipent", "recipient"),
    ],
)
def test_each_typo_is_an_error_naming_it_and_the_known_names(typo, name, known):
    findings = check_version_variables("email", f"<p>{typo}</p>", "", "", "", ZONES)
    assert len(findings) == 1
    (finding,) = findings
    assert finding.severity == "error" and finding.code == "unknown_variable"
    assert f"Unknown variable {name} — known: " in finding.text and known in finding.text


def test_a_correct_template_has_no_finding():
    assert check_version_variables("email", GOOD, "{{ store.name }}", "", "", ZONES) == []
    assert check_version_variables("sms", "{{ store.name }} {{ zones.title }}", "", "", "", ZONES) == []
    print_source = "{{ images.photo.url }} {{ qr }} {{ page.format }} {{ brand.font }}"
    assert check_version_variables("print", print_source, "", "", "", ZONES) == []


def test_the_subject_is_checked_too():
    (finding,) = check_version_variables("email", "<p></p>", "{{ store.nmae }}", "", "", ZONES)
    assert finding.where == "subject"


def test_version_save_refuses_an_unknown_variable(network):
    with activate(network.scope("hq_admin")):
        template = services.template_create(channel="email", name="T", entity=network.hq)
        with pytest.raises(ValidationError, match="brand.primry"):
            services.version_save(
                template=template,
                source="<mjml><mj-body>{{ brand.primry }}</mj-body></mjml>",
                zones_data=ZONES,
                subject="{{ store.name }}",
            )
        version = services.version_save(
            template=template,
            source="<mjml><mj-body>{{ brand.primary }}</mj-body></mjml>",
            zones_data=ZONES,
            subject="{{ store.name }}",
        )
        assert version.pk
