"""Reading tabular uploads (CSV or XLSX) safely, for every importer: one reader, one report.

Plain Python + Django (the kernel imports no domain app). What it guarantees:

* **Encoding** (CSV): UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252 (which reads
  every printable Latin-1 character). The whole file is checked in a streamed pre-pass, so a stray byte
  far down the file is found before a single row is read; the encoding used is reported
  (:attr:`Table.encoding`) and an unreadable file gets one clear sentence.
* **Delimiter** (CSV): the most frequent of ``,`` ``;`` and tab on the header line (``,`` when none).
* **Limits**, checked before or while parsing, never after loading: columns (a value beyond the limit
  refuses the file), rows (non-blank data rows), characters per cell, characters per CSV record; for
  XLSX the number of archive members, the declared *and* actual uncompressed size of every part read and
  its compression ratio (a "zip bomb" is refused before a byte of its XML is parsed).
* **Streaming**: the CSV is decoded and split in chunks (a record longer than the limit is refused before
  it is built); the XLSX is parsed by expat in chunks, the shared strings lazily and spilled to a
  temporary file beyond a few MB, so memory stays flat whatever the file claims (``dimension``, far-away
  cells and styled empty cells are ignored: only cells holding a value count).

Every refusal is a :class:`TabularError` (a :class:`LimitError` for a limit) whose message, in the
user's language, names the limit and what to do. Importers turn it into a file error of their report.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import os
import posixpath
import re
import struct
import tempfile
import zipfile
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar
from xml.parsers import expat

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _

CHUNK = 64 * 1024
XLSX_SUFFIXES = (".xlsx", ".xlsm")
ZIP_MAGIC = b"PK\x03\x04"


# ---------------------------------------------------------------------------------------------------
# Limits and errors


@dataclass(frozen=True)
class Limits:
    max_rows: int = 1_000_000
    max_columns: int = 200
    max_cell_chars: int = 10_000
    max_part_bytes: int = 1 << 30  # each XLSX part read (sheet, shared strings), decompressed
    max_ratio: int = 100  # decompressed / compressed, for parts over RATIO_FLOOR
    max_members: int = 2_000  # entries in the XLSX archive

    RATIO_FLOOR: ClassVar[int] = 1 << 20  # small parts may compress well: no bomb under 1 MB

    @classmethod
    def from_settings(cls, *, max_rows: int | None = None) -> Limits:
        """The defaults, overridden by ``GLOCAL_IMPORT_*`` settings; ``max_rows`` is the importer's."""
        return cls(
            max_rows=max_rows if max_rows is not None else cls.max_rows,
            max_columns=getattr(settings, "GLOCAL_IMPORT_MAX_COLUMNS", cls.max_columns),
            max_cell_chars=getattr(settings, "GLOCAL_IMPORT_MAX_CELL_CHARS", cls.max_cell_chars),
            max_part_bytes=getattr(settings, "GLOCAL_IMPORT_MAX_UNCOMPRESSED_BYTES", cls.max_part_bytes),
            max_ratio=getattr(settings, "GLOCAL_IMPORT_MAX_COMPRESSION_RATIO", cls.max_ratio),
        )

    @property
    def max_record_chars(self) -> int:
        """A CSV record may not be longer than its widest legitimate form."""
        return self.max_columns * (self.max_cell_chars + 3)


class TabularError(Exception):
    """The file cannot be read; the message (one sentence, translated) says why and what to do."""


