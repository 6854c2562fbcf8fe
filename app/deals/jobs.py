"""Scheduled deal maintenance."""

from __future__ import annotations

from app.jobs import DailyAt, job

from .services import notify_overdue_filings


@job("deals.filing_overdue", schedule=DailyAt(hour=9, minute=0))
def filing_overdue(payload: dict, ctx) -> None:
    """Every business day at 09:00 (Asia/Shanghai): staff hear of licences whose filing fell overdue."""
    notify_overdue_filings()
