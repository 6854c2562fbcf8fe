"""Domain events: how a lower package tells the rest of the app that something happened without
importing it (patents do not import demands).

A handler subscribes either `in_transaction` (it runs now, in the emitting transaction, for rules
that must hold together: a lapsed patent's listings expire with it) or as a job kind (a job row is
written now and the job runs after the commit: notifying enterprises whose demands fit a new listing).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger("app.events")

_in_transaction: dict[str, list[Callable[..., None]]] = defaultdict(list)
_jobs: dict[str, list[str]] = defaultdict(list)

EVENTS = {
    "listing.published": "listings went on the shelf: {listing_ids}",
    "patent.out_of_force": "a patent lapsed or ran out of term: {patent_id}, {reason}",
    "import.finished": "an import job ended: {import_id}, {status}",
    "listings.bulk_written": "listings were written without the ORM (imports), published on: {listed_on}",
}


def in_transaction(event: str) -> Callable:
    """Run the decorated `handler(**payload)` inside the emitting transaction."""
    _check(event)

    def decorator(handler):
        _in_transaction[event].append(handler)
        return handler

    return decorator


def as_job(event: str, job_kind: str) -> None:
    """Write a `job_kind` job with the event's payload whenever `event` is emitted."""
    _check(event)
    if job_kind not in _jobs[event]:
        _jobs[event].append(job_kind)


def emit(event: str, actor=None, **payload) -> None:
    _check(event)
    # One log line per domain event with its ids (JSON under JSON_LOGS): what happened, findable by id.
    log.info("event %s %s", event, payload, extra={"json": {"event": event, **payload,
                                                            "actor_id": getattr(actor, "id", None)}})
    for handler in _in_transaction[event]:
        handler(actor=actor, **payload)
    if _jobs[event]:
        from app import jobs

        for job_kind in _jobs[event]:
            jobs.enqueue(job_kind, {**payload, "actor_id": getattr(actor, "id", None)})


def _check(event: str) -> None:
    if event not in EVENTS:
        raise LookupError(f"unknown event {event!r}")