class LimitError(TabularError):
    """The file exceeds one of the limits."""


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def column_letter(index: int) -> str:
    """1 → A, 27 → AA (as a spreadsheet names its columns)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _too_many_columns(limits: Limits, row: int, column: int) -> LimitError:
    return LimitError(
        _(
            "The file has more than %(max)s columns (a value in column %(column)s, row %(row)s). "
            "Keep only the columns to import, at most %(max)s, and upload it again."
        )
        % {"max": _n(limits.max_columns), "column": column_letter(column), "row": _n(row)}
    )


def _too_many_rows(limits: Limits) -> LimitError:
    return LimitError(
        _("The file has more than %(max)s rows. Split it into files of at most %(max)s rows each.")
        % {"max": _n(limits.max_rows)}
    )


def _cell_too_long(limits: Limits, row: int, column: int) -> LimitError:
    return LimitError(
        _(
            "Row %(row)s, column %(column)s holds more than %(max)s characters. Shorten that cell "
            "and upload the file again."
        )
        % {"row": _n(row), "column": column_letter(column), "max": _n(limits.max_cell_chars)}
    )


# ---------------------------------------------------------------------------------------------------
# The report every importer returns


@dataclass
class RowError:
    row: int  # as in a spreadsheet: the header is row 1
    code: str = ""  # what identifies the row for the reader (a code, an email as typed…)
    messages: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.messages)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "code": self.code, "messages": self.messages}


@dataclass
class ImportReport:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    encoding: str = ""  # as detected for a CSV ("UTF-8", "Windows-1252"…), "" for a workbook

    MAX_REPORTED_ERRORS: ClassVar[int] = 10_000

    @property
    def ok(self) -> bool:
        return not self.error_count and not self.file_errors

    def add_error(self, error: RowError) -> None:
        """Every bad row is counted; the first 10,000 are kept for the report."""
        self.error_count += 1
        if len(self.errors) < self.MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "errors_truncated": self.error_count > len(self.errors),
            "file_errors": self.file_errors,
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "ok": self.ok,
        }


# ---------------------------------------------------------------------------------------------------
# Opening


def is_xlsx(filename: str) -> bool:
    return filename.lower().endswith(XLSX_SUFFIXES)


class Table:
    """One open file: :meth:`rows` yields every row as stripped text cells, the header first (row 1),
    blank rows as ``[]`` so that positions match the spreadsheet's row numbers; trailing empty cells
    are dropped."""

    def __init__(self, handle: IO[bytes], filename: str, limits: Limits) -> None:
        self.handle = handle
        self.filename = filename
        self.limits = limits
        self.xlsx = is_xlsx(filename)
        self.encoding = ""
        self._workbook: _Workbook | None = None
        if self.xlsx:
            self._workbook = _Workbook(handle, limits)
        else:
            self.encoding = detect_encoding(handle)

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter(self) -> str:
        """The separator a CSV is read with (that of its header line); "" for a workbook."""
        if self.xlsx:
            return ""
        self.handle.seek(0)
        first = next(iter(_Lines(self.handle, self.encoding, self.limits)), "")
        self.handle.seek(0)
        return detect_delimiter(first)

    def rows(self) -> Iterator[list[str]]:
        if self._workbook is not None:
            return self._workbook.rows()
        return _csv_rows(self.handle, self.encoding, self.limits)

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()


@contextmanager
def open_table(source: IO[bytes] | bytes, filename: str, limits: Limits) -> Iterator[Table]:
    """``source``: a seekable binary file (an upload, a storage file, an open path) or bytes."""
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    table = Table(handle, filename, limits)
    try:
        yield table
    finally:
        table.close()


@dataclass
class Preview:
    header: list[str]
    samples: list[list[str]]
    encoding: str  # label, "" for a workbook


def preview(
    source: IO[bytes] | bytes,
    filename: str,
    limits: Limits,
    *,
    samples: int = 3,
    sample_chars: int = 100,
    scan_rows: int = 1_000,
) -> Preview:
    """The header and the first few non-blank rows (cells cut to ``sample_chars``), for a mapping page.
    Reads no further than ``scan_rows`` rows."""
    with open_table(source, filename, limits) as table:
        rows = table.rows()
        try:
            header = next(rows, [])
            found: list[list[str]] = []
            for _index, row in zip(range(scan_rows), rows, strict=False):
                if any(row):
                    found.append([cell[:sample_chars] for cell in row[: len(header) or None]])
                    if len(found) >= samples:
                        break
        finally:
            rows.close()  # type: ignore[attr-defined]
        return Preview(header=header, samples=found, encoding=table.encoding_label)


def estimate_rows(source: IO[bytes] | bytes, filename: str, limits: Limits) -> int:
    """Data rows, for a progress bar: the newlines of a CSV (quoted line breaks may make it
    approximate), the declared ``dimension`` of a sheet; never more than ``limits.max_rows``."""
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    if is_xlsx(filename):
        try:
            workbook = _Workbook(handle, limits)
        except TabularError:
            return 0
        try:
            return min(workbook.declared_rows(), limits.max_rows)
        finally:
            workbook.close()
    lines, last = 0, b"\n"
    while chunk := handle.read(1 << 20):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    handle.seek(0)
    return min(max(lines + (0 if last == b"\n" else 1) - 1, 0), limits.max_rows)


# ---------------------------------------------------------------------------------------------------
# CSV

ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}


def detect_encoding(handle: IO[bytes]) -> str:
    """A codec name for the whole file, found in a streamed pass (memory stays flat)."""
    head = handle.read(4)
    handle.seek(0)
    if head.startswith(ZIP_MAGIC):
        raise TabularError(
            _("This file is a spreadsheet (XLSX) with another extension: name it .xlsx and upload it again.")
        )
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    position = 0
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            while chunk := handle.read(1 << 20):
                if b"\x00" in chunk and encoding != "utf-16":
                    raise TabularError(
                        _(
                            "The file is not text (it holds binary data). Upload the spreadsheet as "
                            ".xlsx, or save it as “CSV UTF-8”."
                        )
                    )
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    position = max(position, offset + exc.start + 1)
                    raise
                offset += len(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
        finally:
            handle.seek(0)
    raise TabularError(
        _(
            "The file is neither UTF-8 nor Windows-1252 (Latin-1) text (unreadable byte at position "
            "%(position)s). Save it from your spreadsheet as “CSV UTF-8” and upload it again."
        )
        % {"position": _n(position)}
    )


def detect_delimiter(header_line: str) -> str:
    """The most frequent of comma, semicolon and tab on the header line; comma on a tie or none."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts.values())
    if not best:
        return ","
    return next(d for d in (",", ";", "\t") if counts[d] == best)


