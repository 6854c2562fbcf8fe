"""Who is calling, and the role checks that routes declare (and document) with require_role."""

from __future__ import annotations

import functools
import hashlib
from copy import deepcopy

import sqlalchemy as sa
from flask import request

from app import clock
from app.api import ErrorSchema
from app.errors import Forbidden, Unauthorized
from app.extensions import db

from .models import AuthToken, User

_ANONYMOUS = object()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Built once: every authenticated request runs it. The user as an entity (the services take it), the
# token's few columns as values.
_USER_BY_TOKEN = (
    sa.select(User, AuthToken.id, AuthToken.revoked_at, AuthToken.expires_at, AuthToken.last_used_at)
    .join(User, AuthToken.user_id == User.id)
    .where(AuthToken.token_hash == sa.bindparam("token_hash"))
)


def current_user() -> User | None:
    """The authenticated user, None when no token is sent; a bad token is a 401 everywhere."""
    # Cached on the request, not on g: an app context (and its g) can outlive one request.
    cached = request.environ.get("app.current_user")
    if cached is not None:
        return None if cached is _ANONYMOUS else cached
    header = request.headers.get("Authorization", "")
    if not header:
        request.environ["app.current_user"] = _ANONYMOUS
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("invalid_token", "the Authorization header must be 'Bearer <token>'")
    row = db.session.execute(_USER_BY_TOKEN, {"token_hash": hash_token(token.strip())}).first()
    if row is None:
        raise Unauthorized("invalid_token", "the token is not valid")
    user, token_id, revoked_at, expires_at, last_used_at = row
    if revoked_at is not None:
        raise Unauthorized("token_revoked", "the token has been revoked")
    if expires_at <= clock.now():
        raise Unauthorized("token_expired", "the token has expired")
    if not user.is_active:
        raise Unauthorized("user_inactive", "the account is disabled")
    request.environ["app.current_user"] = user
    # Plain values for what runs after the request's commit (logging, recording the token's use): the
    # commit expires the rows, and reading them again would cost two queries per request.
    request.environ["app.current_user_id"] = user.id
    request.environ["app.current_token_use"] = (token_id, last_used_at)
    return user


def cached_user_id() -> int | None:
    """The id of the user this request authenticated as, if it did (for logs: no query, no error)."""
    return request.environ.get("app.current_user_id")


def current_token() -> AuthToken | None:
    """The token this request authenticated with (loaded on demand: few endpoints need more than its id)."""
    if current_user() is None:
        return None
    return db.session.get(AuthToken, request.environ["app.current_token_use"][0])


def _document(wrapper, roles: list[str], required: bool) -> None:
    doc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = doc.setdefault("manual_doc", {})
    manual["x-roles"] = roles
    manual["security"] = [{"bearerAuth": []}] if required else [{}, {"bearerAuth": []}]
    manual["description"] = "Roles: " + ", ".join(roles) + "."
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    codes = (401, 403) if required else (401,)
    for code in codes:
        description = "No, expired or revoked token" if code == 401 else "The role or organisation may not do this"
        responses.setdefault(code, []).append(
            {"schema": ErrorSchema, "description": description, "content_type": None}
        )
    wrapper._apidoc = doc


def require_role(*roles: str):
    """Allow only authenticated users with one of `roles` (admin is always allowed).

    With no roles, any authenticated user. Object-level rules (own organisation)
    stay in the services.
    """
    allowed = set(roles) | {"admin"} if roles else None

    def authorize() -> None:
        user = current_user()
        if user is None:
            raise Unauthorized("authentication_required", "this call needs a bearer token")
        if allowed is not None and user.role not in allowed:
            raise Forbidden("role_not_allowed", f"the role '{user.role}' may not do this")

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            authorize()
            return func(*args, **kwargs)

        _document(wrapper, sorted(allowed) if allowed else ["university", "enterprise", "staff", "admin"], True)
        # Read by app.guards before the arguments are parsed (functools.wraps carries it to the outer
        # decorators' wrappers), so authentication answers before body validation.
        wrapper._authorize = authorize
        return wrapper

    return decorator


def allow_anonymous(func):
    """Anyone may call; what they see may depend on who they are."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        current_user()
        return func(*args, **kwargs)

    _document(wrapper, ["anonymous", "university", "enterprise", "staff", "admin"], False)
    wrapper._authorize = current_user  # a bad token is a 401 before anything else
    return wrapper
