from datetime import UTC, date, datetime

import pytest

from app import clock
from app.jobs.registry import DailyAt, Every


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    clock.unfreeze()


def test_business_dates_are_dates_of_shanghai_not_of_utc():
    # 17:00 UTC on 1 January is 01:00 on 2 January in Shanghai: the UTC date is a day behind.
    clock.freeze(datetime(2026, 1, 1, 17, 0, tzinfo=UTC))
    assert clock.now().date() == date(2026, 1, 1)
    assert clock.today() == date(2026, 1, 2)
    assert clock.start_of_business_day(date(2026, 1, 2)) == datetime(2026, 1, 1, 16, 0, tzinfo=UTC)


def test_a_frozen_clock_moves_only_when_told():
    start = clock.freeze("2026-03-01T08:00:00+08:00")
    assert start == datetime(2026, 3, 1, 0, 0, tzinfo=UTC) and clock.now() == start
    assert clock.advance(minutes=5) == datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.freeze(datetime(2026, 3, 1))  # naive
    clock.unfreeze()
    with pytest.raises(RuntimeError):
        clock.advance(seconds=1)


def test_the_timezone_is_configurable():
    try:
        clock.configure("UTC")
        clock.freeze(datetime(2026, 1, 1, 17, 0, tzinfo=UTC))
        assert clock.today() == date(2026, 1, 1)
    finally:
        clock.configure(None)


def test_schedules_in_the_business_calendar():
    daily = DailyAt(hour=0, minute=10)
    # 15:00 UTC is 23:00 in Shanghai: the next 00:10 there is 16:10 UTC the same day.
    assert daily.next_after(datetime(2026, 1, 1, 15, 0, tzinfo=UTC)) == datetime(2026, 1, 1, 16, 10, tzinfo=UTC)
    assert daily.next_after(datetime(2026, 1, 1, 16, 10, tzinfo=UTC)) == datetime(2026, 1, 2, 16, 10, tzinfo=UTC)
    assert Every(30).next_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
