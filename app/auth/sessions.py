"""A user's sessions (bearer tokens): listing, ending one or all, and recording their last use."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request

from app import clock
from app.api import paginate
from app.audit.services import record
from app.errors import NotFound
from app.extensions import db

from .models import AuthToken, User

log = logging.getLogger(__name__)


def active_tokens_query(user: User) -> sa.Select:
    return (sa.select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None),
                                       AuthToken.expires_at > clock.now())
            .order_by(AuthToken.created_at.desc(), AuthToken.id.desc()))


def sessions_page(user: User, current: AuthToken | None, page: int, page_size: int) -> dict:
    """A page of the user's live sessions, the one in use marked `current` (never a token itself)."""
    listing = paginate(active_tokens_query(user), page, page_size)
    listing["items"] = [{"id": token.id, "created_at": token.created_at, "last_used_at": token.last_used_at,
                         "expires_at": token.expires_at, "user_agent": token.user_agent,
                         "current": current is not None and token.id == current.id} for token in listing["items"]]
    return listing


def revoke_token(actor: User, token_id: int) -> None:
    """End one of one's own sessions; somebody else's is as absent as a missing one."""
    token = db.session.get(AuthToken, token_id)
    if token is None or token.user_id != actor.id or token.revoked_at is not None:
        raise NotFound("token_not_found", f"no session {token_id}")
    token.revoked_at = clock.now()
    record("user", actor.id, "session_ended", actor, changes={"token_id": token_id})


def revoke_all(user_id: int, *, keep_token_id: int | None = None) -> int:
    """Revoke every live token of the user (but `keep_token_id`), at once: the next call with one is a 401."""
    stmt = sa.update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
    if keep_token_id is not None:
        stmt = stmt.where(AuthToken.id != keep_token_id)
    return db.session.execute(stmt.values(revoked_at=clock.now())).rowcount or 0


def user_agent() -> str | None:
    agent = request.headers.get("User-Agent")
    return agent[:300] if agent else None


def touch(response):
    """After a request made with a token, record its use, at most once per TOKEN_TOUCH_SECONDS, in a short
    transaction of its own: a read request commits nothing, and the request's own transaction is over (a
    write request has committed; a read one holds only a snapshot, which a WAL writer does not wait for)."""
    use = request.environ.get("app.current_token_use")
    every = current_app.config["TOKEN_TOUCH_SECONDS"]
    if use is None or every <= 0:
        return response
    token_id, last_used_at = use
    now = clock.now()
    if last_used_at is not None and last_used_at > now - timedelta(seconds=every):
        return response
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.update(AuthToken).where(
                AuthToken.id == token_id,
                sa.or_(AuthToken.last_used_at.is_(None), AuthToken.last_used_at <= now - timedelta(seconds=every)))
                .values(last_used_at=now))
    except sa.exc.SQLAlchemyError as exc:  # a convenience figure: never worth failing the request
        log.warning("could not record the token's last use: %s", exc)
    return response
