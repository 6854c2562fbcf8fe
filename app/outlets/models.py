from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import TimestampMixin, enum_column
from app.extensions import db

OUTLET_KINDS = ("regional", "themed")


class Outlet(TimestampMixin, db.Model):
    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(60))
    province: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[str] = mapped_column(enum_column(*OUTLET_KINDS, name="outlet_kind"))
    operator: Mapped[str | None] = mapped_column(sa.String(200))
