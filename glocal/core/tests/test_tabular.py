"""The shared tabular reader: encodings, delimiters, XLSX values, and every limit (hostile files are
built here, in memory)."""

import datetime
import io
import struct
import tracemalloc
import zipfile

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from glocal.core import tabular
from glocal.core.tests import hostile_files

LIMITS = tabular.Limits()


def rows(data: bytes, filename: str = "f.csv", limits: tabular.Limits = LIMITS) -> list[list[str]]:
    with tabular.open_table(data, filename, limits) as table:
        return list(table.rows())


def encoding(data: bytes) -> str:
    with tabular.open_table(data, "f.csv", LIMITS) as table:
        return table.encoding_label


# ---------------------------------------------------------------------------------------------------
# CSV


def test_encodings_are_detected_and_named():
    text = "nom;ville\nLefèvre;Besançon\n"
    assert encoding(text.encode()) == "UTF-8"
    assert encoding(b"\xef\xbb\xbf" + text.encode()) == "UTF-8"
    assert encoding(text.encode("utf-16")) == "UTF-16"
    assert encoding(text.encode("cp1252")) == "Windows-1252"
    for data in (
        text.encode(),
        b"\xef\xbb\xbf" + text.encode(),
        text.encode("utf-16"),
        text.encode("cp1252"),
    ):
        assert rows(data) == [["nom", "ville"], ["Lefèvre", "Besançon"]]  # no BOM left in the header


def test_a_non_utf8_byte_far_down_the_file_is_found_before_reading():
    data = b"email,name\n" + b"a@example.test,Plain\n" * 5000 + "z@example.test,Zoé\n".encode("latin-1")
    assert len(data) > 65536
    assert encoding(data) == "Windows-1252"
    assert rows(data)[-1] == ["z@example.test", "Zoé"]


def test_undecodable_binary_and_misnamed_workbooks_are_one_sentence():
    with pytest.raises(tabular.TabularError, match="position 8") as refused:
        rows(b"a,b\nc,d\x81\n")
    assert "\n" not in str(refused.value)
    with pytest.raises(tabular.TabularError, match="not text"):
        rows(b"a,b\x00\x00")
    with pytest.raises(tabular.TabularError, match="neither UTF-8"):
        rows("a,b\n".encode("utf-16") + b"\x00\xd8\x41\x00")  # a lone surrogate
    with pytest.raises(tabular.TabularError, match="name it .xlsx"):
        rows(hostile_files.huge_dimension(), "people.csv")


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a;b,c", ","), ("single", ","), ("a;b;c,d", ";")],
)
def test_the_delimiter_comes_from_the_header_line(header, delimiter):
    assert tabular.detect_delimiter(header) == delimiter


def test_quoted_line_breaks_blank_rows_and_trailing_empty_cells():
    data = b'name,note,,\r\n"Anne","two\nlines",,\r\n\r\nBob,x,,\r\n'
    assert rows(data) == [["name", "note"], ["Anne", "two\nlines"], [], ["Bob", "x"]]


def test_csv_limits_name_the_row_and_column():
    small = tabular.Limits(max_rows=2, max_columns=3, max_cell_chars=5)
    assert rows(b"a,b,c\n1,2,3\n\n4,5,6\n", limits=small)[-1] == ["4", "5", "6"]
    with pytest.raises(tabular.LimitError, match="more than 2 rows"):
        rows(b"a\n1\n2\n3\n", limits=small)
    with pytest.raises(tabular.LimitError, match="more than 3 columns.*column D, row 2"):
        rows(b"a,b,c\n1,2,3,4\n", limits=small)
    assert rows(b"a,b,c\n1,2,3,,,,\n", limits=small)[1] == ["1", "2", "3"]  # empty cells beyond: fine
    with pytest.raises(tabular.LimitError, match="Row 2, column B holds more than 5 characters"):
        rows(b"a,b\n1,123456\n", limits=small)


