from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.auth.models import AuthToken, Organization, User

from .. import factories


def test_enterprise_signs_up_logs_in_and_out(client, session):
    response = client.post("/api/v1/auth/register", json={"email": "Boss@Company.cn", "password": "s3cret-pass",
                                                           "organization_name": "宁波海工科技有限公司"})
    assert response.status_code == 201, response.json
    body = response.get_json()
    assert body["user"]["email"] == "boss@company.cn"
    assert body["user"]["role"] == "enterprise"
    assert body["organization"]["kind"] == "enterprise"
    assert "password" not in body["user"]
    stored = session.scalar(sa.select(User).where(User.email == "boss@company.cn"))
    assert stored.password_hash.startswith("$argon2id$")

    login = client.post("/api/v1/auth/login", json={"email": "boss@company.cn", "password": "s3cret-pass"})
    assert login.status_code == 200
    token = login.get_json()
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = client.get("/api/v1/auth/me", headers=headers).get_json()
    assert me.pop("created_at")
    assert me == {"id": stored.id, "email": "boss@company.cn", "role": "enterprise",
                  "organization_id": body["organization"]["id"], "is_active": True}

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    revoked = client.get("/api/v1/auth/me", headers=headers)
    assert revoked.status_code == 401 and revoked.get_json()["reason"] == "token_revoked"


def test_register_conflicts_and_weak_passwords(client, world):
    taken = client.post("/api/v1/auth/register", json={"email": world.enterprise.user.email,
                                                        "password": "long-enough", "organization_name": "新公司"})
    assert taken.status_code == 409 and taken.get_json()["reason"] == "email_taken"
    org = client.post("/api/v1/auth/register", json={"email": "new@x.cn", "password": "long-enough",
                                                      "organization_name": "申城新能源科技有限公司"})
    assert org.status_code == 409 and org.get_json()["reason"] == "organization_exists"
    weak = client.post("/api/v1/auth/register", json={"email": "new@x.cn", "password": "short",
                                                       "organization_name": "又一家公司"})
    assert weak.status_code == 422 and weak.get_json()["errors"] == {"password": [weak.get_json()["message"]]}
    assert weak.get_json()["reason"] == "weak_password"


def test_register_leaves_nothing_half_written(client, session):
    before = session.scalar(sa.select(sa.func.count()).select_from(Organization))
    response = client.post("/api/v1/auth/register", json={"email": "not-an-email", "password": "long-enough",
                                                           "organization_name": "半截公司"})
    assert response.status_code == 422
    assert session.scalar(sa.select(sa.func.count()).select_from(Organization)) == before


def test_login_does_not_reveal_which_emails_exist(client, world):
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever1"})
    wrong = client.post("/api/v1/auth/login", json={"email": world.uni.user.email, "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 401
    # The same answer but for the request's own id.
    assert {**unknown.get_json(), "request_id": None} == {**wrong.get_json(), "request_id": None}


def test_expired_token(client, world, session):
    token = session.scalar(sa.select(AuthToken).where(AuthToken.user_id == world.uni.user.id))
    token.expires_at = clock.now() - timedelta(seconds=1)
    session.flush()
    response = client.get("/api/v1/auth/me", headers=world.uni.headers)
    assert response.status_code == 401 and response.get_json()["reason"] == "token_expired"


def test_no_token_is_401(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.get_json()["reason"] == "authentication_required"


def test_staff_create_university_users_but_only_admins_create_staff(client, world):
    payload = {"email": "prof@hd.edu.cn", "password": "long-enough", "role": "university",
               "organization_id": world.uni.org.id}
    created = client.post("/api/v1/users", json=payload, headers=world.staff.headers)
    assert created.status_code == 201 and created.get_json()["role"] == "university"

    staff = {"email": "clerk@x.cn", "password": "long-enough", "role": "staff", "organization_id": world.staff.org.id}
    assert client.post("/api/v1/users", json=staff, headers=world.staff.headers).status_code == 403
    assert client.post("/api/v1/users", json=staff, headers=world.admin.headers).status_code == 201


def test_user_role_must_fit_the_organisation_kind(client, world):
    response = client.post("/api/v1/users", json={"email": "x@x.cn", "password": "long-enough", "role": "university",
                                                   "organization_id": world.enterprise.org.id},
                           headers=world.staff.headers)
    assert response.status_code == 422
    assert response.get_json()["reason"] == "organization_kind_mismatch"
    assert "organization_id" in response.get_json()["errors"]


def test_inactive_user_cannot_use_a_token(client, world, session):
    world.uni.user.is_active = False
    session.flush()
    assert client.get("/api/v1/auth/me", headers=world.uni.headers).status_code == 401


def test_tokens_are_stored_hashed(client, world, session):
    login = client.post("/api/v1/auth/login", json={"email": world.uni.user.email, "password": factories.PASSWORD})
    raw = login.get_json()["access_token"]
    hashes = session.scalars(sa.select(AuthToken.token_hash)).all()
    assert raw not in hashes
