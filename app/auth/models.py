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
    # Shown to the user among their sessions; last use is recorded at most once a minute (sessions.touch).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))

    user: Mapped[User] = relationship()


class PasswordResetCode(db.Model):
    """A one-time code staff issue so that a user can set a new password without e-mail (only its hash)."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invitation(db.Model):
    """A one-time code that lets a colleague join an organisation at sign-up (only its hash is kept)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The role the colleague gets follows the organisation's kind (university or enterprise).
    role: Mapped[str] = mapped_column(enum_column(*ROLES, name="invitation_role"))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)

    @property
    def status(self) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= clock.now() else "open"


class SystemActor:
    """The operator behind CLI commands: acts with staff rights, audited with no user id."""

    id = None
    role = "admin"
    organization_id = None
    is_staff = True
    is_active = True
    email = "system"


SYSTEM = SystemActor()
