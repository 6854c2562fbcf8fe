"""Reading an uploaded inventory (CSV in UTF-8 or GBK, XLSX, JSONL) row by row, and judging at upload
time whether a file is what its name says, within the caps, before any job is queued for it."""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from app.errors import DomainError, Invalid

FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# A ratio real spreadsheets never reach; zip bombs do (a 310 KB file inflating to 300 MB is ~1000x).
MAX_INFLATION_RATIO = 200
RATIO_CHECK_FROM_BYTES = 8 * 1024 * 1024


class FileTooLarge(DomainError):
    status_code = 413


class UnreadableFile(DomainError):
    status_code = 422

    def __init__(self, message: str):
        super().__init__("unreadable_file", message, field="file")


@dataclass(frozen=True)
class Inspection:
    file_format: str
    estimated_rows: int | None
    columns: list[str]


def _size_from_the_sheet_header(sheet) -> None:
    """openpyxl sizes each read-only sheet as it loads the workbook, looking for <dimension> with events that
    only arrive at elements' ends: for a sheet written without one (streaming writers leave it out) that is
    a full parse of the sheet, twice per import, before the first row is read. Stop at <sheetData>'s start
    instead; rows stream without a size, which then comes from count_xlsx_rows when it is wanted."""
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
    from openpyxl.worksheet.dimensions import SheetDimension
    from openpyxl.xml.functions import iterparse

    source = sheet._get_source()
    try:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                bounds = SheetDimension.from_tree(element).boundaries
                if bounds is not None:
                    sheet._min_column, sheet._min_row, sheet._max_column, sheet._max_row = bounds
                return
            if element.tag == DATA_TAG:
                return
    finally:
        source.close()


def _open_workbook(stream: IO[bytes]):
    from openpyxl import load_workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    ReadOnlyWorksheet._get_size = _size_from_the_sheet_header
    return load_workbook(stream, read_only=True, data_only=True)


def count_xlsx_rows(stream: IO[bytes]) -> int:
    """Data rows of the first sheet (rows after the header), by a light pass over its XML."""
    from openpyxl.xml.functions import iterparse

    stream.seek(0)
    workbook = _open_workbook(stream)
    try:
        source = workbook.worksheets[0]._get_source()
        rows = 0
        for _event, element in iterparse(source):
            if element.tag.endswith("}row"):
                rows += 1
                element.clear()
        source.close()
    finally:
        workbook.close()
    return max(rows - 1, 0)


def file_format(filename: str) -> str:
    name = filename.lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise Invalid("unsupported_file_type", "upload a .csv, .xlsx or .jsonl file", field="file")


def csv_encoding(stream: IO[bytes]) -> str:
    """UTF-8 (with or without BOM) or GBK, as Excel on Chinese Windows saves CSV; checked chunk by chunk so
    that neither the file nor its text is ever held whole. The stream is left at its start."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        stream.seek(0)
        try:
            while chunk := stream.read(1 << 20):
                if b"\x00" in chunk:
                    raise UnreadableFile("the file has NUL bytes: it is not a CSV text file")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            stream.seek(0)
            return encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("the file is neither UTF-8 nor GBK text: it is not a CSV file")


def _csv_text(stream: IO[bytes], encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def check_xlsx_archive(raw: bytes, max_inflated: int) -> None:
    """Refuse what is not an XLSX archive, and archives that inflate past the cap (decompression bombs),
    by reading the zip directory only: nothing is inflated here."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableFile("the file is not an XLSX workbook (not a zip archive)") from None
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile("the archive is not an XLSX workbook (no xl/workbook.xml)")
    inflated = sum(entry.file_size for entry in entries)
    if inflated > max_inflated:
        raise FileTooLarge("file_too_large", f"the workbook inflates to {inflated} bytes; at most {max_inflated}",
                           field="file")
    for entry in entries:
        if entry.file_size > RATIO_CHECK_FROM_BYTES and entry.file_size > MAX_INFLATION_RATIO * max(
                entry.compress_size, 1):
            raise UnreadableFile(f"{entry.filename} inflates {entry.file_size // max(entry.compress_size, 1)}-fold: "
                                 "refused as a decompression bomb")


