"""Network import: any common encoding read (and reported), hostile files refused with bounded memory."""

import tracemalloc

import pytest
from django.core.management import call_command

from glocal.core.scope import activate
from glocal.core.tests import hostile_files
from glocal.network import importer
from glocal.network.importer import import_network
from glocal.network.models import Entity

MEMORY_BOUND = 100 * 1024 * 1024

LATIN1 = "code;parent_code;type;name;city\nR-E;HQ;region;Région Est;Nîmes\n"


def test_a_windows_1252_file_is_read_and_the_encoding_reported(network):
    with activate(network.scope("hq_admin")):
        report = import_network(LATIN1.encode("cp1252"))
        assert report.ok, report.as_dict()
        assert report.encoding == "Windows-1252" and report.created == 1
        region = Entity.objects.get(code="R-E")
    assert (region.name, region.city) == ("Région Est", "Nîmes")


def test_an_undecodable_or_binary_file_is_one_clear_file_error(network):
    with activate(network.scope("hq_admin")):
        before = Entity.objects.count()
        report = import_network(b"code,parent_code,type,name\nR-X,HQ,region,Bad\x81name\n")
        assert len(report.file_errors) == 1 and "UTF-8" in report.file_errors[0]
        report = import_network(b"code\x00name\x00")
        assert "not text" in report.file_errors[0]
        assert Entity.objects.count() == before


def test_a_csv_with_100000_columns_is_refused_within_bounded_memory(network):
    data = hostile_files.wide_csv(100_000)
    with activate(network.scope("hq_admin")):
        before = Entity.objects.count()
        tracemalloc.start()
        try:
            report = import_network(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert Entity.objects.count() == before
    assert not report.ok and "200 columns" in report.file_errors[0]
    assert peak < MEMORY_BOUND


def test_the_row_limit_refuses_the_file(network, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 2)
    rows = "code,parent_code,type,name\n" + "".join(f"A-{i},HQ,area,Area {i}\n" for i in range(3))
    with activate(network.scope("hq_admin")):
        before = Entity.objects.count()
        report = import_network(rows.encode())
        assert Entity.objects.count() == before
    assert "more than 2 rows" in report.file_errors[0]


def test_cli_reads_windows_1252_and_refuses_an_undecodable_file_without_a_traceback(
    network, tmp_path, capsys
):
    good = tmp_path / "network.csv"
    good.write_bytes(LATIN1.encode("cp1252"))
    call_command("import_network", str(good), "--org", "maison-test")
    out = capsys.readouterr().out
    assert "encoding: Windows-1252" in out and "1 created" in out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"code,parent_code,type,name\nR-X,HQ,region,Bad\x81name\n")
    with pytest.raises(SystemExit) as exited:
        call_command("import_network", str(bad), "--org", "maison-test")
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("file: The file is neither UTF-8") and err.count("\n") == 1
    assert not Entity.unscoped.filter(code="R-X").exists()
