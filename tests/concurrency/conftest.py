"""Truly concurrent requests: an app on a database of its own where every request commits for real,
called from many threads at once, each request with its own connection and transaction.

On PostgreSQL (DATABASE_URL set, as in CI's second run) this is where row locks, SKIP LOCKED and the
partial unique indexes are proven; on SQLite the same tests show that writers queue on BEGIN IMMEDIATE
instead of failing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.extensions import db

from .. import factories
from ..conftest import migrated_app


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    # Room for every thread's connection: a request waits for none but the database's locks.
    engine = {"pool_size": 25, "max_overflow": 10}
    with migrated_app(tmp_path_factory, "ps_live", SQLALCHEMY_ENGINE_OPTIONS=engine) as app:
        yield app


def _empty_every_table() -> None:
    tables = [t for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture()
def live(live_app):
    """The live app's context for setup and checks; every table is emptied afterwards."""
    with live_app.app_context():
        try:
            yield live_app
        finally:
            db.session.rollback()
            _empty_every_table()
            db.session.remove()


@pytest.fixture()
def live_world(live):
    return factories.World.build()


def concurrently(count: int, call, *args):
    """Run `call(i, *args)` `count` times at once; the results in call order. The test's own transaction
    ends first: on SQLite it would hold the write lock the threads queue for."""
    db.session.commit()
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(call, i, *args) for i in range(count)]
        return [future.result() for future in futures]


def race(app, count: int, method: str, path: str, headers: dict, body=None) -> list[tuple[int, str | None]]:
    """`count` requests at once, the i-th with `body(i)` as JSON; (status, reason) of each, in call order."""

    def call(i):
        with app.test_client() as client:
            response = client.open(path, method=method, headers=headers,
                                   json=body(i) if body is not None else None)
            return response.status_code, (response.get_json(silent=True) or {}).get("reason")

    return concurrently(count, call)
