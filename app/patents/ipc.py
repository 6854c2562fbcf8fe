"""International Patent Classification codes: parse common spellings, canonical form, levels.

Canonical forms: section `H`, class `H01`, subclass `H01M`, main group `H01M 10/00`,
subgroup `H01M 10/0525`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_IPC = re.compile(
    r"^(?P<section>[A-H])"
    r"(?:(?P<cls>\d{2})"
    r"(?:(?P<subclass>[A-Z])"
    r"(?:\s*(?P<group>\d{1,4})(?:\s*/\s*(?P<subgroup>\d{2,6}))?)?)?)?$"
)


class InvalidIPC(ValueError):
    pass


@dataclass(frozen=True)
class IPCCode:
    section: str
    cls: str | None = None
    subclass: str | None = None
    group: str | None = None
    subgroup: str | None = None

    @property
    def depth(self) -> int:
        """1 section, 2 class, 3 subclass, 4 main group, 5 subgroup."""
        if self.group is not None:
            return 5 if self.subgroup not in (None, "00") else 4
        if self.subclass:
            return 3
        return 2 if self.cls else 1

    @property
    def canonical(self) -> str:
        code = self.section + (self.cls or "") + (self.subclass or "")
        if self.group is not None:
            code += f" {self.group}/{self.subgroup or '00'}"
        return code

    def levels(self) -> list[str]:
        """Every ancestor and itself, from the section down: what facets drill through."""
        out = [self.section]
        if self.cls:
            out.append(self.section + self.cls)
        if self.subclass:
            out.append(self.section + self.cls + self.subclass)
        if self.group is not None:
            main = f"{self.section}{self.cls}{self.subclass} {self.group}/00"
            out.append(main)
            if self.subgroup not in (None, "00"):
                out.append(self.canonical)
        return out

    @property
    def subclass_code(self) -> str | None:
        return self.section + self.cls + self.subclass if self.subclass else None


def parse_ipc(text: str) -> IPCCode:
    if not isinstance(text, str):
        raise InvalidIPC("an IPC code is a string")
    cleaned = unicodedata.normalize("NFKC", text).strip().upper()
    cleaned = re.sub(r"\s+", " ", cleaned)
    match = _IPC.match(cleaned)
    if not match:
        raise InvalidIPC(f"'{text}' is not an IPC code (e.g. H01M, H01M 10/0525)")
    parts = match.groupdict()
    group = str(int(parts["group"])) if parts["group"] is not None else None
    return IPCCode(parts["section"], parts["cls"], parts["subclass"], group, parts["subgroup"])


def normalise_ipc(text: str) -> str:
    return parse_ipc(text).canonical


def normalise_patent_ipc_codes(codes: list[str]) -> list[str]:
    """A patent's codes: at least subclass level, canonical, main first, no duplicates."""
    out: list[str] = []
    for raw in codes:
        code = parse_ipc(raw)
        if code.depth < 3:
            raise InvalidIPC(f"'{raw}' is too coarse for a patent: give at least the subclass (e.g. H01M)")
        if code.canonical not in out:
            out.append(code.canonical)
    return out


def all_levels(codes: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for code in codes:
        for level in parse_ipc(code).levels():
            seen.setdefault(level, None)
    return list(seen)
