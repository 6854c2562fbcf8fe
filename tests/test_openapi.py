"""Every endpoint is documented with its schemas, the roles that may call it and its error responses."""

import pytest

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_api_operation_names_its_roles_and_errors(spec):
    api_ops = [(p, m, op) for p, m, op in operations(spec) if p.startswith("/api/v1")]
    assert len(api_ops) >= 25
    for path, method, op in api_ops:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("x-roles"), where
        assert "security" in op, where
        assert "401" in op["responses"], where
        if "anonymous" not in op["x-roles"]:
            assert "403" in op["responses"], where
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, where
        bodyless = ("/submit", "/approve", "/logout", "/read", "/complete", "/reset-code", "/accept")
        if method in ("post", "patch") and not path.endswith(bodyless):
            assert "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])), where
        # A conditional request's If-None-Match is never invalid: it matches or it does not.
        parameters = [p for p in op.get("parameters", []) if p != {"$ref": "#/components/parameters/IF_NONE_MATCH"}]
        if op.get("requestBody") or parameters:
            assert "422" in op["responses"], where


def test_error_schema_and_security_scheme(spec):
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "reason", "errors"} <= set(error)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_contract_paths_are_present(spec):
    for path in ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/me",
                 "/api/v1/users", "/api/v1/outlets", "/api/v1/outlets/{code}", "/api/v1/organizations",
                 "/api/v1/organizations/{org_id}", "/api/v1/patents", "/api/v1/patents/{patent_id}",
                 "/api/v1/patents/import", "/api/v1/listings", "/api/v1/listings/{listing_id}",
                 "/api/v1/listings/{listing_id}/submit", "/api/v1/listings/{listing_id}/approve",
                 "/api/v1/demands", "/api/v1/demands/{demand_id}", "/api/v1/demands/{demand_id}/close",
                 "/api/v1/demands/{demand_id}/matches", "/api/v1/listings/{listing_id}/matching-demands",
                 "/api/v1/listings/{listing_id}/inquiries", "/api/v1/inquiries", "/api/v1/inquiries/{inquiry_id}",
                 "/api/v1/inquiries/{inquiry_id}/replies", "/api/v1/notifications",
                 "/api/v1/notifications/{notification_id}/read",
                 "/api/v1/listings/{listing_id}/reject", "/api/v1/listings/{listing_id}/withdraw",
                 "/api/v1/audit", "/api/v1/deals", "/api/v1/deals/{deal_id}", "/api/v1/deals/{deal_id}/complete",
                 "/api/v1/deals/{deal_id}/cancel", "/api/v1/listings/{listing_id}/open-license/accept",
                 "/api/v1/listings/{listing_id}/open-license/withdraw", "/api/v1/pledges",
                 "/api/v1/pledges/{pledge_id}/release", "/api/v1/pledges/{pledge_id}/consents",
                 "/api/v1/patents/{patent_id}/pledges", "/api/v1/auth/password", "/api/v1/auth/tokens",
                 "/api/v1/auth/tokens/{token_id}", "/api/v1/auth/reset", "/api/v1/users/{user_id}",
                 "/api/v1/users/{user_id}/reset-code", "/api/v1/organizations/{org_id}/invitations",
                 "/api/v1/invitations", "/api/v1/invitations/{invitation_id}", "/healthz", "/readyz"):
        assert path in spec["paths"], path


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/swagger-ui/swagger-ui-bundle.js" in page.data
    assert client.get("/swagger-ui/swagger-ui-bundle.js").status_code == 200
