"""CNIPA application numbers: parsing what people type, check characters, canonical form.

From 2003-10-01: 12 digits `YYYY T NNNNNNN` + check; before: 8 digits `YY T NNNNN` + check.
The check character is sum(digit_i * w_i) mod 11 with weights 2..9 repeating; 10 is `X`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TYPE_BY_DIGIT = {
    "1": "invention",
    "8": "invention",  # via PCT
    "2": "utility_model",
    "9": "utility_model",  # via PCT
    "3": "design",
}
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9)
_SHAPE = re.compile(r"^(?:CN|ZL)?(\d{12}|\d{8})\.?([0-9X])$")
_PUBLICATION = re.compile(r"^CN(\d{6,9})([ABCUSY])(\d?)$")


class InvalidNumber(ValueError):
    pass


@dataclass(frozen=True)
class ApplicationNumber:
    digits: str
    check: str

    @property
    def canonical(self) -> str:
        return f"CN{self.digits}.{self.check}"

    @property
    def patent_number(self) -> str:
        """A granted patent is numbered ZL + the application number."""
        return f"ZL{self.digits}.{self.check}"

    @property
    def filing_year(self) -> int:
        if len(self.digits) == 12:
            return int(self.digits[:4])
        yy = int(self.digits[:2])
        return 1900 + yy if yy >= 85 else 2000 + yy

    @property
    def type_digit(self) -> str:
        return self.digits[4] if len(self.digits) == 12 else self.digits[2]

    @property
    def patent_type(self) -> str:
        return TYPE_BY_DIGIT[self.type_digit]

    @property
    def via_pct(self) -> bool:
        return self.type_digit in ("8", "9")


def check_character(digits: str) -> str:
    total = sum(int(d) * _WEIGHTS[i % len(_WEIGHTS)] for i, d in enumerate(digits))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def _clean(text: str) -> str:
    # NFKC folds full-width digits and letters (２０２３, ＣＮ) into ASCII.
    text = unicodedata.normalize("NFKC", text).upper()
    return re.sub(r"[\s\-]", "", text)


def parse_application_number(text: str) -> ApplicationNumber:
    if not isinstance(text, str) or not text.strip():
        raise InvalidNumber("an application number is required")
    cleaned = _clean(text)
    if cleaned.startswith("ZLCN") or cleaned.startswith("CNZL"):
        cleaned = cleaned[2:]
    match = _SHAPE.match(cleaned)
    if not match:
        raise InvalidNumber(
            f"'{text}' is not an application number (12 digits + check, e.g. CN202310123456.6, "
            "or 8 digits + check before 2003-10-01)"
        )
    digits, check = match.groups()
    type_digit = digits[4] if len(digits) == 12 else digits[2]
    if type_digit not in TYPE_BY_DIGIT:
        raise InvalidNumber(f"'{text}': type digit {type_digit} is not 1, 2, 3, 8 or 9")
    if len(digits) == 12 and not 2003 <= int(digits[:4]) <= 2099:
        raise InvalidNumber(f"'{text}': the year {digits[:4]} is not a year of 12-digit numbers")
    expected = check_character(digits)
    if check != expected:
        raise InvalidNumber(f"'{text}': the check character should be {expected}, not {check}")
    return ApplicationNumber(digits, check)


def normalise_application_number(text: str) -> str:
    return parse_application_number(text).canonical


def looks_like_application_number(text: str) -> bool:
    cleaned = _clean(text)
    return bool(_SHAPE.match(cleaned[2:] if cleaned.startswith(("ZLCN", "CNZL")) else cleaned))


def normalise_publication_number(text: str) -> str:
    """CN114081026A, cn 114081026 a, CN114081026B1 -> canonical upper case, no spaces."""
    cleaned = _clean(text)
    if not _PUBLICATION.match(cleaned):
        raise InvalidNumber(f"'{text}' is not a CN publication number (e.g. CN114081026A)")
    return cleaned


def looks_like_publication_number(text: str) -> bool:
    return bool(_PUBLICATION.match(_clean(text)))
