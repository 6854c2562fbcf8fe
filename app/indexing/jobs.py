"""The search index follows the database through the `search.drain` job."""

from __future__ import annotations

from app.jobs import Every, job

from .indexer import drain


@job("search.drain", eager=True, coalesce=True, max_attempts=12, lease_seconds=600, schedule=Every(30))
def drain_search(payload: dict, ctx) -> None:
    """Index what the outbox names. One per writing transaction (run right after its commit), and a sweep
    every 30 s for what a failed drain left; if the engine is down the error is kept and it retries."""
    drain(wait_seconds=2.0)