class _Lines:
    """Decoded lines of a binary stream, split on ``\\n`` only (line ends kept, as csv wants), a chunk
    at a time; a record (``budget``) longer than the limit is refused before it is built."""

    def __init__(self, handle: IO[bytes], encoding: str, limits: Limits) -> None:
        self.text = codecs.getreader(encoding)(handle)
        self.limit = limits.max_record_chars
        self.limits = limits
        self.used = 0  # characters fed to the current record
        self.row = 1

    def __iter__(self) -> Iterator[str]:
        pending = ""
        while True:
            chunk = self.text.read(CHUNK)
            if not chunk:
                break
            pending += chunk
            start = 0
            while (end := pending.find("\n", start)) != -1:
                yield self._count(pending[start : end + 1])
                start = end + 1
            pending = pending[start:]
            if len(pending) + self.used > self.limit:
                raise self._too_long()
        if pending:
            yield self._count(pending)

    def _count(self, line: str) -> str:
        self.used += len(line)
        if self.used > self.limit:
            raise self._too_long()
        return line

    def _too_long(self) -> LimitError:
        return LimitError(
            _(
                "Row %(row)s is longer than %(max)s characters: check the separator and the quotes, "
                "keep at most %(columns)s columns, and upload the file again."
            )
            % {
                "row": _n(self.row),
                "max": _n(self.limit),
                "columns": _n(self.limits.max_columns),
            }
        )


def _check_row(cells: list[str], limits: Limits, number: int) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) > limits.max_columns:
        raise _too_many_columns(limits, number, len(cells))
    for index, cell in enumerate(cells):
        if len(cell) > limits.max_cell_chars:
            raise _cell_too_long(limits, number, index + 1)
    return cells


def _csv_rows(handle: IO[bytes], encoding: str, limits: Limits) -> Iterator[list[str]]:
    handle.seek(0)
    lines = _Lines(handle, encoding, limits)
    source = iter(lines)
    try:
        first = next(source)
    except StopIteration:
        return
    delimiter = detect_delimiter(first)

    def replay() -> Iterator[str]:
        yield first
        yield from source

    reader = csv.reader(replay(), delimiter=delimiter)
    data_rows = 0
    number = 1
    try:
        for record in reader:
            cells = _check_row([cell.strip() for cell in record], limits, number)
            if cells and number > 1:
                data_rows += 1
                if data_rows > limits.max_rows:
                    raise _too_many_rows(limits)
            yield cells
            number += 1
            lines.used = 0
            lines.row = number
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _cell_too_long(limits, number, 1) from exc
        raise TabularError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from exc


