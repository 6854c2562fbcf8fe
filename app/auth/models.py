from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.db import TimestampMixin, UTCDateTime, enum_column
from app.extensions import db

ROLES = ("university", "enterprise", "staff", "admin")
ORGANIZATION_KINDS = ("university", "institute", "enterprise", "exchange", "bank")
# Which organisation kinds a user of each role may belong to (admin: any, or none).
ROLE_ORGANIZATION_KINDS = {
    "university": {"university", "institute"},
    "enterprise": {"enterprise"},
    "staff": {"exchange"},
}


class Organization(TimestampMixin, db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(enum_column(*ORGANIZATION_KINDS, name="organization_kind"), index=True)
    region: Mapped[str | None] = mapped_column(sa.String(100))


class User(TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(enum_column(*ROLES, name="user_role"))
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    organization: Mapped[Organization | None] = relationship()

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


class AuthToken(db.Model):
    """Opaque bearer tokens; only their SHA-256 is stored, so a database leak yields no live token."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class SystemActor:
    """The operator behind CLI commands: acts with staff rights, audited with no user id."""

    id = None
    role = "admin"
    organization_id = None
    is_staff = True
    is_active = True
    email = "system"


SYSTEM = SystemActor()
