"""Administering accounts: users (list, role, deactivation), passwords (change, staff-issued reset codes)
and invitations of colleagues into an organisation. Every event is audited with the acting user."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError

from app import clock
from app.audit.services import record
from app.db import lock_row
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.extensions import db

from . import codes, sessions
from .models import ROLE_ORGANIZATION_KINDS, AuthToken, Invitation, Organization, PasswordResetCode, User
from .services import (
    _ensure_email_free,
    _hasher,
    check_password_policy,
    get_user_by_email,
    hash_password,
    normalise_email,
)

RESET_CODE_HOURS = 24
INVITATION_DAYS = 7
# Who an organisation's invitation makes its colleague.
ROLE_FOR_KIND = {"university": "university", "institute": "university", "enterprise": "enterprise"}


# -- users --------------------------------------------------------------------------------------------

def users_query(filters: dict) -> sa.Select:
    stmt = sa.select(User).order_by(User.id)
    for key in ("role", "organization_id", "is_active"):
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(User, key) == filters[key])
    if filters.get("email"):
        stmt = stmt.where(User.email.contains(normalise_email(filters["email"]), autoescape=True))
    return stmt


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", f"no user {user_id}")
    return user


def _check_may_administer(actor, target: User) -> None:
    """Staff administer universities', enterprises' and staff accounts; admins' only an admin."""
    if target.role == "admin" and actor.role != "admin":
        raise Forbidden("admin_only", "only an admin may change an admin's account")


def _lock_active_admins() -> list[int]:
    """The active admins' rows, locked: two admins demoting each other at once are serialised, and the
    second sees the first's change (PostgreSQL re-checks locked rows against the condition)."""
    return list(db.session.scalars(sa.select(User.id).where(User.role == "admin", User.is_active.is_(True))
                                   .order_by(User.id).with_for_update()))


def update_user(actor, user_id: int, changes: dict) -> User:
    """Admin: the role. Staff and admin: whether the account is active. Deactivating revokes every token
    at once; nobody deactivates or demotes the last active admin."""
    target = get_user(user_id)
    _check_may_administer(actor, target)
    if "role" in changes and actor.role != "admin":
        raise Forbidden("admin_only", "only an admin changes roles", field="role")
    role = changes.get("role", target.role)
    active = changes.get("is_active", target.is_active)
    if target.role == "admin" and target.is_active and (role != "admin" or not active):
        admins = _lock_active_admins()
        if len(admins) <= 1:
            raise Conflict("last_admin", "this is the last active admin: make another admin first",
                           field="is_active" if not active else "role")
    target = lock_row(db.session, User, target.id)
    if role != target.role:
        kinds = ROLE_ORGANIZATION_KINDS.get(role)
        org = db.session.get(Organization, target.organization_id) if target.organization_id else None
        if kinds is not None and (org is None or org.kind not in kinds):
            raise Invalid("organization_kind_mismatch",
                          f"a {role} user belongs to a {' or '.join(sorted(kinds))} organisation", field="role")
        record("user", target.id, "role_changed", actor, from_status=target.role, to_status=role)
        target.role = role
    if active != target.is_active:
        target.is_active = active
        if not active:
            revoked = sessions.revoke_all(target.id)
            record("user", target.id, "deactivated", actor, changes={"tokens_revoked": revoked})
        else:
            record("user", target.id, "reactivated", actor)
    db.session.flush()
    return target


# -- passwords --------------------------------------------------------------------------------------------

