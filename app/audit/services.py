from __future__ import annotations

from typing import Any

from app.extensions import db

from .models import AuditLog


def record(
    entity: str,
    entity_id: int,
    action: str,
    actor: Any | None,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    changes: dict | None = None,
) -> AuditLog:
    entry = AuditLog(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_user_id=getattr(actor, "id", None),
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        changes=changes,
    )
    db.session.add(entry)
    return entry


def entries_query(entity: str | None = None, entity_id: int | None = None):
    import sqlalchemy as sa

    stmt = sa.select(AuditLog).order_by(AuditLog.id.desc())
    if entity:
        stmt = stmt.where(AuditLog.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    return stmt
