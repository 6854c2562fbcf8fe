"""The project's field types: every schema uses these, so that every endpoint, old or new, is bounded the
same way (tests/test_field_types.py refuses a schema that uses marshmallow's own Integer, String,
Decimal or Email).

- Integer: JSON integers, or ASCII digits in query strings; never booleans, floats or other scripts'
  digits (int("١٢٣") is 123 in Python); within what the column holds: INTEGER (ids, counts; 2**31 - 1 on
  PostgreSQL) by default, BIGINT for money (app.api.Fen). Id: from 1.
- Text: Unicode NFC, trimmed; blank is refused (or None where None is allowed); NUL, lone surrogates
  and control characters are refused (newline and tab only in multiline texts); bidirectional
  controls are refused in single-line texts (names, titles), where they disguise what a reader sees.
- Decimal: refuses NaN, infinities and more places than declared: never rounded silently.
- Moment: a time with its offset, in UTC, within 2000..2199.
- Date: within 1900-01-01 .. 2199-12-31, so that adding a patent's term or a licence's months never
  leaves the calendar (year 10000 is a ValueError, not a 422).
"""

from __future__ import annotations

import datetime
import decimal
import re
import unicodedata

import marshmallow as ma
from marshmallow import validate

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # SQLAlchemy's Integer: ids and counts
_ASCII_INTEGER = re.compile(r"-?[0-9]+")
# C0 and C1 controls, DEL and the Unicode line/paragraph separators; multiline texts keep tab, LF and CR.
_CONTROL_MULTILINE_OK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the marks LRM, RLM, ALM.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


class Integer(ma.fields.Integer):
    default_error_messages = {"invalid": "Not a valid integer (ASCII digits).",
                              "range": "Must be between {min} and {max}."}

    def __init__(self, *args, minimum: int = INT_MIN, maximum: int = INT_MAX, **kwargs):
        super().__init__(*args, **kwargs)
        self.minimum, self.maximum = minimum, maximum
        if not any(isinstance(v, validate.Range) for v in self.validators):
            # Also what the OpenAPI document shows (and what fuzzing generates within).
            self.validators.insert(0, validate.Range(min=minimum, max=maximum))

    def _validated(self, value):
        if isinstance(value, bool | float) or (isinstance(value, str) and not _ASCII_INTEGER.fullmatch(value)):
            raise self.make_error("invalid")
        if not isinstance(value, int | str):
            raise self.make_error("invalid")
        number = int(value)
        if not self.minimum <= number <= self.maximum:
            raise self.make_error("range", min=self.minimum, max=self.maximum)
        return number


DATE_MIN, DATE_MAX = datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)


class Date(ma.fields.Date):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(isinstance(v, validate.Range) for v in self.validators):
            self.validators.insert(0, validate.Range(min=DATE_MIN, max=DATE_MAX))


MOMENT_MIN = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
MOMENT_MAX = datetime.datetime(2199, 12, 31, tzinfo=datetime.UTC)


class Moment(ma.fields.AwareDateTime):
    """A point in time with its offset (2026-12-03T09:30:00+08:00 or ...Z), returned in UTC; a time without
    an offset is refused (whose 09:30?), and so is one outside 2000..2199, where adding a window or a term
    could leave the calendar."""

    default_error_messages = {"range": "Must be between 2000 and 2199."}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(datetime.UTC)
        except OverflowError:
            raise self.make_error("range") from None
        if not MOMENT_MIN <= moment <= MOMENT_MAX:
            raise self.make_error("range")
        return moment


class Id(Integer):
    """A row id: 1 to INTEGER's maximum (the primary keys' type)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, minimum=1, **kwargs)


class Text(ma.fields.String):
    default_error_messages = {
        "blank": "Must not be blank.",
        "control": "Must not contain control characters.",
        "surrogate": "Must not contain lone surrogates.",
        "bidi": "Must not contain bidirectional control characters.",
    }

    def __init__(self, *args, multiline: bool = False, strip: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.multiline = multiline
        self.strip = strip

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("surrogate") from None
        text = unicodedata.normalize("NFC", text)
        if self.strip:
            text = text.strip()
        if (_CONTROL_MULTILINE_OK if self.multiline else _CONTROL_SINGLE_LINE).search(text):
            raise self.make_error("control")
        if not self.multiline and _BIDI.search(text):
            raise self.make_error("bidi")
        if not text.strip():
            if self.allow_none:
                return None
            raise self.make_error("blank")
        return text

    def _validate(self, value) -> None:
        if value is not None:  # blank given where None is allowed: nothing for Length or OneOf to check
            super()._validate(value)


class Password(Text):
    """Taken as typed (never trimmed: spaces may be part of it), NFC-normalised so that the same password
    typed on two keyboards is the same; blank, control characters and over 200 characters refused. The
    policy (length, common passwords) is the accounts service's."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=200))
        super().__init__(strip=False, load_only=True, **kwargs)


class Email(Text, ma.fields.Email):
    """An e-mail address, normalised like other text and compared in lower case."""

    def _deserialize(self, value, attr, data, **kwargs):
        address = super()._deserialize(value, attr, data, **kwargs)
        return address.lower() if address is not None else None  # blank, where None is allowed


class Decimal(ma.fields.Decimal):
    default_error_messages = {"places": "At most {places} decimal places."}

    def __init__(self, places: int | None = None, **kwargs):
        super().__init__(places=places, **kwargs)
        self.max_places = places
        # apispec writes a Decimal field's bounds through the field, as strings: the document wants numbers.
        for validator in self.validators:
            if isinstance(validator, validate.Range):
                self.metadata.setdefault("minimum", None if validator.min is None else float(validator.min))
                self.metadata.setdefault("maximum", None if validator.max is None else float(validator.max))
        self.metadata = {k: v for k, v in self.metadata.items() if v is not None}

    def _validated(self, value):
        number = super()._validated(value)
        if number is not None and self.max_places is not None:
            exponent = number.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > self.max_places:
                raise self.make_error("places", places=self.max_places)
        return number

    def _format_num(self, value):
        # The parent quantizes to `places` (rounding): refuse instead, in _validated, on the exact value.
        return decimal.Decimal(str(value)) if isinstance(value, float) else decimal.Decimal(value)
