"""Accounts an exchange can administer: password change and reset, sessions, users (list, role,
deactivation, the last admin), invitations of colleagues, the operator commands, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.audit.models import AuditLog
from app.auth.models import User
from app.extensions import limiter

from .. import factories

NEW_PASSWORD = "a-brand-new-secret-7"


def login(client, email, password, agent="pytest-browser/1.0"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       headers={"User-Agent": agent})


def bearer(response) -> dict:
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def reason(response):
    return response.get_json().get("reason")


def audit_actions(entity_id: int, entity: str = "user") -> list[tuple[str, int | None]]:
    rows = factories.db.session.scalars(sa.select(AuditLog).where(AuditLog.entity == entity,
                                                                  AuditLog.entity_id == entity_id)
                                        .order_by(AuditLog.id)).all()
    return [(row.action, row.actor_user_id) for row in rows]


# -- one's own password and sessions ------------------------------------------------------------------------

def test_changing_ones_password_ends_the_other_sessions(client, world):
    email = world.uni.user.email
    here, elsewhere = bearer(login(client, email, factories.PASSWORD)), bearer(login(client, email, factories.PASSWORD))
    url = "/api/v1/auth/password"
    wrong = client.post(url, json={"current_password": "not-my-password", "new_password": NEW_PASSWORD}, headers=here)
    assert wrong.status_code == 401 and reason(wrong) == "invalid_credentials"
    weak = client.post(url, json={"current_password": factories.PASSWORD, "new_password": "short"}, headers=here)
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]
    same = client.post(url, json={"current_password": factories.PASSWORD, "new_password": factories.PASSWORD},
                       headers=here)
    assert same.status_code == 422 and reason(same) == "password_unchanged"

    changed = client.post(url, json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
                          headers=here)
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me", headers=here).status_code == 200
    gone = client.get("/api/v1/auth/me", headers=elsewhere)
    assert gone.status_code == 401 and reason(gone) == "token_revoked"
    assert client.get("/api/v1/auth/me", headers=world.uni.headers).status_code == 401
    assert login(client, email, factories.PASSWORD).status_code == 401
    assert login(client, email, NEW_PASSWORD).status_code == 200
    assert ("password_changed", world.uni.user.id) in audit_actions(world.uni.user.id)
    assert client.post(url, json={"current_password": NEW_PASSWORD, "new_password": "x" * 12}).status_code == 401


def test_one_sees_and_ends_ones_own_sessions(client, world):
    email = world.enterprise.user.email
    phone = bearer(login(client, email, factories.PASSWORD, agent="Mozilla/5.0 (iPhone)"))
    laptop = bearer(login(client, email, factories.PASSWORD, agent="Mozilla/5.0 (X11; Linux)"))
    page = client.get("/api/v1/auth/tokens", headers=laptop)
    assert page.status_code == 200
    items = page.get_json()["items"]
    agents = {item["user_agent"]: item for item in items}
    assert {"Mozilla/5.0 (iPhone)", "Mozilla/5.0 (X11; Linux)"} <= set(agents)
    assert agents["Mozilla/5.0 (X11; Linux)"]["current"] is True and agents["Mozilla/5.0 (iPhone)"]["current"] is False
    assert all(agents[agent]["last_used_at"] and agents[agent]["created_at"]
               for agent in ("Mozilla/5.0 (iPhone)", "Mozilla/5.0 (X11; Linux)"))
    assert "token" not in page.get_data(as_text=True).lower().replace("tokeninfo", "")  # never the token itself
    phone_id = agents["Mozilla/5.0 (iPhone)"]["id"]
    # Somebody else's session is as absent as a missing one.
    assert client.delete(f"/api/v1/auth/tokens/{phone_id}", headers=world.uni.headers).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{phone_id}", headers=laptop).status_code == 204
    assert client.get("/api/v1/auth/me", headers=phone).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{phone_id}", headers=laptop).status_code == 404
    assert client.get("/api/v1/auth/tokens").status_code == 401


# -- users ----------------------------------------------------------------------------------------------

def test_staff_list_and_read_users(client, world):
    page = client.get(f"/api/v1/users?role=university&organization_id={world.uni.org.id}",
                      headers=world.staff.headers).get_json()
    assert [item["id"] for item in page["items"]] == [world.uni.user.id]
    assert page["items"][0]["is_active"] is True and page["items"][0]["created_at"]
    assert "password_hash" not in page["items"][0]
    assert client.get("/api/v1/users?is_active=false", headers=world.staff.headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/users/{world.uni.user.id}", headers=world.staff.headers).status_code == 200
    assert client.get("/api/v1/users/999999", headers=world.staff.headers).status_code == 404
    assert client.get("/api/v1/users", headers=world.uni.headers).status_code == 403
    assert client.get("/api/v1/users?role=pope", headers=world.staff.headers).status_code == 422


def test_deactivation_ends_every_session_and_sign_in(client, world):
    user = world.enterprise.user
    session_two = bearer(login(client, user.email, factories.PASSWORD))
    url = f"/api/v1/users/{user.id}"
    off = client.patch(url, json={"is_active": False}, headers=world.staff.headers)
    assert off.status_code == 200 and off.get_json()["is_active"] is False
    for headers in (world.enterprise.headers, session_two):
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    refused = login(client, user.email, factories.PASSWORD)
    wrong = login(client, user.email, "wrong-password-9")
    assert refused.status_code == wrong.status_code == 401
    assert refused.get_json()["message"] == wrong.get_json()["message"]  # the same answer
    on = client.patch(url, json={"is_active": True}, headers=world.staff.headers)
    assert on.status_code == 200
    assert login(client, user.email, factories.PASSWORD).status_code == 200
    assert [a for a, _ in audit_actions(user.id)][-2:] == ["deactivated", "reactivated"]
    assert audit_actions(user.id)[-1][1] == world.staff.user.id


def test_staff_cannot_touch_admins_or_roles(client, world):
    admin_url = f"/api/v1/users/{world.admin.user.id}"
    for body in ({"is_active": False}, {"role": "staff"}):
        refused = client.patch(admin_url, json=body, headers=world.staff.headers)
        assert refused.status_code == 403 and reason(refused) == "admin_only", body
    promote = client.patch(f"/api/v1/users/{world.staff.user.id}", json={"role": "admin"}, headers=world.staff.headers)
    assert promote.status_code == 403
    assert client.post(f"{admin_url}/reset-code", headers=world.staff.headers).status_code == 403
    create = client.post("/api/v1/users", json={"email": "boss@x.cn", "password": "long-enough-1", "role": "admin",
                                                "organization_id": None}, headers=world.staff.headers)
    assert create.status_code == 403
    assert client.patch(admin_url, json={}, headers=world.admin.headers).status_code == 422


def test_admins_change_roles_within_the_organisation_kinds(client, world):
    url = f"/api/v1/users/{world.staff.user.id}"
    promoted = client.patch(url, json={"role": "admin"}, headers=world.admin.headers)
    assert promoted.status_code == 200 and promoted.get_json()["role"] == "admin"
    mismatch = client.patch(f"/api/v1/users/{world.uni.user.id}", json={"role": "enterprise"},
                            headers=world.admin.headers)
    assert mismatch.status_code == 422 and reason(mismatch) == "organization_kind_mismatch"
    assert ("role_changed", world.admin.user.id) in audit_actions(world.staff.user.id)


def test_nobody_removes_the_last_admin(client, world):
    url = f"/api/v1/users/{world.admin.user.id}"
    for body in ({"is_active": False}, {"role": "staff"}):
        refused = client.patch(url, json=body, headers=world.admin.headers)
        assert refused.status_code == 409 and reason(refused) == "last_admin", body
    second = factories.user("admin", None)
    assert client.patch(url, json={"is_active": False}, headers=world.admin.headers).status_code == 200
    second_actor = factories.Actor(second, factories.token_for(second), None)
    last = client.patch(f"/api/v1/users/{second.id}", json={"role": "staff"}, headers=second_actor.headers)
    assert last.status_code == 409 and reason(last) == "last_admin"
    # An inactive admin may be reactivated by the remaining one.
    assert client.patch(url, json={"is_active": True}, headers=second_actor.headers).status_code == 200


# -- password reset without e-mail -------------------------------------------------------------------------

def issue(client, actor, user_id):
    response = client.post(f"/api/v1/users/{user_id}/reset-code", headers=actor.headers)
    assert response.status_code == 201, response.json
    return response.get_json()


def test_a_reset_code_sets_a_new_password_once(client, world):
    user = world.uni.user
    issued = issue(client, world.staff, user.id)
    assert len(issued["code"]) >= 16
    expires = issued["expires_at"]
    assert clock.now() + timedelta(hours=23) < clock.now().fromisoformat(expires) <= clock.now() + timedelta(hours=24)
    stored = factories.db.session.execute(sa.text("SELECT code_hash FROM password_reset_codes")).scalars().all()
    assert issued["code"] not in stored and all(len(h) == 64 for h in stored)  # kept hashed
    body = {"email": user.email.upper(), "code": issued["code"].lower(), "new_password": NEW_PASSWORD}
    done = client.post("/api/v1/auth/reset", json=body)
    assert done.status_code == 204, done.json
    assert client.get("/api/v1/auth/me", headers=world.uni.headers).status_code == 401  # every session ended
    assert login(client, user.email, NEW_PASSWORD).status_code == 200
    again = client.post("/api/v1/auth/reset", json={**body, "new_password": "yet-another-secret-8"})
    assert again.status_code == 422 and reason(again) == "invalid_reset_code"
    assert ("password_reset", user.id) in audit_actions(user.id)
    assert ("reset_code_issued", world.staff.user.id) in audit_actions(user.id)


def test_reset_codes_that_do_not_work(client, world):
    user = world.enterprise.user
    first = issue(client, world.staff, user.id)["code"]
    second = issue(client, world.admin, user.id)["code"]  # the first one stops working

    def reset(email, code):
        return client.post("/api/v1/auth/reset", json={"email": email, "code": code, "new_password": NEW_PASSWORD})

    answers = [reset(user.email, first), reset(world.uni.user.email, second), reset("nobody@x.cn", second),
               reset(user.email, "ABCD-EFGH-JKMN-PQRS")]
    assert {(r.status_code, reason(r)) for r in answers} == {(422, "invalid_reset_code")}
    assert len({r.get_json()["message"] for r in answers}) == 1  # no hint which part was wrong
    with clock.frozen(clock.now() + timedelta(hours=24, minutes=1)):
        assert reason(reset(user.email, second)) == "invalid_reset_code"
    weak = client.post("/api/v1/auth/reset", json={"email": user.email, "code": second, "new_password": "123"})
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]
    assert reset(user.email, second).status_code == 204
    client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=world.staff.headers)
    inactive = client.post(f"/api/v1/users/{user.id}/reset-code", headers=world.staff.headers)
    assert inactive.status_code == 409 and reason(inactive) == "user_inactive"


def test_resets_and_password_changes_are_throttled_like_login(client, world, limits_on):
    limits_on["PASSWORD_RATE_LIMIT"] = "1000 per minute"
    email = world.enterprise.user.email
    body = {"email": email, "code": "ABCD-EFGH-JKMN-PQRS", "new_password": NEW_PASSWORD}
    codes = [client.post("/api/v1/auth/reset", json=body).status_code for _ in range(8)]
    assert codes[:5] == [422] * 5 and set(codes[5:]) == {429}
    limits_on["PASSWORD_RATE_LIMIT"] = "2 per minute"
    limiter.reset()
    wrong = {"current_password": "not-it-at-all", "new_password": NEW_PASSWORD}
    answers = [client.post("/api/v1/auth/password", json=wrong, headers=world.uni.headers) for _ in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert reason(answers[-1]) == "too_many_requests" and answers[-1].headers["Retry-After"]


# -- invitations -------------------------------------------------------------------------------------------

def invite(client, actor, org_id, **body):
    return client.post(f"/api/v1/organizations/{org_id}/invitations", json=body, headers=actor.headers)


def register(client, email, code, **extra):
    return client.post("/api/v1/auth/register", json={"email": email, "password": "joining-secret-42",
                                                      "invitation_code": code, **extra})


def test_a_colleague_joins_with_an_invitation(client, world):
    created = invite(client, world.uni, world.uni.org.id)
    assert created.status_code == 201, created.json
    invitation = created.get_json()
    assert invitation["role"] == "university" and invitation["status"] == "open" and invitation["code"]
    joined = register(client, "colleague@hdlg.edu.cn", invitation["code"])
    assert joined.status_code == 201, joined.json
    user = joined.get_json()["user"]
    assert user["role"] == "university" and user["organization_id"] == world.uni.org.id
    assert joined.get_json()["organization"]["id"] == world.uni.org.id
    assert login(client, "colleague@hdlg.edu.cn", "joining-secret-42").status_code == 200
    reused = register(client, "second@hdlg.edu.cn", invitation["code"])
    assert reused.status_code == 422 and reason(reused) == "invalid_invitation"
    listed = client.get(f"/api/v1/organizations/{world.uni.org.id}/invitations", headers=world.uni.headers)
    assert [(i["status"], i["used_by_user_id"]) for i in listed.get_json()["items"]] == [("used", user["id"])]
    assert "code" not in listed.get_json()["items"][0]
    assert ("used", user["id"]) in audit_actions(invitation["id"], "invitation")


def test_invitations_that_do_not_work(client, world):
    bound = invite(client, world.enterprise, world.enterprise.org.id, email="only.her@company.cn").get_json()
    assert reason(register(client, "someone.else@company.cn", bound["code"])) == "invalid_invitation"
    assert register(client, "Only.Her@company.cn", bound["code"]).status_code == 201

    old = invite(client, world.enterprise, world.enterprise.org.id).get_json()
    with clock.frozen(clock.now() + timedelta(days=8)):
        assert reason(register(client, "late@company.cn", old["code"])) == "invalid_invitation"
    revoked = invite(client, world.enterprise, world.enterprise.org.id).get_json()
    assert client.delete(f"/api/v1/invitations/{revoked['id']}", headers=world.staff.headers).status_code == 204
    assert reason(register(client, "revoked@company.cn", revoked["code"])) == "invalid_invitation"
    assert client.delete(f"/api/v1/invitations/{revoked['id']}", headers=world.staff.headers).status_code == 409
    both = client.post("/api/v1/auth/register", json={"email": "x@company.cn", "password": "joining-secret-42",
                                                      "organization_name": "新公司", "invitation_code": old["code"]})
    assert both.status_code == 422 and "organization_name" in both.get_json()["errors"]
    neither = client.post("/api/v1/auth/register", json={"email": "x@company.cn", "password": "joining-secret-42"})
    assert neither.status_code == 422
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.email.in_(["someone.else@company.cn", "late@company.cn", "revoked@company.cn"]))) == 0


def test_who_may_invite_and_see_invitations(client, world):
    # Only into one's own organisation; another's is as absent as a missing one.
    assert invite(client, world.enterprise, world.uni.org.id).status_code == 404
    assert invite(client, world.other_uni, world.uni.org.id).status_code == 404
    # The exchange's staff are created by an admin, never by invitation.
    exchange = invite(client, world.staff, world.staff.org.id)
    assert exchange.status_code == 409 and reason(exchange) == "invitation_not_allowed"
    by_staff = invite(client, world.staff, world.uni.org.id, email="")  # blank: bound to nobody
    assert by_staff.status_code == 201 and by_staff.get_json()["email"] is None
    taken = invite(client, world.uni, world.uni.org.id, email=world.enterprise.user.email)
    assert taken.status_code == 409 and reason(taken) == "email_taken"
    everything = client.get("/api/v1/invitations?status=open", headers=world.staff.headers).get_json()
    assert [item["id"] for item in everything["items"]] == [by_staff.get_json()["id"]]
    assert client.get("/api/v1/invitations", headers=world.uni.headers).status_code == 403
    assert client.get(f"/api/v1/organizations/{world.uni.org.id}/invitations",
                      headers=world.other_uni.headers).status_code == 404
    # A member may revoke its own organisation's invitation; another organisation's member may not.
    invitation_id = by_staff.get_json()["id"]
    assert client.delete(f"/api/v1/invitations/{invitation_id}", headers=world.other_uni.headers).status_code == 404
    assert client.delete(f"/api/v1/invitations/{invitation_id}", headers=world.uni.headers).status_code == 204


# -- operators ---------------------------------------------------------------------------------------------

def test_operator_commands(app, world, session):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["users", "list", "--role", "university"])
    assert listed.exit_code == 0 and world.uni.user.email in listed.output
    assert world.enterprise.user.email not in listed.output
    code = runner.invoke(args=["users", "reset-code", world.uni.user.email])
    assert code.exit_code == 0 and "Reset code" in code.output
    off = runner.invoke(args=["users", "deactivate", world.enterprise.user.email])
    assert off.exit_code == 0, off.output
    session.expire_all()
    assert session.get(User, world.enterprise.user.id).is_active is False
    assert "inactive" in runner.invoke(args=["users", "list", "--inactive"]).output
    assert runner.invoke(args=["users", "deactivate", "nobody@x.cn"]).exit_code != 0
    last = runner.invoke(args=["users", "deactivate", world.admin.user.email])
    assert last.exit_code != 0 and "last active admin" in last.output
