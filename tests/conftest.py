"""One app per session on a fresh database (SQLite file, or a new PostgreSQL database when
DATABASE_URL points at a server), built by the Alembic migrations; one rolled-back
transaction per test."""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import orm

from app import create_app
from app.config import database_url
from app.extensions import db

from . import factories


def _postgres_url() -> sa.URL | None:
    raw = os.environ.get("DATABASE_URL")
    if raw and raw.startswith(("postgres://", "postgresql")):
        return sa.make_url(database_url(raw))
    return None


def create_scratch_database(tmp_path_factory, prefix: str) -> tuple[str, callable]:
    """A new empty database for this run: a PostgreSQL database of its own, or a SQLite file."""
    server = _postgres_url()
    if server is None:
        path = tmp_path_factory.mktemp(prefix) / "test.db"
        return f"sqlite:///{path}", lambda: None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def osmem():
    """A real OpenSearch-compatible HTTP server (osmem-server), shared by the session."""
    from osmem_server import OsmemServer

    server = OsmemServer.start(japanese=False)
    yield server
    server.close()


@contextlib.contextmanager
def migrated_app(tmp_path_factory, prefix: str, **config):
    """An app on a scratch database of its own, upgraded to head by the migrations; dropped afterwards."""
    url, drop = create_scratch_database(tmp_path_factory, prefix)
    search_dir = tmp_path_factory.mktemp(f"{prefix}_search")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "SEARCH_PATH": str(search_dir / "search.sqlite3"), **config})
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    with migrated_app(tmp_path_factory, "ps_test") as app:
        yield app


@pytest.fixture()
def session(app):
    """Everything a test writes, including the requests' own commits, is rolled back afterwards."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        # A plain Session: Flask-SQLAlchemy's own get_bind would ignore the connection.
        db.session = orm.scoped_session(
            orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture()
def client(app, session):
    return app.test_client()


@pytest.fixture()
def world(session):
    """Organisations and one user (with a token) per role, plus two outlets."""
    return factories.World.build()
