"""Draining the outbox into the engine, and rebuilding the index with no downtime.

One drainer at a time (a PostgreSQL advisory lock, or a file lock beside the SQLite database):
a drain reads the current rows of what changed and writes them, so with one writer at a time
a later drain can never be overtaken by an earlier one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from app.db import read_only
from app.extensions import db
from search import SearchBackend, SearchUnavailable

from .documents import all_listing_ids, documents_for, listing_ids_for
from .outbox import OutboxEvent

log = logging.getLogger(__name__)
ADVISORY_KEY = 0x5EA4C4  # arbitrary, stable: "search"


def backend() -> SearchBackend:
    return current_app.extensions["search_backend"]


@contextlib.contextmanager
def drain_lock(wait_seconds: float = 0.0) -> Iterator[bool]:
    """Yield True when this process may drain now; False when another drainer holds the lock."""
    deadline = time.monotonic() + wait_seconds
    if db.engine.dialect.name == "postgresql":
        while True:
            got = db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(ADVISORY_KEY)))
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        yield bool(got)  # released by the commit or rollback that ends the drain's transaction
        return
    path = _drain_lock_path()
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
            except BlockingIOError:
                got = False
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _drain_lock_path() -> Path:
    """Beside the SQLite database whose outbox it guards: one drainer per database, and two apps on
    different databases (test runs side by side, say) never wait for each other's drainer."""
    database = db.engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).with_name(Path(database).name + ".drain.lock")
    return Path(current_app.instance_path) / "search-drain.lock"


def drain(batch: int = 500, max_batches: int | None = None, wait_seconds: float = 0.0) -> int:
    """Index what the outbox names, batch by batch; returns the number of outbox rows done.

    If the engine fails, the rows stay (with their attempt count and error) and the error is raised.
    """
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with drain_lock(wait_seconds) as acquired:
            if not acquired:
                db.session.rollback()
                return done
            # SQLite: read without the database's write lock (the file lock above already makes this the
            # only drainer), so writers are not held up while the engine indexes. PostgreSQL keeps one
            # transaction: its advisory lock is the transaction's.
            split = db.engine.dialect.name != "postgresql"
            with read_only() if split else contextlib.nullcontext():
                rows = db.session.execute(
                    sa.select(OutboxEvent.id, OutboxEvent.entity, OutboxEvent.entity_id)
                    .order_by(OutboxEvent.id).limit(batch)
                ).all()
                if not rows:
                    db.session.commit()
                    return done
                docs, missing = documents_for(listing_ids_for((row.entity, row.entity_id) for row in rows))
                if split:
                    db.session.commit()
            row_ids = [row.id for row in rows]
            try:
                engine = backend()
                engine.index(docs)
                engine.delete(missing)
            except SearchUnavailable as exc:
                db.session.rollback()
                _record_failure(row_ids, str(exc))
                raise
            db.session.execute(sa.delete(OutboxEvent).where(OutboxEvent.id.in_(row_ids)))
            db.session.commit()
        done += len(rows)
        batches += 1
    return done


def _record_failure(row_ids: list[int], error: str) -> None:
    db.session.execute(
        sa.update(OutboxEvent).where(OutboxEvent.id.in_(row_ids))
        .values(attempts=OutboxEvent.attempts + 1, last_error=error[:2000])
    )
    db.session.commit()


def backlog() -> dict:
    count, oldest, failing = db.session.execute(
        sa.select(sa.func.count(OutboxEvent.id), sa.func.min(OutboxEvent.created_at),
                  sa.func.count(OutboxEvent.id).filter(OutboxEvent.attempts > 0))
    ).one()
    return {"pending": count, "failing": failing, "oldest": oldest.isoformat() if oldest else None}


def reindex(batch: int = 1000, progress: Callable[[int], None] | None = None,
            processes: int | None = None) -> int:
    """Build a fresh index beside the live one and switch to it; searches keep answering throughout.

    Drains keep running and write to both indexes while it builds; the bulk load only adds documents
    the new index does not have yet, so it never overwrites the newer state a drain wrote, and the
    last drain before the switch catches the rest. With `processes` (SEARCH_REINDEX_PROCESSES), a
    forked process reads the database and prepares each batch while this one writes the previous.
    """
    engine = backend()
    processes = current_app.config.get("SEARCH_REINDEX_PROCESSES", 0) if processes is None else processes
    batches = list(all_listing_ids(batch))
    db.session.commit()
    target = engine.begin_rebuild()
    total = 0
    try:
        for prepared in _prepared_batches(engine, batches, processes):
            engine.write_prepared(target, prepared)
            total += len(prepared)
            if progress:
                progress(len(prepared))
        drain(wait_seconds=60.0)
        engine.finish_rebuild(target)
    except BaseException:
        engine.abort_rebuild(target)
        raise
    return total


def _prepared_batches(engine: SearchBackend, batches: list[list[int]], processes: int) -> Iterator:
    if processes < 1:
        for ids in batches:
            docs, _ = documents_for(ids)
            db.session.commit()
            yield engine.prepare(docs)
        return
    global _FORK_APP
    _FORK_APP = current_app._get_current_object()
    with multiprocessing.get_context("fork").Pool(processes, initializer=_child_start) as pool:
        yield from pool.imap(_child_prepare, batches)


_FORK_APP = None


def _child_start() -> None:
    # The parent's pooled connections must not be shared across the fork.
    with _FORK_APP.app_context():
        db.engine.dispose(close=False)


def _child_prepare(ids: list[int]):
    with _FORK_APP.app_context():
        docs, _ = documents_for(ids)
        db.session.remove()
        return backend().prepare(docs)
