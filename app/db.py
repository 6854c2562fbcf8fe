"""Declarative base, column types and the money/time helpers every model uses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import clock

# Whether the current transaction will write: on SQLite a writer begins with BEGIN IMMEDIATE. Requests
# with a read method set it to False; commands, jobs and tests write.
WRITE_INTENT: ContextVar[bool] = ContextVar("write_intent", default=True)


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Transactions begun inside only read: on SQLite they do not take the write lock, so a long read (a
    training run, scoring every demand) never holds up the API's writers."""
    token = WRITE_INTENT.set(False)
    try:
        yield
    finally:
        WRITE_INTENT.reset(token)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC on every backend.

    SQLite keeps no offset, so values are normalised to UTC before storing and
    marked UTC again when read; a naive datetime is a programming error.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Money is integer fen everywhere; BigInteger so that a ¥100M deal fits with room to spare.
Money = sa.BigInteger


def enum_column(*values: str, name: str, **kwargs) -> sa.Enum:
    """A VARCHAR with a CHECK constraint: portable, and new values need only a revision."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32, **kwargs)


def partial_unique_index(name: str, *columns: str, where: str) -> sa.Index:
    """A unique index over the rows `where` holds (PostgreSQL and SQLite both have them): the database's
    guard of an "at most one ... while ..." rule."""
    return sa.Index(name, *columns, unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def lock_row(session, model, row_id: int):
    """The row of `model` with this id, re-read and locked to the end of the transaction (SELECT ... FOR
    UPDATE OF its own table only, so the rows its joined relationships bring are not locked; on SQLite the
    writer's BEGIN IMMEDIATE already serialises), or None. Every "read the rules, then write" of a row that
    others may change at the same moment starts here."""
    return session.scalars(sa.select(model).where(model.id == row_id).with_for_update(of=model)
                           .execution_options(populate_existing=True)).one_or_none()


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=clock.now, onupdate=clock.now, nullable=False
    )


def bulk_insert(session, model, rows: list[dict]) -> None:
    """Insert many rows (all with the same keys) in the session's transaction, fast on both databases:
    COPY on PostgreSQL (an executemany is a statement per row through psycopg, and multi-VALUES
    statements make psycopg parse megabytes of SQL); batched multi-VALUES on SQLite (RETURNING, unread,
    is what turns on SQLAlchemy's "insertmanyvalues" batching there). Values go in as given: column
    defaults are not applied, so rows name every column that has no database default."""
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(sa.insert(table).returning(*table.primary_key.columns), rows)
        return
    from psycopg.types.json import Json

    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, sa.JSON) for name in columns]
    preparer = connection.dialect.identifier_preparer
    quoted = ", ".join(preparer.quote(name) for name in columns)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {preparer.format_table(table)} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([Json(row[name]) if json and row[name] is not None else row[name]
                            for name, json in zip(columns, as_json, strict=True)])
