"""External prospect lists: the shared reader's encodings and limits (all or nothing, bounded memory)."""

import datetime
import tracemalloc

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from glocal.core.tests import hostile_files
from glocal.targeting import prospects
from glocal.targeting.models import ProspectList, ProspectRecord

from .helpers import upload_prospects

MEMORY_BOUND = 100 * 1024 * 1024


def test_a_windows_1252_list_is_read_and_reported(network):
    data = "email;prénom;nom\nzoe@example.test;Zoé;Lefèvre\n".encode("cp1252")
    plist, report = upload_prospects(network, data)
    assert plist is not None and report.encoding == "Windows-1252"
    assert ProspectRecord.unscoped.get().first_name == "Zoé"


def test_an_undecodable_list_is_refused_in_one_error(network):
    plist, report = upload_prospects(network, b"email;nom\nx@example.test;Bad\x81name\n")
    assert plist is None and len(report.errors) == 1 and "UTF-8" in report.errors[0].reason
    assert not ProspectList.unscoped.exists()


def test_a_list_with_100000_columns_is_refused_within_bounded_memory(network):
    data = hostile_files.wide_csv(100_000)
    tracemalloc.start()
    try:
        plist, report = upload_prospects(network, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert plist is None and "200 columns" in report.errors[0].reason and report.errors[0].row == 1
    assert not ProspectList.unscoped.exists() and not ProspectRecord.unscoped.exists()
    assert peak < MEMORY_BOUND


def test_the_row_limit_keeps_earlier_row_errors_and_writes_nothing(network, monkeypatch):
    monkeypatch.setattr(prospects, "MAX_ROWS", 3)
    data = b"email\nbroken\na@example.test\nb@example.test\nc@example.test\n"
    plist, report = upload_prospects(network, data)
    assert plist is None
    assert [e.row for e in report.errors] == [2, 5]
    assert "more than 3 rows" in report.errors[1].reason
    assert not ProspectList.unscoped.exists()


def test_the_upload_page_streams_the_file_and_shows_the_refusal(network, login):
    client = login(network, "store_a")
    response = client.post(
        reverse("targeting:prospect_upload"),
        {
            "name": "L",
            "campaign_ref": "c1",
            "purge_after": (timezone.localdate() + datetime.timedelta(days=5)).isoformat(),
            "entity": network.store_a.pk,
            "file": SimpleUploadedFile("wide.csv", hostile_files.wide_csv(100_000)),
        },
    )
    assert response.status_code == 200 and "200 columns" in response.content.decode()
    assert len(response.content) < 100_000
    assert not ProspectList.unscoped.exists()
    response = client.post(
        reverse("targeting:prospect_upload"),
        {
            "name": "L",
            "campaign_ref": "c1",
            "purge_after": (timezone.localdate() + datetime.timedelta(days=5)).isoformat(),
            "entity": network.store_a.pk,
            "file": SimpleUploadedFile("l.csv", "email;nom\nzoe@example.test;Lefèvre\n".encode("cp1252")),
        },
        follow=True,
    )
    assert "Windows-1252" in response.content.decode()
    assert ProspectRecord.unscoped.get().last_name == "Lefèvre"
