"""Reading an uploaded inventory (CSV in UTF-8 or GBK, XLSX, JSONL) row by row, and judging at upload
time whether a file is what its name says, within the caps, before any job is queued for it."""

from __future__ import annotations

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


def file_format(filename: str) -> str:
    name = filename.lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise Invalid("unsupported_file_type", "upload a .csv, .xlsx or .jsonl file", field="file")


def decode_csv(raw: bytes) -> str:
    if b"\x00" in raw:
        raise UnreadableFile("the file has NUL bytes: it is not a CSV text file")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV in GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("the file is neither UTF-8 nor GBK text: it is not a CSV file")


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
        text = decode_csv(raw)
        try:
            reader = csv.reader(io.StringIO(text))
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
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True), ())
        estimated = max((sheet.max_row or 1) - 1, 0) if sheet.max_row else None
        workbook.close()
    except Exception as exc:  # noqa: BLE001 - any parse failure of a foreign file is the file's fault
        raise UnreadableFile(f"the workbook cannot be read: {type(exc).__name__}") from None
    return Inspection(kind, estimated, [str(cell).strip() for cell in header if cell is not None])


def read_rows(filename: str, stream: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """Yield (row number as a person counts it, raw record), streaming (XLSX in read-only mode)."""
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
        text = decode_csv(stream.read())
        for number, record in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            if any((value or "").strip() for value in record.values() if isinstance(value, str)):
                yield number, record
    else:
        from openpyxl import load_workbook

        workbook = load_workbook(stream, read_only=True, data_only=True)
        try:
            rows = workbook.worksheets[0].iter_rows(values_only=True)
            header = [str(cell).strip() if cell is not None else "" for cell in next(rows, [])]
            for number, values in enumerate(rows, start=2):
                if any(value not in (None, "") for value in values):
                    yield number, dict(zip(header, values, strict=False))
        finally:
            workbook.close()
