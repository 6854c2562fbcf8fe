"""The one clock every service reads, and the business calendar.

Timestamps are aware UTC (`now()`); business dates (patent expiry, deadlines, licence filing dates,
the months of a report) are dates in BUSINESS_TIMEZONE (`today()`, `business_date()`), Asia/Shanghai
by default: a UTC date is a day behind for the first eight hours of every China day.

Tests move time with `freeze(...)` and `advance(...)`; the clock is process-wide, so a frozen time
holds for every thread of a test (concurrent requests included).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

_lock = threading.Lock()
_frozen: datetime | None = None
_zone = ZoneInfo(os.environ.get("BUSINESS_TIMEZONE") or DEFAULT_TIMEZONE)


def configure(timezone_name: str | None) -> None:
    """Set the business timezone (create_app does, from BUSINESS_TIMEZONE)."""
    global _zone
    _zone = ZoneInfo(timezone_name or DEFAULT_TIMEZONE)


def zone() -> ZoneInfo:
    return _zone


def now() -> datetime:
    """The current time, aware UTC."""
    frozen = _frozen
    return frozen if frozen is not None else datetime.now(UTC)


def business_date(moment: datetime) -> date:
    """The business calendar's date of an aware moment."""
    return moment.astimezone(_zone).date()


def today() -> date:
    """Today's date in the business timezone."""
    return business_date(now())


def start_of_business_day(day: date) -> datetime:
    """The UTC moment a business day begins (for date-range filters on timestamps)."""
    return datetime(day.year, day.month, day.day, tzinfo=_zone).astimezone(UTC)


def freeze(moment: datetime | str) -> datetime:
    """Stop the clock at `moment` (aware, or ISO text with an offset) until `unfreeze()`."""
    global _frozen
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    with _lock:
        _frozen = moment.astimezone(UTC)
    return _frozen


def advance(**delta: float) -> datetime:
    """Move a frozen clock on, e.g. advance(minutes=5)."""
    global _frozen
    with _lock:
        if _frozen is None:
            raise RuntimeError("advance() needs a frozen clock")
        _frozen = _frozen + timedelta(**delta)
        return _frozen


def unfreeze() -> None:
    global _frozen
    with _lock:
        _frozen = None


def is_frozen() -> bool:
    return _frozen is not None


@contextlib.contextmanager
def frozen(moment: datetime | str) -> Iterator[datetime]:
    """`with clock.frozen("2026-01-01T16:30:00+00:00"): ...`"""
    freeze(moment)
    try:
        yield now()
    finally:
        unfreeze()
