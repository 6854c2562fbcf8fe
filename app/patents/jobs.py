"""Scheduled listing maintenance."""

from __future__ import annotations

from app.auth.models import SYSTEM
from app.jobs import DailyAt, job

from .listings import expire_lapsed_listings


@job("listings.expire", schedule=DailyAt(hour=0, minute=10), lease_seconds=1800)
def expire_listings(payload: dict, ctx) -> None:
    """Every business day just after midnight (Asia/Shanghai): listings of patents no longer in force."""
    expire_lapsed_listings(SYSTEM)
