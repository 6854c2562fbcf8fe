"""Industry field (战略性新兴产业) derived from IPC through a data table (data/ipc_fields.csv)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

_TABLE = Path(__file__).with_name("data") / "ipc_fields.csv"


@lru_cache(maxsize=1)
def _prefixes() -> list[tuple[str, str]]:
    with _TABLE.open(encoding="utf-8") as fh:
        rows = [(row["ipc_prefix"].strip(), row["field"].strip()) for row in csv.DictReader(fh)]
    # Longest prefix first, so A61K beats A61 and G01N 33 beats G01N.
    return sorted(rows, key=lambda row: len(row[0]), reverse=True)


def known_fields() -> list[str]:
    return sorted({field for _, field in _prefixes()})


def field_for_ipc(codes: list[str]) -> str | None:
    """The field of the first code (the main one first) that the table maps."""
    for code in codes:
        for prefix, field in _prefixes():
            if code.startswith(prefix):
                return field
    return None
