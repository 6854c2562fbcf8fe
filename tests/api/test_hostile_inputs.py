"""The hostile inputs of issue 14, each one answered with a 4xx in the one error format (never a 5xx),
and nothing written."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from app.patents.models import Listing, Patent

from .. import factories

BIG = 2**63


def patent_body(world, **overrides):
    data = factories.patent_data(world.uni.org, **overrides)
    data.pop("owner_organization_id")
    data["filing_date"], data["grant_date"] = "2021-03-01", "2023-05-09"
    return data


def assert_error(response, code, reason=None, field=None):
    body = response.get_json()
    assert response.status_code == code, body
    assert set(body) >= {"code", "status", "message", "reason", "request_id"}, body
    assert body["code"] == code and body["request_id"] == response.headers["X-Request-ID"]
    if reason:
        assert body["reason"] == reason, body
    if field:
        assert field in body["errors"], body
        assert all(isinstance(v, list) for v in body["errors"].values())
    return body


@pytest.mark.parametrize("path", [f"/api/v1/listings/{BIG}", f"/api/v1/patents/{BIG}", f"/api/v1/demands/{BIG * 10}",
                                  "/api/v1/listings/0", f"/api/v1/organizations/{2**31}"])
def test_ids_past_bigint_in_a_path_are_404(client, path):
    assert_error(client.get(path), 404)


@pytest.mark.parametrize("query, field", [(f"page={BIG}", "page"), ("page=10000001", "page"),
                                          (f"page_size={BIG}", "page_size")])
def test_huge_numbers_in_a_query_are_422(client, query, field):
    assert_error(client.get(f"/api/v1/listings?{query}"), 422, "validation_error", field)


def test_huge_money_in_a_search_is_422(client):
    assert_error(client.get(f"/api/v1/search/listings?price_max_fen={BIG}"), 422, "validation_error", "price_max_fen")


def test_huge_ids_in_a_body_are_422(client, world):
    for too_big in (BIG, 2**31):
        assert_error(client.post("/api/v1/listings", json={"patent_id": too_big, "mode": "equity", "negotiable": True},
                                 headers=world.uni.headers), 422, "validation_error", "patent_id")
    listing = factories.listing(factories.patent(world.uni.org), "listed")
    assert_error(client.post(f"/api/v1/listings/{listing.id}/inquiries", json={"message": "报价？", "demand_id": BIG},
                             headers=world.enterprise.headers), 422, "validation_error", "demand_id")
    assert_error(client.post("/api/v1/demands", json={"title": "需求", "description": "鱼塘喂料",
                                                      "organization_id": BIG}, headers=world.staff.headers),
                 422, "validation_error", "organization_id")


def test_deeply_nested_json_is_400_before_it_is_parsed(client):
    body = "[" * 10_000 + "]" * 10_000
    assert_error(client.post("/api/v1/auth/login", data=body, content_type="application/json"), 400)
    nested = '{"email": "a@b.cn", "password": {"x": ' + "[" * 40 + "1" + "]" * 40 + "}}"
    assert_error(client.post("/api/v1/auth/login", data=nested, content_type="application/json"), 400)


def test_a_lone_surrogate_is_422(client, world):
    raw = json.dumps(patent_body(world)).replace('"title": "', '"title": "\\ud800', 1)
    assert_error(client.post("/api/v1/patents", data=raw, content_type="application/json", headers=world.uni.headers),
                 422, "validation_error", "title")


@pytest.mark.parametrize("title", ["一种\x00电池", "一种\u202e池电", "一种\x1b[31m电池", "一种\u2028电池",
                                   "一种\t电池"])
def test_control_and_bidi_characters_in_titles_are_422(client, world, title, session):
    before = session.scalar(sa.select(sa.func.count()).select_from(Patent))
    assert_error(client.post("/api/v1/patents", json=patent_body(world, title=title), headers=world.uni.headers),
                 422, "validation_error", "title")
    assert session.scalar(sa.select(sa.func.count()).select_from(Patent)) == before


def test_control_characters_in_names_and_inventors_are_422(client, world):
    assert_error(client.post("/api/v1/organizations", json={"name": "银行\x00", "kind": "bank"},
                             headers=world.staff.headers), 422, "validation_error", "name")
    assert_error(client.post("/api/v1/patents", json=patent_body(world, inventors=["王\u202e伟"]),
                             headers=world.uni.headers), 422, "validation_error", "inventors.0")


def test_long_texts_keep_newlines_and_tabs(client, world):
    body = patent_body(world, abstract="第一段。\n\t第二段。")
    created = client.post("/api/v1/patents", json=body, headers=world.uni.headers)
    assert created.status_code == 201 and created.get_json()["abstract"] == "第一段。\n\t第二段。"


def test_text_is_nfc_and_trimmed(client, world):
    body = patent_body(world, title="  一种e\u0301pee刀盘  ")
    created = client.post("/api/v1/patents", json=body, headers=world.uni.headers)
    assert created.get_json()["title"] == "一种\u00e9pee刀盘"


def test_whitespace_only_values_are_refused(client, world):
    assert_error(client.post("/api/v1/patents", json=patent_body(world, title="   "), headers=world.uni.headers),
                 422, "validation_error", "title")
    assert_error(client.post("/api/v1/organizations", json={"name": " \u3000 ", "kind": "bank"},
                             headers=world.staff.headers), 422, "validation_error", "name")
    inquiry = factories.inquiry(world.enterprise.user, factories.listing(factories.patent(world.uni.org), "listed"))
    assert_error(client.post(f"/api/v1/inquiries/{inquiry.id}/replies", json={"message": " \n "},
                             headers=world.uni.headers), 422, "validation_error", "message")


def test_json_sent_as_text_plain_is_415(client, world):
    assert_error(client.post("/api/v1/auth/login", data=json.dumps({"email": "a@b.cn", "password": "x" * 12}),
                             content_type="text/plain"), 415)


def test_an_oversized_body_is_413_chunked_or_not(client, world, app):
    big = b'{"title": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    assert_error(client.post("/api/v1/demands", data=big, content_type="application/json",
                             headers=world.enterprise.headers), 413)
    chunked = client.post("/api/v1/demands", input_stream=io.BytesIO(big), content_type="application/json",
                          headers={**world.enterprise.headers, "Transfer-Encoding": "chunked"},
                          environ_overrides={"wsgi.input_terminated": True})
    assert_error(chunked, 413)


def test_nan_and_extra_places_in_a_rate_are_refused_with_flat_errors(client, world):
    patent = factories.patent(world.uni.org)
    terms = {"payment_method": "royalty", "royalty_rate": "NaN", "term_months": 24}
    body = {"patent_id": patent.id, "mode": "open_license", "open_license": terms}
    nan = assert_error(client.post("/api/v1/listings", json=body, headers=world.uni.headers), 422,
                       "validation_error", "open_license.royalty_rate")
    assert list(nan["errors"]) == ["open_license.royalty_rate"]
    literal = json.dumps(body).replace('"NaN"', "NaN")
    assert_error(client.post("/api/v1/listings", data=literal, content_type="application/json",
                             headers=world.uni.headers), 400)
    precise = dict(body, open_license=dict(terms, royalty_rate=0.123456789))
    assert_error(client.post("/api/v1/listings", json=precise, headers=world.uni.headers), 422, "validation_error",
                 "open_license.royalty_rate")
    exact = dict(body, open_license=dict(terms, royalty_rate=0.0325))
    created = client.post("/api/v1/listings", json=exact, headers=world.uni.headers)
    assert created.status_code == 201 and created.get_json()["open_license"]["royalty_rate"] == 0.0325


@pytest.mark.parametrize("price", ["١٢٣", "１２３", "12.0", 12.5, True, str(BIG)])
def test_money_is_ascii_digits_within_bigint(client, world, price, session):
    patent = factories.patent(world.uni.org)
    assert_error(client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": "assignment",
                                                       "price_fen": price}, headers=world.uni.headers),
                 422, "validation_error", "price_fen")
    assert session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_like_patterns_are_escaped(client, world):
    names = [o["name"] for o in client.get("/api/v1/organizations?q=%").get_json()["items"]]
    assert names == []
    assert [o["name"] for o in client.get("/api/v1/organizations?q=理工").get_json()["items"]] == ["沪东理工大学"]


def test_authentication_answers_before_body_validation(client, world):
    assert_error(client.post("/api/v1/patents", json={}), 401, "authentication_required")
    assert_error(client.post("/api/v1/patents", json={}, headers=world.enterprise.headers), 403, "role_not_allowed")
    assert_error(client.post("/api/v1/patents", json={}, headers={"Authorization": "Bearer nonsense"}), 401)


def test_oversized_headers_are_431_in_the_error_format(client):
    assert_error(client.get("/api/v1/outlets", headers={"Authorization": "Bearer " + "x" * 10_000}), 431)
    assert_error(client.get("/api/v1/outlets", headers={"X-Note": "x" * 100_000}), 431)


def test_request_ids_are_echoed_or_made(client):
    given = client.get("/api/v1/outlets", headers={"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    made = client.get("/api/v1/listings/999999")
    assert made.headers["X-Request-ID"] == made.get_json()["request_id"] and len(made.headers["X-Request-ID"]) == 32
    hostile = client.get("/api/v1/outlets", headers={"X-Request-ID": "<script>"})
    assert hostile.headers["X-Request-ID"] != "<script>"


def test_security_headers(client):
    response = client.get("/api/v1/outlets")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/outlets", headers={"Origin": "https://evil.example"}).headers


def test_cors_origins_are_configurable(client, app):
    app.config["CORS_ORIGINS"] = ("https://exchange.example",)
    try:
        response = client.get("/api/v1/outlets", headers={"Origin": "https://exchange.example"})
    finally:
        app.config["CORS_ORIGINS"] = ()
    assert response.headers["Access-Control-Allow-Origin"] == "https://exchange.example"


@pytest.mark.parametrize("password", ["        ", "password", "short-1", "Password2026!", "aaaaaaaaaaaa", "88888888",
                                      "qwertyuiop"])
def test_weak_passwords_are_refused(client, password, session):
    response = client.post("/api/v1/auth/register", json={"email": "new@firm.cn", "password": password,
                                                          "organization_name": "新公司"})
    body = assert_error(response, 422, field="password")
    assert body["reason"] in ("weak_password", "validation_error")  # blank is refused by the field itself


def test_passwords_are_taken_as_typed(client):
    created = client.post("/api/v1/auth/register", json={"email": "spaces@firm.cn", "password": "  我的 密码 很长  ",
                                                         "organization_name": "空格公司"})
    assert created.status_code == 201, created.get_json()
    login = client.post("/api/v1/auth/login", json={"email": "spaces@firm.cn", "password": "  我的 密码 很长  "})
    assert login.status_code == 200
    trimmed = client.post("/api/v1/auth/login", json={"email": "spaces@firm.cn", "password": "我的 密码 很长"})
    assert trimmed.status_code == 401


def test_one_json_log_line_per_request(client, world, caplog):
    import logging

    from app.guards import JsonFormatter

    with caplog.at_level(logging.INFO, logger="app.requests"):
        client.get("/api/v1/listings/424242", headers={**world.uni.headers, "X-Request-ID": "log-me-1"})
    [record] = [r for r in caplog.records if r.name == "app.requests"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "log-me-1" and line["user_id"] == world.uni.user.id
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/v1/listings/<int:listing_id>", 404)
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"


def test_a_server_error_is_logged_once_and_answered_in_the_format(caplog):
    import logging

    from app import create_app

    fresh = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PROPAGATE_EXCEPTIONS": False})

    @fresh.route("/_boom")
    def boom():
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        response = fresh.test_client().get("/_boom")
    assert_error(response, 500, "internal_error")
    assert len([r for r in caplog.records if r.exc_info and "boom" in str(r.exc_info[1])]) == 1
