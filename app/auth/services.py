"""Accounts, tokens and organisations."""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app import clock
from app.audit.services import record
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.extensions import db
from app.indexing.outbox import enqueue_organization

from .models import ROLE_ORGANIZATION_KINDS, AuthToken, Organization, User
from .permissions import hash_token

MIN_PASSWORD_LENGTH = 10
_COMMON = Path(__file__).with_name("data") / "common_passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST_KIB"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password_policy(password: str, email: str | None = None, field: str = "password") -> None:
    """At least MIN_PASSWORD_LENGTH characters of which not all are spaces, not one character repeated, not a
    common password (also with a year or a few digits added), not the e-mail's name."""
    if not password.strip():
        raise Invalid("weak_password", "the password is blank", field=field)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("weak_password", f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
                      field=field)
    lowered = password.lower()
    bare = lowered.rstrip("0123456789!.@#")
    local = normalise_email(email).partition("@")[0] if email else ""
    if (len(set(lowered)) <= 2 or lowered in common_passwords() or (bare and bare in common_passwords())
            or (len(local) >= 4 and local in lowered)):
        raise Invalid("weak_password", "the password is too easy to guess (a common password, a repeated "
                      "character or your e-mail's name)", field=field)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def _ensure_email_free(email: str) -> None:
    if get_user_by_email(email) is not None:
        raise Conflict("email_taken", "an account with this email already exists", field="email")


def _ensure_organization_name_free(name: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Organization.id).where(Organization.name == name.strip())
    if exclude_id is not None:
        stmt = stmt.where(Organization.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict("organization_exists", "an organisation with this name already exists", field="name")


def register_enterprise(email: str, password: str, organization_name: str, region: str | None = None):
    """Self sign-up: an enterprise and its first user. Universities are created by staff."""
    check_password_policy(password, email)
    _ensure_email_free(email)
    _ensure_organization_name_free(organization_name)
    org = Organization(name=organization_name.strip(), kind="enterprise", region=region)
    db.session.add(org)
    db.session.flush()
    user = User(email=normalise_email(email), password_hash=hash_password(password), role="enterprise",
                organization_id=org.id)
    db.session.add(user)
    db.session.flush()
    record("organization", org.id, "create", user, changes={"name": org.name, "kind": org.kind})
    record("user", user.id, "register", user, changes={"email": user.email, "role": user.role})
    return user, org


def create_user(actor: User | None, email: str, password: str, role: str,
                organization_id: int | None) -> User:
    """Staff create university and enterprise users; only an admin creates staff or admins."""
    if actor is not None and actor.role != "admin" and role in ("staff", "admin"):
        raise Forbidden("role_not_allowed", "only an admin may create staff or admin users")
    check_password_policy(password, email)
    _ensure_email_free(email)
    org = None
    if organization_id is not None:
        org = db.session.get(Organization, organization_id)
        if org is None:
            raise Invalid("organization_not_found", "no organisation with this id", field="organization_id")
    kinds = ROLE_ORGANIZATION_KINDS.get(role)
    if kinds is not None:
        if org is None:
            raise Invalid("organization_required", f"a {role} user belongs to an organisation",
                          field="organization_id")
        if org.kind not in kinds:
            raise Invalid("organization_kind_mismatch",
                          f"a {role} user cannot belong to a {org.kind} organisation", field="organization_id")
    user = User(email=normalise_email(email), password_hash=hash_password(password), role=role,
                organization_id=organization_id)
    db.session.add(user)
    db.session.flush()
    record("user", user.id, "create", actor, changes={"email": user.email, "role": role,
                                                       "organization_id": organization_id})
    return user


_DUMMY_HASH: str | None = None


def login(email: str, password: str, user_agent: str | None = None) -> tuple[str, int]:
    """Return (token, lifetime in seconds). The same answer for an unknown email and a wrong password."""
    global _DUMMY_HASH
    user = get_user_by_email(email)
    hasher = _hasher()
    if user is None or not user.is_active:
        # Spend the same time as a real check so timing does not reveal which emails exist.
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash(secrets.token_hex(8))
        try:
            hasher.verify(_DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            pass
        raise Unauthorized("invalid_credentials", "the email or the password is wrong")
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("invalid_credentials", "the email or the password is wrong") from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    token = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(AuthToken(token_hash=hash_token(token), user_id=user.id, created_at=now, last_used_at=now,
                             user_agent=user_agent, expires_at=now + timedelta(seconds=ttl)))
    db.session.flush()
    return token, ttl


def logout(token: AuthToken) -> None:
    token.revoked_at = clock.now()


# Organisations ------------------------------------------------------------------------------

def get_organization(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("organization_not_found", f"no organisation {org_id}")
    return org


def organizations_query(kind: str | None = None, q: str | None = None) -> sa.Select:
    stmt = sa.select(Organization).order_by(Organization.name)
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if q:
        stmt = stmt.where(Organization.name.contains(q.strip(), autoescape=True))
    return stmt


def create_organization(actor: User | None, name: str, kind: str, region: str | None = None) -> Organization:
    _ensure_organization_name_free(name)
    org = Organization(name=name.strip(), kind=kind, region=region)
    db.session.add(org)
    db.session.flush()
    record("organization", org.id, "create", actor, changes={"name": org.name, "kind": kind, "region": region})
    return org


def update_organization(actor: User | None, org_id: int, changes: dict) -> Organization:
    org = get_organization(org_id)
    if "name" in changes:
        _ensure_organization_name_free(changes["name"], exclude_id=org.id)
        changes["name"] = changes["name"].strip()
    if "kind" in changes and changes["kind"] != org.kind:
        members = db.session.scalars(sa.select(User.role).where(User.organization_id == org.id)).all()
        for role in set(members):
            kinds = ROLE_ORGANIZATION_KINDS.get(role)
            if kinds is not None and changes["kind"] not in kinds:
                raise Conflict("organization_kind_in_use",
                               f"the organisation has {role} users; it cannot become a {changes['kind']}",
                               field="kind")
    before = {key: getattr(org, key) for key in changes}
    for key, value in changes.items():
        setattr(org, key, value)
    db.session.flush()
    record("organization", org.id, "update", actor, changes={"before": before, "after": changes})
    if "name" in changes and before["name"] != changes["name"]:
        # The owner's name is part of every listing document of this organisation.
        enqueue_organization(org.id)
    return org