def _verify(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def change_password(user: User, current_password: str, new_password: str, *, keep_token: AuthToken | None) -> None:
    """One's own password, under the policy; every other session of the user ends."""
    if not _verify(user, current_password):
        raise Unauthorized("invalid_credentials", "the current password is wrong")
    check_password_policy(new_password, user.email, "new_password")
    if _verify(user, new_password):
        raise Invalid("password_unchanged", "the new password is the current one", field="new_password")
    user.password_hash = hash_password(new_password)
    revoked = sessions.revoke_all(user.id, keep_token_id=keep_token.id if keep_token else None)
    record("user", user.id, "password_changed", user, changes={"tokens_revoked": revoked})


def issue_reset_code(actor, user_id: int) -> tuple[str, PasswordResetCode]:
    """A one-time code (valid RESET_CODE_HOURS) to hand to the user; earlier unused codes stop working."""
    target = get_user(user_id)
    _check_may_administer(actor, target)
    if not target.is_active:
        raise Conflict("user_inactive", "reactivate the account first", field="is_active")
    now = clock.now()
    db.session.execute(sa.update(PasswordResetCode).where(
        PasswordResetCode.user_id == target.id, PasswordResetCode.used_at.is_(None),
        PasswordResetCode.revoked_at.is_(None)).values(revoked_at=now))
    code = codes.new_code()
    row = PasswordResetCode(user_id=target.id, code_hash=codes.hash_code(code), created_at=now,
                            created_by_user_id=getattr(actor, "id", None),
                            expires_at=now + timedelta(hours=RESET_CODE_HOURS))
    db.session.add(row)
    db.session.flush()
    record("user", target.id, "reset_code_issued", actor, changes={"reset_code_id": row.id})
    return code, row


def reset_password(email: str, code: str, new_password: str) -> User:
    """Set a new password with a reset code: one use, before it expires; every session ends. An unknown
    e-mail, a wrong, used or expired code and a deactivated account get the same answer."""
    user = get_user_by_email(email)
    refused = Invalid("invalid_reset_code", "the e-mail or the reset code is wrong, used or expired", field="code")
    if user is None or not user.is_active:
        raise refused
    check_password_policy(new_password, user.email, "new_password")
    now = clock.now()
    # One conditional statement: two requests racing with one code cannot both use it.
    used = db.session.execute(sa.update(PasswordResetCode).where(
        PasswordResetCode.user_id == user.id, PasswordResetCode.code_hash == codes.hash_code(code),
        PasswordResetCode.used_at.is_(None), PasswordResetCode.revoked_at.is_(None),
        PasswordResetCode.expires_at > now).values(used_at=now))
    if used.rowcount != 1:
        raise refused
    user.password_hash = hash_password(new_password)
    revoked = sessions.revoke_all(user.id)
    record("user", user.id, "password_reset", user, changes={"tokens_revoked": revoked})
    return user


# -- invitations ------------------------------------------------------------------------------------------

def _check_member_or_staff(actor, organization_id: int) -> Organization:
    org = db.session.get(Organization, organization_id)
    if org is None or not (actor.is_staff or actor.organization_id == org.id):
        raise NotFound("organization_not_found", f"no organisation {organization_id}")
    return org


def create_invitation(actor, organization_id: int, email: str | None = None) -> tuple[str, Invitation]:
    """A one-time code (valid INVITATION_DAYS) for a colleague to join the organisation at sign-up, with the
    role its kind gives (university or enterprise); optionally bound to one e-mail address."""
    org = _check_member_or_staff(actor, organization_id)
    role = ROLE_FOR_KIND.get(org.kind)
    if role is None:
        raise Conflict("invitation_not_allowed", f"colleagues of a {org.kind} are created by an admin",
                       field="organization_id")
    if not actor.is_staff and actor.role != role:
        raise Forbidden("role_not_allowed", "only the organisation's own members invite colleagues")
    if email is not None:
        _ensure_email_free(email)
    now = clock.now()
    code = codes.new_code()
    invitation = Invitation(organization_id=org.id, code_hash=codes.hash_code(code), role=role,
                            email=normalise_email(email) if email else None, created_at=now,
                            created_by_user_id=getattr(actor, "id", None),
                            expires_at=now + timedelta(days=INVITATION_DAYS))
    db.session.add(invitation)
    db.session.flush()
    record("invitation", invitation.id, "create", actor,
           changes={"organization_id": org.id, "role": role, "email": invitation.email})
    return code, invitation


def invitations_query(actor, organization_id: int | None, status: str | None = None) -> sa.Select:
    stmt = sa.select(Invitation).order_by(Invitation.id.desc())
    if organization_id is not None:
        _check_member_or_staff(actor, organization_id)
        stmt = stmt.where(Invitation.organization_id == organization_id)
    elif not actor.is_staff:
        raise Forbidden("role_not_allowed", "staff see every invitation; members see their organisation's")
    now = clock.now()
    conditions = {
        "open": sa.and_(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now),
        "used": Invitation.used_at.is_not(None),
        "revoked": sa.and_(Invitation.used_at.is_(None), Invitation.revoked_at.is_not(None)),
        "expired": sa.and_(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
                           Invitation.expires_at <= now),
    }
    return stmt.where(conditions[status]) if status else stmt


def revoke_invitation(actor, invitation_id: int) -> None:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or not (actor.is_staff or actor.organization_id == invitation.organization_id):
        raise NotFound("invitation_not_found", f"no invitation {invitation_id}")
    if invitation.used_at is not None or invitation.revoked_at is not None:
        raise Conflict("invitation_closed", f"the invitation is {invitation.status}")
    invitation.revoked_at = clock.now()
    record("invitation", invitation.id, "revoke", actor)


def register_with_invitation(email: str, password: str, code: str) -> tuple[User, Organization]:
    """Sign up into the inviting organisation: the code is used once, before it expires, and only by the
    e-mail it names (if it names one)."""
    check_password_policy(password, email)
    _ensure_email_free(email)
    now = clock.now()
    refused = Invalid("invalid_invitation", "the invitation code is wrong, used, revoked or expired",
                      field="invitation_code")
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.code_hash == codes.hash_code(code)))
    if invitation is None or (invitation.email is not None and invitation.email != normalise_email(email)):
        raise refused
    user = User(email=normalise_email(email), password_hash=hash_password(password), role=invitation.role,
                organization_id=invitation.organization_id)
    db.session.add(user)
    db.session.flush()
    # One conditional statement: two sign-ups racing with one code cannot both use it.
    taken = db.session.execute(sa.update(Invitation).where(
        Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > now).values(used_at=now, used_by_user_id=user.id))
    if taken.rowcount != 1:
        raise refused
    record("user", user.id, "register", user, changes={"email": user.email, "role": user.role,
                                                       "organization_id": user.organization_id})
    record("invitation", invitation.id, "used", user, changes={"user_id": user.id})
    return user, invitation.organization