def inspect(filename: str, raw: bytes, *, max_inflated: int) -> Inspection:
    """What the upload is: its format, an estimate of its data rows and its columns; UnreadableFile
    (422) when it is not what its name says."""
    kind = file_format(filename)
    if kind == "csv":
        try:
            stream = io.BytesIO(raw)
            reader = csv.reader(_csv_text(stream, csv_encoding(stream)))
            header = next(reader, [])
            rows = sum(1 for row in reader if any(cell.strip() for cell in row))
        except csv.Error as exc:
            raise UnreadableFile(f"the CSV cannot be parsed: {exc}") from None
        return Inspection(kind, rows, [h.strip() for h in header])
    if kind == "jsonl":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UnreadableFile("a JSON Lines file is UTF-8 text") from None
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            try:
                first = json.loads(lines[0])
            except json.JSONDecodeError:
                raise UnreadableFile("the first line is not JSON: not a JSON Lines file") from None
            if not isinstance(first, dict):
                raise UnreadableFile("each line of a JSON Lines inventory is an object")
            return Inspection(kind, len(lines), list(first))
        return Inspection(kind, 0, [])
    check_xlsx_archive(raw, max_inflated)
    try:
        header, estimated = xlsx_header(io.BytesIO(raw))
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure of a foreign file is the file's fault
        raise UnreadableFile(f"the workbook cannot be read: {type(exc).__name__}") from None
    return Inspection(kind, estimated, header)


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def xlsx_header(stream: IO[bytes]) -> tuple[list[str], int | None]:
    """The first sheet's header row and its declared data rows, reading only the workbook's first bytes:
    openpyxl would parse the whole shared-strings table first (seconds for 100,000 rows, inside the
    upload request). The rows themselves are read by openpyxl in the job."""
    from xml.etree.ElementTree import fromstring, iterparse

    with zipfile.ZipFile(stream) as archive:
        workbook = fromstring(archive.read("xl/workbook.xml"))
        first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
        if first is None:
            raise UnreadableFile("the workbook has no sheet")
        relations = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next((rel.get("Target") for rel in relations.iter(f"{_PACKAGE_RELS}Relationship")
                       if rel.get("Id") == first.get(f"{_RELS}id")), None)
        if target is None:
            raise UnreadableFile("the workbook's first sheet is missing")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        cells: list[tuple[str | None, str]] = []  # (type, raw value) of the first row
        declared = None
        with archive.open(path) as sheet:
            for event, element in iterparse(sheet, events=("start", "end")):
                if event == "start" and element.tag == f"{_MAIN}dimension":
                    bottom = (element.get("ref") or "").rpartition(":")[2].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                    declared = int(bottom) - 1 if bottom.isdigit() else None
                elif event == "end" and element.tag == f"{_MAIN}c":
                    kind = element.get("t")
                    text = "".join(element.itertext()) if kind == "inlineStr" else element.findtext(f"{_MAIN}v")
                    cells.append((kind, text or ""))
                elif event == "end" and element.tag == f"{_MAIN}row":
                    break
        wanted = {int(value) for kind, value in cells if kind == "s" and value.isdigit()}
        shared: dict[int, str] = {}
        if wanted and "xl/sharedStrings.xml" in archive.namelist():
            with archive.open("xl/sharedStrings.xml") as strings:
                index = 0
                for _event, element in iterparse(strings, events=("end",)):
                    if element.tag == f"{_MAIN}si":
                        if index in wanted:
                            shared[index] = "".join(element.itertext())
                        index += 1
                        element.clear()
                        if index > max(wanted):
                            break
    header = [shared.get(int(value), "") if kind == "s" and value.isdigit() else value for kind, value in cells]
    return [cell.strip() for cell in header if cell.strip()], declared


def read_rows(filename: str, stream: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """Yield (row number as a person counts it, raw record), streaming from a seekable binary file (XLSX in
    read-only mode)."""
    kind = file_format(filename)
    if kind == "jsonl":
        for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace"), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"line {number} is not JSON: {exc.msg}"}
                    continue
                yield number, record if isinstance(record, dict) else {"__error__": "a line must be an object"}
    elif kind == "csv":
        text = _csv_text(stream, csv_encoding(stream))
        for number, record in enumerate(csv.DictReader(text), start=2):
            if any((value or "").strip() for value in record.values() if isinstance(value, str)):
                yield number, record
    else:
        workbook = _open_workbook(stream)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = [str(cell).strip() if cell is not None else "" for cell in next(rows, [])]
            for number, values in enumerate(rows, start=2):
                if any(value not in (None, "") for value in values):
                    yield number, dict(zip(header, values, strict=False))
        finally:
            workbook.close()
