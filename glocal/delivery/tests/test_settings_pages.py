"""HQ's delivery rules page and a store's SMS hours page: the effective SMS window (the intersection with
the law's, and with head office's for a store) said on save and on the page; the pressure caps as rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from glocal.core.scope import activate
from glocal.delivery import services, window_summary, windows
from glocal.delivery.models import DeliverySettings, SendingWindow
from glocal.delivery.views import DeliverySettingsForm

LAW = windows.legal_window("sms", "FR")


def caps_body(*rows: tuple, initial: int = 0, deleted: tuple[int, ...] = ()) -> dict[str, str]:
    body = {"caps-TOTAL_FORMS": str(len(rows)), "caps-INITIAL_FORMS": str(initial)}
    for i, (limit, days, channel) in enumerate(rows):
        body |= {f"caps-{i}-limit": str(limit), f"caps-{i}-days": str(days), f"caps-{i}-channel": channel}
        if i in deleted:
            body[f"caps-{i}-DELETE"] = "on"
    return body


def rules(**extra: str) -> dict[str, str]:
    return {"priority": "local_first", "sms_start": "", "sms_end": "", **extra}


def text(page) -> str:
    return page.content.decode()


# -- the summary (pure apart from the settings row) -------------------------------------------------------


def test_a_wider_hq_window_is_narrowed_by_the_law():
    requested = windows.Window.hours("07:00", "21:30")
    summary = window_summary.summarise(LAW, requested, days_set=False)
    with translation.override("en"):
        assert str(summary) == (
            "Effective window: 08:00–20:00, Monday to Saturday, not on public holidays"
            " — your 07:00–21:30 is narrowed by the law"
        )


def test_a_narrower_window_is_kept_and_not_said_narrowed():
    requested = windows.Window.hours("09:00", "19:00", days=frozenset({0, 2, 4}))
    summary = window_summary.summarise(LAW, requested, days_set=True)
    with translation.override("en"):
        assert str(summary) == (
            "Effective window: 09:00–19:00, Monday, Wednesday, Friday, not on public holidays"
        )


def test_days_outside_the_law_count_only_when_set():
    every_day = windows.Window.hours("09:00", "19:00")
    assert window_summary.summarise(LAW, every_day, days_set=False).narrowed_by == ()
    assert window_summary.summarise(LAW, every_day, days_set=True).narrowed_by == (window_summary.LAW,)


def test_a_store_window_is_narrowed_by_head_office_and_the_law():
    hq = windows.Window.hours("10:00", "18:00")
    mine = windows.Window.hours("07:00", "12:00")
    summary = window_summary.summarise(LAW, mine, days_set=False, above=hq)
    assert summary.narrowed_by == (window_summary.HEAD_OFFICE, window_summary.LAW)
    assert summary.effective is not None
    assert (summary.effective.start, summary.effective.end) == (600, 720)
    with translation.override("fr"):
        assert str(summary) == (
            "Fenêtre effective\u00a0: 10:00–12:00, du lundi au samedi, hors jours fériés"
            " — vos horaires 07:00–12:00 sont réduits par ceux du siège et par la loi"
        )


def test_a_window_outside_the_law_leaves_nothing():
    summary = window_summary.summarise(LAW, windows.Window.hours("20:30", "22:00"), days_set=False)
    assert summary.effective is None
    with translation.override("en"):
        assert str(summary).startswith("Effective window: none")


# -- HQ's page --------------------------------------------------------------------------------------------


def test_hq_saving_a_wide_window_is_told_the_effective_one(login, network):
    client = login(network, "hq_marketer")
    answer = client.post(
        reverse("delivery:settings"), rules(sms_start="07:00", sms_end="21:30") | caps_body(), follow=True
    )
    assert answer.status_code == 200
    page = text(answer)
    assert "Effective window: 08:00–20:00, Monday to Saturday, not on public holidays" in page
    assert "your 07:00–21:30 is narrowed by the law" in page
    saved = DeliverySettings.unscoped.get(organisation=network.org)
    assert (saved.sms_start, saved.sms_end) == (
        dt.time(7),
        dt.time(21, 30),
    )  # stored as set, applied narrowed
    again = text(client.get(reverse("delivery:settings")))
    assert again.count("your 07:00–21:30 is narrowed by the law") == 1  # the page says it (no message left)


def test_hq_page_says_the_law_applies_when_nothing_is_set(login, network):
    page = text(login(network, "hq_marketer").get(reverse("delivery:settings")))
    assert "Effective window: 08:00–20:00, Monday to Saturday, not on public holidays" in page


def test_hq_cannot_save_a_window_that_leaves_no_lawful_time(network):
    with activate(network.scope("hq_admin")):
        form = DeliverySettingsForm(rules(sms_start="20:30", sms_end="22:00"), instance=DeliverySettings())
        assert form.is_valid()
        with pytest.raises(ValidationError, match="no time"):
            services.settings_save(form=form, caps=[])
    assert not DeliverySettings.unscoped.exists()


# -- a store's page ---------------------------------------------------------------------------------------


def test_a_store_is_told_head_office_and_the_law_narrow_its_hours(login, network):
    DeliverySettings.unscoped.create(organisation=network.org, sms_start=dt.time(10), sms_end=dt.time(18))
    client = login(network, "store_a")
    before = text(client.get(reverse("delivery:window")))
    assert "Effective window: 10:00–18:00, Monday to Saturday, not on public holidays" in before
    answer = client.post(
        reverse("delivery:window"),
        {"sms_start": "07:00", "sms_end": "12:00", "sms_days": ["0", "6"]},
        follow=True,
    )
    page = text(answer)
    assert "Effective window: 10:00–12:00, Monday, not on public holidays" in page
    assert "your 07:00–12:00, Monday, Sunday is narrowed by head office&#x27;s hours and the law" in page
    assert SendingWindow.unscoped.get(entity=network.store_a).sms_days == [0, 6]


def test_a_store_window_inside_everything_is_not_said_narrowed(login, network):
    client = login(network, "store_a")
    page = text(
        client.post(reverse("delivery:window"), {"sms_start": "09:00", "sms_end": "12:00"}, follow=True)
    )
    assert "Effective window: 09:00–12:00, Monday to Saturday, not on public holidays" in page
    assert "narrowed" not in page


# -- the pressure caps' rows ------------------------------------------------------------------------------


def test_caps_are_rows_stored_in_the_same_format(login, network):
    client = login(network, "hq_marketer")
    page = text(client.get(reverse("delivery:settings")))
    assert page.count('name="caps-') >= 3 * 4  # a few empty rows without JavaScript
    assert 'data-formset-add="caps"' in page and "caps-__prefix__-limit" in page  # the row to clone
    body = rules() | caps_body((3, 7, "email"), (1, 7, "sms"), ("", "", ""), (2, 30, "print"), (6, 14, ""))
    assert client.post(reverse("delivery:settings"), body).status_code == 302
    assert DeliverySettings.unscoped.get(organisation=network.org).caps == [
        {"limit": 3, "days": 7, "channel": "email"},
        {"limit": 1, "days": 7, "channel": "sms"},
        {"limit": 2, "days": 30, "channel": "print"},
        {"limit": 6, "days": 14, "channel": ""},
    ]


def test_a_cap_row_is_removed(login, network):
    DeliverySettings.unscoped.create(
        organisation=network.org,
        caps=[{"limit": 3, "days": 7, "channel": "email"}, {"limit": 5, "days": 7, "channel": ""}],
    )
    client = login(network, "hq_marketer")
    page = text(client.get(reverse("delivery:settings")))
    assert 'name="caps-0-limit" value="3"' in page and 'name="caps-1-limit" value="5"' in page
    body = rules() | caps_body((3, 7, "email"), (5, 7, ""), initial=2, deleted=(0,))
    assert client.post(reverse("delivery:settings"), body).status_code == 302
    assert DeliverySettings.unscoped.get(organisation=network.org).caps == [
        {"limit": 5, "days": 7, "channel": ""}
    ]


@pytest.mark.parametrize(
    ("language", "row", "message"),
    [
        ("en", (0, 7, "email"), "At least 1 message (remove the row to have no cap)."),
        ("en", (3, 400, ""), "A period of 1 to 365 days."),
        ("en", (3, "", "sms"), "Over how many days?"),
        ("fr", (3, 400, ""), "Une période de 1 à 365\u00a0jours."),
        ("fr", ("", 7, "sms"), "Combien de messages au plus\u00a0?"),
    ],
)
def test_a_wrong_row_says_what_is_wrong_in_the_users_language(login, network, language, row, message):
    client = login(network, "hq_marketer")
    client.cookies["django_language"] = language
    answer = client.post(
        reverse("delivery:settings"), rules() | caps_body((3, 7, "email"), row), HTTP_ACCEPT_LANGUAGE=language
    )
    assert answer.status_code == 200
    assert message.replace("'", "&#x27;") in text(answer)
    assert not DeliverySettings.unscoped.exists()


def test_two_rows_for_the_same_channel_and_period_are_refused(login, network):
    client = login(network, "hq_marketer")
    answer = client.post(reverse("delivery:settings"), rules() | caps_body((3, 7, "email"), (2, 7, "email")))
    assert answer.status_code == 200
    assert "Row 1 has the same channel and period: keep one of the two." in text(answer)
    with activate(network.scope("hq_marketer")), pytest.raises(ValidationError):
        services.validate_caps([{"limit": 3, "days": 7, "channel": "email"}] * 2)