# ---------------------------------------------------------------------------------------------------
# XLSX

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SMALL_PART = 16 << 20  # workbook, relationships, styles
# Spreadsheet serial dates count days from these (naive: a sheet's dates have no time zone).
WINDOWS_EPOCH = datetime.datetime(1899, 12, 30)  # noqa: DTZ001
MAC_EPOCH = datetime.datetime(1904, 1, 1)  # noqa: DTZ001
CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")


def _not_a_workbook() -> TabularError:
    return TabularError(_("The file is not a valid XLSX workbook."))


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


class _Part:
    """A zip member read as a stream, refused when larger than declared, than the limit, or more
    compressed than the ratio allows (checked from the declared sizes before reading, then on the bytes
    actually inflated while reading)."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, limits: Limits) -> None:
        self.info = info
        self.cap = cap
        self.limits = limits
        _check_declared(info, cap, limits)
        try:
            self.stream = archive.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
            raise _not_a_workbook() from exc  # damaged, encrypted or an unknown compression
        self.read_bytes = 0

    def chunks(self) -> Iterator[bytes]:
        try:
            while data := self.stream.read(CHUNK):
                self.read_bytes += len(data)
                if self.read_bytes > self.info.file_size:
                    raise TabularError(
                        _(
                            "The workbook is damaged: %(part)s is larger than it declares. "
                            "Save it again from your spreadsheet."
                        )
                        % {"part": self.info.filename}
                    )
                if self.read_bytes > self.cap:  # pragma: no cover - declared size checked first
                    raise _too_big(self.info, self.cap)
                yield data
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise _not_a_workbook() from exc
        finally:
            self.stream.close()


def _too_big(info: zipfile.ZipInfo, cap: int) -> LimitError:
    return LimitError(
        _(
            "The workbook unpacks to more than %(max)s MB (%(part)s). Keep only the sheet to import, "
            "or export it as CSV, and upload it again."
        )
        % {"max": _n(cap >> 20), "part": info.filename}
    )


def _check_declared(info: zipfile.ZipInfo, cap: int, limits: Limits) -> None:
    if info.file_size > cap:
        raise _too_big(info, cap)
    if info.file_size > Limits.RATIO_FLOOR:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise LimitError(
                _(
                    "The workbook is compressed %(ratio)s times (%(part)s), more than the %(max)s "
                    "allowed: it is not an ordinary spreadsheet. Export the sheet as CSV and upload that."
                )
                % {"ratio": _n(int(ratio)), "part": info.filename, "max": _n(limits.max_ratio)}
            )


def _parser(
    start: Callable[[str, dict[str, str]], None] | None = None,
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> Any:
    """An expat parser with namespaces resolved ("uri local") and no DTD (no entity expansion)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True

    def refuse(*_args: Any) -> None:
        raise TabularError(
            _(
                "The workbook contains XML declarations (DTD) that are not allowed. "
                "Save it again from your spreadsheet."
            )
        )

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    return parser


def _feed(parser: Any, chunk: bytes, final: bool = False) -> None:
    try:
        parser.Parse(chunk, final)
    except expat.ExpatError as exc:
        raise _not_a_workbook() from exc


def _parse_small(part: _Part, start: Callable[[str, dict[str, str]], None]) -> None:
    parser = _parser(start=start)
    for chunk in part.chunks():
        _feed(parser, chunk)
    _feed(parser, b"", True)


