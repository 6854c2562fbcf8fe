"""Pooled connections the database server closed (a restart, an administrator's `pg_terminate_backend`, an
idle timeout) are replaced before a request uses them: the request succeeds instead of a 503."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db

from .conftest import concurrently

TERMINATE_OTHERS = sa.text(
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_requests_after_the_server_closed_every_pooled_connection_succeed(live, live_world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's file connections are not closed by a server")

    def read(_i):
        with live.test_client() as client:
            response = client.get("/api/v1/auth/me", headers=live_world.staff.headers)
            return response.status_code

    assert set(concurrently(6, read)) == {200}  # several connections now wait in the pool
    db.session.remove()
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            terminated = conn.execute(TERMINATE_OTHERS).scalar_one()
    finally:
        admin.dispose()
    assert terminated >= 2
    assert set(concurrently(6, read)) == {200}
