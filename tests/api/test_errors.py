"""The one error format, whatever goes wrong."""

import pytest


def assert_error(response, code, reason):
    body = response.get_json()
    assert response.status_code == code, body
    assert body["code"] == code
    assert body["reason"] == reason
    assert body["status"] and body["message"]
    return body


def test_unknown_route(client):
    assert_error(client.get("/api/v1/nowhere"), 404, "not_found")


def test_method_not_allowed(client):
    response = client.put("/api/v1/outlets")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json(client):
    response = client.post("/api/v1/auth/login", data="{nope", content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_unknown_fields_are_rejected_with_the_field_named(client):
    response = client.post("/api/v1/auth/login", json={"email": "a@b.cn", "password": "x", "remember": True})
    body = assert_error(response, 422, "validation_error")
    assert body["errors"] == {"remember": ["Unknown field."]}


def test_missing_and_invalid_fields(client, world):
    response = client.post("/api/v1/outlets", json={"code": "Bad Code", "kind": "mall"}, headers=world.staff.headers)
    body = assert_error(response, 422, "validation_error")
    assert set(body["errors"]) == {"code", "kind", "name", "city", "province"}


def test_unknown_query_parameters_are_rejected(client):
    body = assert_error(client.get("/api/v1/outlets?colour=red"), 422, "validation_error")
    assert "colour" in body["errors"]


def test_oversized_body(client):
    response = client.post("/api/v1/auth/login", data="x" * (3 * 1024 * 1024), content_type="application/json")
    assert_error(response, 413, "request_entity_too_large")


def test_unexpected_exception_is_a_500_in_the_format(app, client, monkeypatch):
    from app.outlets import services

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "outlets_query", boom)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    body = assert_error(client.get("/api/v1/outlets"), 500, "internal_error")
    assert "secret" not in body["message"]


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic abc", "Bearer "])
def test_bad_tokens_are_401_even_on_public_endpoints(client, header):
    response = client.get("/api/v1/outlets", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["reason"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == "Bearer"