def _check_zip_directory(handle: IO[bytes], limits: Limits) -> None:
    """Refuse an archive with too many members before zipfile builds one object per member."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    handle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise _not_a_workbook()
    entries, directory_size = struct.unpack("<xxxxxxxxxxHI", tail[at : at + 16])
    if entries > limits.max_members or directory_size > limits.max_members * 1024:
        raise LimitError(
            _(
                "The workbook has too many parts (at most %(max)s). Keep only the sheet to import, "
                "or export it as CSV, and upload it again."
            )
            % {"max": _n(limits.max_members)}
        )


class _SharedStrings:
    """The shared-string table, parsed only as far as the cells need, kept as UTF-8 bytes (spilled to a
    temporary file past a few MB) with one 8-byte offset per string."""

    MEMORY = 8 << 20

    def __init__(self, part: _Part | None, limits: Limits) -> None:
        self.limits = limits
        self.offsets = array("q", [0])
        self.memory = bytearray()
        self.spill: IO[bytes] | None = None
        self.spilled_from = 0
        self.chunks = part.chunks() if part is not None else iter(())
        self.done = part is None
        self.depth_si = 0
        self.in_t = False
        self.in_phonetic = 0
        self.pieces: list[str] = []
        self.length = 0
        self.parser = _parser(self._start, self._end, self._text)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "si":
            self.depth_si += 1
            self.pieces, self.length = [], 0
        elif tag == "rPh":
            self.in_phonetic += 1
        elif tag == "t" and self.depth_si and not self.in_phonetic:
            self.in_t = True

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag == "t":
            self.in_t = False
        elif tag == "rPh":
            self.in_phonetic -= 1
        elif tag == "si" and self.depth_si:
            self.depth_si -= 1
            self._append("".join(self.pieces).replace("x005F_", ""))

    def _text(self, data: str) -> None:
        if self.in_t:
            self.length += len(data)
            if self.length > self.limits.max_cell_chars:
                # Too long to be a cell we accept: keep a marker, not the text.
                self.pieces = ["\x00" * (self.limits.max_cell_chars + 1)]
                return
            self.pieces.append(data)

    def _append(self, text: str) -> None:
        data = text.encode()
        if self.spill is None and len(self.memory) + len(data) > self.MEMORY:
            self.spill = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            self.spilled_from = self.offsets[-1]
        if self.spill is None:
            self.memory += data
        else:
            self.spill.write(data)
        self.offsets.append(self.offsets[-1] + len(data))

    def get(self, index: int) -> str | None:
        while index + 1 >= len(self.offsets) and not self.done:
            chunk = next(self.chunks, None)
            if chunk is None:
                _feed(self.parser, b"", True)
                self.done = True
            else:
                _feed(self.parser, chunk)
        if not 0 <= index < len(self.offsets) - 1:
            return None
        start, end = self.offsets[index], self.offsets[index + 1]
        if self.spill is None or end <= self.spilled_from:
            return self.memory[start:end].decode()
        self.spill.flush()
        return os.pread(self.spill.fileno(), end - start, start - self.spilled_from).decode()

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
        close = getattr(self.chunks, "close", None)
        if close:
            close()


class _Workbook:
    """The first sheet of an XLSX file, read with expat in a stream under the limits."""

    def __init__(self, handle: IO[bytes], limits: Limits) -> None:
        self.limits = limits
        _check_zip_directory(handle, limits)
        try:
            self.archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _not_a_workbook() from exc
        self.shared: _SharedStrings | None = None
        try:
            self._locate()
        except Exception:
            self.archive.close()
            raise

    def _info(self, name: str) -> zipfile.ZipInfo | None:
        try:
            return self.archive.getinfo(name)
        except KeyError:
            return None

    def _relationships(self, name: str) -> dict[str, tuple[str, str]]:
        info = self._info(name)
        found: dict[str, tuple[str, str]] = {}
        if info is None:
            return found

        def start(tag: str, attrs: dict[str, str]) -> None:
            if _local(tag) == "Relationship" and "Id" in attrs:
                found[attrs["Id"]] = (attrs.get("Target", ""), attrs.get("Type", ""))

        _parse_small(_Part(self.archive, info, SMALL_PART, self.limits), start)
        return found

    def _locate(self) -> None:
        root_rels = self._relationships("_rels/.rels")
        workbook_name = next(
            (t.lstrip("/") for t, kind in root_rels.values() if kind.endswith("/officeDocument")),
            "xl/workbook.xml",
        )
        info = self._info(workbook_name)
        if info is None:
            raise _not_a_workbook()
        sheets: list[str] = []
        self.epoch = WINDOWS_EPOCH

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "sheet":
                sheets.append(attrs.get(f"{REL_NS} id", ""))
            elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                self.epoch = MAC_EPOCH

        _parse_small(_Part(self.archive, info, SMALL_PART, self.limits), start)
        base = posixpath.dirname(workbook_name)
        rels = self._relationships(posixpath.join(base, "_rels", posixpath.basename(workbook_name) + ".rels"))

        def resolve(target: str) -> str:
            return (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(base, target))
            )

        if not sheets or sheets[0] not in rels:
            raise _not_a_workbook()
        sheet_info = self._info(resolve(rels[sheets[0]][0]))
        if sheet_info is None:
            raise _not_a_workbook()
        self.sheet_info = sheet_info
        _check_declared(sheet_info, self.limits.max_part_bytes, self.limits)
        shared_name = next(
            (resolve(t) for t, kind in rels.values() if kind.endswith("/sharedStrings")),
            posixpath.join(base, "sharedStrings.xml"),
        )
        shared_info = self._info(shared_name)
        self.shared = _SharedStrings(
            _Part(self.archive, shared_info, self.limits.max_part_bytes, self.limits)
            if shared_info is not None
            else None,
            self.limits,
        )
        styles_name = next(
            (resolve(t) for t, kind in rels.values() if kind.endswith("/styles")),
            posixpath.join(base, "styles.xml"),
        )
        self.date_styles = self._date_styles(styles_name)

    def _date_styles(self, name: str) -> set[int]:
        info = self._info(name)
        if info is None:
            return set()
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

        custom: dict[int, str] = {}
        formats: list[int] = []
        depth = {"cellXfs": 0}

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "numFmt" and attrs.get("numFmtId", "").isdigit():
                custom[int(attrs["numFmtId"])] = attrs.get("formatCode", "")
            elif local == "cellXfs":
                depth["cellXfs"] += 1
            elif local == "xf" and depth["cellXfs"]:
                value = attrs.get("numFmtId", "0")
                formats.append(int(value) if value.isdigit() else 0)

        def end(tag: str) -> None:
            if _local(tag) == "cellXfs":
                depth["cellXfs"] = 0

        parser = _parser(start=start, end=end)
        for chunk in _Part(self.archive, info, SMALL_PART, self.limits).chunks():
            _feed(parser, chunk)
        _feed(parser, b"", True)
        dates = set()
        for index, format_id in enumerate(formats):
            code = custom.get(format_id) or BUILTIN_FORMATS.get(format_id, "")
            if code and is_date_format(code):
                dates.add(index)
        return dates

    def declared_rows(self) -> int:
        """Data rows according to the sheet's ``dimension`` (read from the first chunk only)."""
        part = _Part(self.archive, self.sheet_info, self.limits.max_part_bytes, self.limits)
        chunks = part.chunks()
        head = next(chunks, b"")
        chunks.close()  # type: ignore[attr-defined]
        match = re.search(rb'<(?:\w+:)?dimension[^>]*\sref="[A-Za-z]*\d*:?[A-Za-z]*(\d+)"', head)
        return max(int(match.group(1)) - 1, 0) if match else 0

    def rows(self) -> Iterator[list[str]]:
        reader = _SheetReader(self)
        part = _Part(self.archive, self.sheet_info, self.limits.max_part_bytes, self.limits)
        expected = 1
        data_rows = 0
        for chunk in part.chunks():
            reader.feed(chunk)
            for number, cells in reader.take():
                if cells and number > 1:
                    data_rows += 1
                    if data_rows > self.limits.max_rows:
                        raise _too_many_rows(self.limits)
                while expected < number:
                    yield []
                    expected += 1
                yield cells
                expected = number + 1
        reader.feed(b"", final=True)
        for number, cells in reader.take():  # pragma: no cover - rows end before the final tag
            while expected < number:
                yield []
                expected += 1
            yield cells
            expected = number + 1

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        self.archive.close()


