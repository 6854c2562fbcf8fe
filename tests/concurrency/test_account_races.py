"""Accounts under contention, with truly concurrent requests (see conftest): the last admin survives two
admins removing each other, and a one-time code is used once however many requests race with it."""

from __future__ import annotations

import sqlalchemy as sa

from app import clock
from app.auth import administration
from app.auth.models import SYSTEM, AuthToken, User
from app.extensions import db

from .. import factories
from .conftest import concurrently, race

N = 12


def test_two_admins_removing_each_other_leave_one(live, live_world):
    other = factories.user("admin", None)
    tokens = {live_world.admin.user.id: live_world.admin.token, other.id: factories.token_for(other)}
    pairs = [(live_world.admin.user.id, other.id), (other.id, live_world.admin.user.id)]

    def call(i):
        actor_id, target_id = pairs[i]
        with live.test_client() as client:
            response = client.patch(f"/api/v1/users/{target_id}", json={"is_active": False},
                                    headers={"Authorization": f"Bearer {tokens[actor_id]}"})
            return response.status_code, (response.get_json() or {}).get("reason")

    for _round in range(3):
        results = concurrently(2, call)
        assert sorted(code for code, _ in results) in ([200, 409], [200, 401]), results
        db.session.expire_all()
        active = db.session.scalars(sa.select(User.id).where(User.role == "admin", User.is_active.is_(True))).all()
        assert len(active) == 1, results
        # Put both back for the next round.
        db.session.execute(sa.update(User).where(User.role == "admin").values(is_active=True))
        db.session.execute(sa.update(AuthToken).values(revoked_at=None))
        db.session.commit()


def test_one_invitation_one_colleague(live, live_world):
    code, _ = administration.create_invitation(SYSTEM, live_world.uni.org.id)
    db.session.commit()
    results = race(live, N, "POST", "/api/v1/auth/register", {},
                   lambda i: {"email": f"racer{i}@hdlg.edu.cn", "password": "joining-secret-42",
                              "invitation_code": code})
    assert sorted(status for status, _ in results) == [201] + [422] * (N - 1), results
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email.like("racer%"))) == 1


def test_one_reset_code_one_reset(live, live_world):
    code, _ = administration.issue_reset_code(SYSTEM, live_world.uni.user.id)
    email = live_world.uni.user.email
    db.session.commit()
    results = race(live, N, "POST", "/api/v1/auth/reset", {},
                   lambda i: {"email": email, "code": code, "new_password": f"racing-secret-{i:02d}"})
    assert sorted(status for status, _ in results) == [204] + [422] * (N - 1), results


def test_a_sessions_last_use_is_recorded_after_the_request(live, live_world):
    live.config["TOKEN_TOUCH_SECONDS"] = 60
    try:
        token_id = db.session.scalar(sa.select(AuthToken.id).where(AuthToken.user_id == live_world.uni.user.id))
        db.session.commit()
        with live.test_client() as client:
            assert client.get("/api/v1/auth/me", headers=live_world.uni.headers).status_code == 200
        db.session.rollback()  # a fresh snapshot (SQLite keeps one per transaction)
        used = db.session.get(AuthToken, token_id).last_used_at
        assert used is not None and abs((used - clock.now()).total_seconds()) < 60
    finally:
        live.config["TOKEN_TOUCH_SECONDS"] = 0