def test_a_huge_record_is_refused_before_it_is_built():
    data = b"a,b\n" + b"x" * (30 << 20)  # 30 MB without a line break
    tracemalloc.start()
    try:
        with pytest.raises(tabular.LimitError, match="Row 2 is longer than"):
            rows(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20  # the 30 MB input is not counted: it was allocated before tracing


def test_preview_keeps_a_few_short_samples_of_the_real_columns():
    data = b"email,name\n\n" + b"".join(b"p%d@example.test,%s,extra\n" % (i, b"n" * 500) for i in range(9))
    found = tabular.preview(data, "f.csv", LIMITS, samples=3, sample_chars=20)
    assert found.header == ["email", "name"] and found.encoding == "UTF-8"
    assert found.samples == [[f"p{i}@example.test", "n" * 20] for i in range(3)]


# ---------------------------------------------------------------------------------------------------
# XLSX


def _book(*lines, date1904=False) -> bytes:
    book = openpyxl.Workbook()
    if date1904:
        book.epoch = CALENDAR_MAC_1904
    sheet = book.worksheets[0]
    for line in lines:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_workbook_values_read_as_the_importers_expect():
    data = _book(
        ["Email", "Mobile", "Born", "Score", "VIP", "Empty"],
        ["a@example.test", 612345678, datetime.date(1990, 5, 17), 2.5, True, None],
        [],
        [
            "  b@example.test ",
            1.0,
            datetime.datetime(2001, 1, 2, 13, 0),  # noqa: DTZ001 - a spreadsheet's naive time
            1e20,
            False,
        ],
    )
    assert rows(data, "f.xlsx") == [
        ["Email", "Mobile", "Born", "Score", "VIP", "Empty"],
        ["a@example.test", "612345678", "1990-05-17", "2.5", "yes"],
        [],
        ["b@example.test", "1", "2001-01-02", "100000000000000000000", "no"],
    ]
    assert tabular.estimate_rows(data, "f.xlsx", LIMITS) == 3
    assert rows(_book(["d"], [datetime.date(2020, 2, 29)], date1904=True), "f.xlsx")[1] == ["2020-02-29"]


def test_shared_strings_beyond_memory_spill_to_a_temporary_file(monkeypatch):
    monkeypatch.setattr(tabular._SharedStrings, "MEMORY", 64)
    words = [f"wörd-{i}" for i in range(200)]
    shared = "".join(f"<si><t>{w}</t></si>" for w in words)
    shared += "<si><r><t>Ri</t></r><r><t>ch</t></r><rPh><t>phonetic</t></rPh></si>"
    sheet = (
        hostile_files.SHEET_HEAD
        + '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        + "".join(f'<row r="{i + 2}"><c r="A{i + 2}" t="s"><v>{i + 2}</v></c></row>' for i in range(200))
        + '<row r="202"><c r="A202" t="s"><v>202</v></c><c r="B202" t="s"><v>0</v></c></row>'
        + "</sheetData></worksheet>"
    )
    found = rows(hostile_files._workbook(sheet, shared.encode(), shared_chunks=1), "f.xlsx")
    assert found[0] == ["email", "name"]
    assert [r[0] for r in found[1:201]] == words
    assert found[201] == ["Rich", "email"]


def test_a_shared_strings_bomb_is_refused_from_its_declared_sizes():
    data = hostile_files.shared_strings_bomb(50)
    tracemalloc.start()
    try:
        with pytest.raises(tabular.LimitError, match="compressed .* times \\(xl/sharedStrings.xml\\)"):
            rows(data, "bomb.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 << 20  # refused before a byte was inflated
    with pytest.raises(tabular.LimitError, match="more than 10 MB"):
        rows(data, "bomb.xlsx", tabular.Limits(max_part_bytes=10 << 20, max_ratio=10_000))


def test_a_part_larger_than_it_declares_is_refused():
    data = bytearray(_book(["email"], *[[f"p{i}@example.test"] for i in range(2000)]))
    # Lower the declared uncompressed size of the sheet in the central directory.
    name = b"xl/worksheets/sheet1.xml"
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    declared = struct.unpack_from("<I", data, at + 24)[0]
    struct.pack_into("<I", data, at + 24, declared // 2)
    with pytest.raises(tabular.TabularError, match="XLSX|damaged"):
        rows(bytes(data), "f.xlsx")


def test_a_far_away_cell_is_refused_and_a_huge_dimension_ignored():
    with pytest.raises(tabular.LimitError, match="200 columns .*column XFD, row 1,048,576"):
        rows(hostile_files.far_away_cell(), "f.xlsx")
    assert rows(hostile_files.huge_dimension(), "f.xlsx") == [
        ["Email", "Nom"],
        ["dim@example.test", "Dimension"],
        ["dim2@example.test", "Dimension"],
    ]
    assert tabular.estimate_rows(hostile_files.huge_dimension(), "f.xlsx", tabular.Limits(max_rows=10)) == 10


def test_a_far_away_row_is_refused_without_walking_the_gap():
    sheet = (
        hostile_files.SHEET_HEAD + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>e</t></is></c></row>'
        '<row r="999999999999"><c r="A999999999999" t="inlineStr"><is><t>x</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    with pytest.raises(tabular.LimitError, match="more than 1,000,000 rows"):
        rows(hostile_files._workbook(sheet), "f.xlsx")


def test_styled_empty_cells_do_not_count_but_long_texts_do():
    sheet = (
        hostile_files.SHEET_HEAD
        + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>e</t></is></c>'
        + "".join(f'<c r="{tabular.column_letter(i)}1" s="1"/>' for i in range(2, 16385))
        + '</row><row r="2"><c r="A2" t="inlineStr"><is><t>'
        + "y" * 10_001
        + "</t></is></c></row></sheetData></worksheet>"
    )
    with pytest.raises(tabular.LimitError, match="Row 2, column A holds more than 10,000"):
        rows(hostile_files._workbook(sheet), "f.xlsx")


def test_xml_entities_are_refused():
    sheet = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>'
    )
    with pytest.raises(tabular.TabularError, match="DTD"):
        rows(hostile_files._workbook(sheet), "f.xlsx")


def test_too_many_members_and_non_zips_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(30):
            archive.writestr(f"junk/{i}", b"")
    with pytest.raises(tabular.LimitError, match="too many parts"):
        rows(buffer.getvalue(), "f.xlsx", tabular.Limits(max_members=20))
    with pytest.raises(tabular.TabularError, match="not a valid XLSX"):
        rows(b"hello", "f.xlsx")
    with pytest.raises(tabular.TabularError, match="not a valid XLSX"):
        rows(buffer.getvalue(), "f.xlsx")


# ---------------------------------------------------------------------------------------------------
# Report


def test_the_report_counts_every_error_and_keeps_the_first_ten_thousand():
    report = tabular.ImportReport()
    for row in range(2, 10_005):
        report.add_error(tabular.RowError(row=row, code="x", messages=["bad", "worse"]))
    data = report.as_dict()
    assert not report.ok and data["error_count"] == 10_003 and len(data["errors"]) == 10_000
    assert data["errors_truncated"] and report.errors[0].reason == "bad; worse"