class _SheetReader:
    """Push parser of a worksheet: completed rows are collected per chunk (a chunk is 64 KB, so a
    handful of rows), cells beyond the column limit are checked but never kept, texts are cut at the
    cell limit while they are read."""

    def __init__(self, workbook: _Workbook) -> None:
        self.workbook = workbook
        self.limits = workbook.limits
        self.parser = _parser(self._start, self._end, self._text)
        self.done: list[tuple[int, list[str]]] = []
        self.row = 0
        self.cells: dict[int, str] = {}
        self.column = 0
        self.kind = ""
        self.style = 0
        self.pieces: list[str] = []
        self.length = 0
        self.capture = False
        self.in_inline = False
        self.in_phonetic = 0
        self.in_cell = False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        _feed(self.parser, chunk, final)

    def take(self) -> list[tuple[int, list[str]]]:
        done, self.done = self.done, []
        return done

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c":
            self.in_cell = True
            match = CELL_REF.fullmatch(attrs.get("r", ""))
            self.column = _column_index(match.group(1)) if match else self.column + 1
            self.kind = attrs.get("t", "n")
            style = attrs.get("s", "0")
            self.style = int(style) if style.isdigit() else 0
            self.pieces, self.length = [], 0
        elif tag == "row":
            number = attrs.get("r", "")
            self.row = int(number) if number.isdigit() and int(number) > self.row else self.row + 1
            self.cells = {}
            self.column = 0
        elif tag == "v" and self.in_cell:
            self.capture = True
        elif tag == "is" and self.in_cell:
            self.in_inline = True
        elif tag == "rPh":
            self.in_phonetic += 1
        elif tag == "t" and self.in_inline and not self.in_phonetic:
            self.capture = True

    def _text(self, data: str) -> None:
        if self.capture:
            self.length += len(data)
            if self.length > self.limits.max_cell_chars:
                raise _cell_too_long(self.limits, self.row, self.column)
            self.pieces.append(data)

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag in ("v", "t"):
            self.capture = False
        elif tag == "rPh":
            self.in_phonetic -= 1
        elif tag == "is":
            self.in_inline = False
        elif tag == "c":
            self.in_cell = False
            value = self._value("".join(self.pieces))
            if value:
                if self.column > self.limits.max_columns:
                    raise _too_many_columns(self.limits, self.row, self.column)
                if len(value) > self.limits.max_cell_chars:
                    raise _cell_too_long(self.limits, self.row, self.column)
                self.cells[self.column] = value
        elif tag == "row":
            if self.cells:
                if self.row > self.limits.max_rows + 1:
                    raise _too_many_rows(self.limits)
                width = max(self.cells)
                self.done.append((self.row, [self.cells.get(i, "") for i in range(1, width + 1)]))
            elif self.row <= self.limits.max_rows + 1:
                self.done.append((self.row, []))

    def _value(self, raw: str) -> str:
        kind = self.kind
        if kind == "s":
            shared = self.workbook.shared
            text = shared.get(int(raw)) if shared is not None and raw.strip().isdigit() else None
            return (text or "").strip()
        if kind in ("inlineStr", "str", "e"):
            return raw.strip()
        if kind == "b":
            return "yes" if raw.strip() in ("1", "true") else ("no" if raw.strip() else "")
        raw = raw.strip()
        if not raw:
            return ""
        if kind == "d":
            try:
                return datetime.datetime.fromisoformat(raw).date().isoformat()
            except ValueError:
                return raw
        return self._number(raw)

    def _number(self, raw: str) -> str:
        try:
            number: float = int(raw)
        except ValueError:
            try:
                number = float(raw)
            except ValueError:
                return raw
        if self.style in self.workbook.date_styles:
            from openpyxl.utils.datetime import from_excel

            try:
                moment = from_excel(number, self.workbook.epoch)
            except (ValueError, OverflowError):
                return raw
            if isinstance(moment, datetime.datetime):
                return moment.date().isoformat()
            if isinstance(moment, datetime.date):
                return moment.isoformat()
            return str(moment)
        if isinstance(number, float) and number.is_integer():
            return str(int(number))
        return str(number)
