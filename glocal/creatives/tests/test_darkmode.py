"""The dark-mode preview: an email's own dark rules forced on, else a client's colour inversion simulated
(images kept), and the warning for a logo that may vanish (the transform is pure; one page test)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from glocal.creatives import darkmode, rendering

OWN_RULES = """<html><head><style>
.card { background: #ffffff; color: #111111 }
@media (prefers-color-scheme: dark) { .card { background: #121212 !important; color: #eeeeee !important } }
@media screen and (prefers-color-scheme: light) { .card { border: 1px solid #ddd } }
@media only screen and (max-width: 480px) { .card { padding: 4px } }
</style></head>
<body><div class="card"><img src="https://cdn.example/photo.png" alt="Photo"></div></body></html>"""

NO_RULES = """<html><head><style>.card { background: #fff }</style></head>
<body><div class="card"><img src="https://cdn.example/logo.png" alt="Logo Maison"></div></body></html>"""


def test_the_emails_own_dark_rules_are_forced_on():
    dark = darkmode.dark_variant(OWN_RULES)
    assert dark.simulated is False
    assert "prefers-color-scheme" not in dark.html
    assert "@media (min-width: 0px) { .card { background: #121212" in dark.html  # always applies
    assert "@media screen and (max-width: -1px) { .card { border" in dark.html  # light-only: never
    assert "@media only screen and (max-width: 480px)" in dark.html  # other queries untouched
    assert '<meta name="color-scheme" content="light dark">' in dark.html
    assert dark.html.index("color-scheme") < dark.html.index("</head>")
    assert darkmode.INVERSION not in dark.html
    assert dark.warnings == ()


def test_without_dark_rules_a_clients_inversion_is_simulated_with_images_kept():
    dark = darkmode.dark_variant(NO_RULES)
    assert dark.simulated is True
    assert "html{background:#fff;filter:invert(1) hue-rotate(180deg)}" in dark.html
    assert "img,picture,video" in dark.html  # images inverted back: they keep their colours
    assert dark.html.index(darkmode.INVERSION) < dark.html.index("</head>")
    assert dark.html.replace(darkmode.INVERSION, "").replace(darkmode.META, "") == NO_RULES


def test_a_logo_without_dark_rules_is_warned_about_in_the_readers_language():
    (warning,) = darkmode.dark_variant(NO_RULES).warnings
    assert warning.severity == "warning" and warning.code == "dark_mode_logo"
    with translation.override("fr"):
        assert "logo" in warning.text and "sombre" in warning.text
    assert darkmode.logo_warning(OWN_RULES.replace("photo.png", "logo.png")) is None  # it has dark rules


def test_an_existing_color_scheme_meta_is_not_repeated_and_no_head_still_works():
    html = '<html><head><meta name="color-scheme" content="light dark"></head><body>x</body></html>'
    assert darkmode.dark_variant(html).html.count('name="color-scheme"') == 1
    assert darkmode.dark_variant("<p>x</p>").html.startswith(darkmode.META)
    assert darkmode.dark_variant("") == darkmode.DarkPreview(html="", simulated=False)


def test_a_compiled_mjml_email_keeps_its_responsive_rules_in_dark_mode():
    html = rendering.compile_mjml(
        "<mjml><mj-head><mj-style>@media (prefers-color-scheme: dark) { .x { color: #fff } }</mj-style>"
        "</mj-head><mj-body><mj-section><mj-column><mj-text css-class='x'>Bonjour</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    dark = darkmode.dark_variant(html)
    assert darkmode.has_dark_rules(html) and not dark.simulated
    assert "@media (min-width: 0px) { .x { color: #fff } }" in dark.html
    assert "min-width:480px" in dark.html.replace(" ", "")  # MJML's own responsive query is kept


@pytest.mark.django_db
def test_the_editor_shows_the_dark_frame_beside_desktop_and_mobile(network, login, templates):
    client = login(network, "hq_marketer")
    page = client.get(reverse("creatives:edit", args=[templates.email.pk])).content.decode()
    assert 'data-testid="dark-preview"' in page
    assert "Dark mode (375 px)" in page
    assert "shown as a client that inverts colours shows it" in page  # the demo has no dark rules
    assert "data-glocal=&quot;dark-simulation&quot;" in page  # inside the frame's srcdoc
    sms = client.get(reverse("creatives:edit", args=[templates.sms.pk])).content.decode()
    assert 'data-testid="dark-preview"' not in sms
