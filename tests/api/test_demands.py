"""Demands: posting, who sees what (budgets above all), changing and closing."""

from datetime import timedelta

import pytest

from app import clock

from .. import factories

DEMAND = {"title": "鱼塘喂料不均匀",
          "description": "我们的鱼塘形状不规则，喂料机喂不到角落，希望饲料能均匀撒到整个鱼塘。",
          "fields": ["现代农业"], "ipc_hints": ["a01k61/80"], "budget_min_fen": 5_000_000,
          "budget_max_fen": 30_000_000, "modes": ["assignment", "nonexclusive_license"], "region": "浙江",
          "deadline": (clock.today() + timedelta(days=60)).isoformat()}


def post(client, actor, **overrides):
    return client.post("/api/v1/demands", json={**DEMAND, **overrides}, headers=actor.headers)


def other_enterprise():
    org = factories.organization(kind="enterprise")
    u = factories.user("enterprise", org)
    return factories.Actor(u, factories.token_for(u), org)


def test_an_enterprise_posts_a_demand_with_canonical_values(client, world):
    response = post(client, world.enterprise)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "open" and body["organization_id"] == world.enterprise.org.id
    assert body["organization_name"] == "申城新能源科技有限公司"
    assert body["ipc_hints"] == ["A01K 61/80"] and body["modes"] == ["assignment", "nonexclusive_license"]
    assert body["budget_max_fen"] == 30_000_000 and body["closed_at"] is None


@pytest.mark.parametrize(("overrides", "field"), [
    ({"budget_min_fen": 40_000_000}, "budget_min_fen"),
    ({"budget_max_fen": 12.5}, "budget_max_fen"),
    ({"budget_min_fen": -1}, "budget_min_fen"),
    ({"deadline": "2001-01-01"}, "deadline"),
    ({"modes": ["rent"]}, "modes"),
    ({"ipc_hints": ["not-ipc"]}, "ipc_hints"),
    ({"fields": ["炼金术"]}, "fields"),
    ({"title": ""}, "title"),
    ({"description": "   "}, "description"),
    ({"colour": "red"}, "colour"),
])
def test_bad_demands_are_422_with_the_field_and_write_nothing(client, world, overrides, field):
    response = post(client, world.enterprise, **overrides)
    assert response.status_code == 422, response.get_json()
    assert any(key == field or key.startswith(f"{field}.") for key in response.get_json()["errors"])
    listed = client.get("/api/v1/demands", headers=world.enterprise.headers).get_json()
    assert listed["total"] == 0


def test_staff_post_for_an_enterprise_but_not_for_a_university(client, world):
    ok = post(client, world.staff, organization_id=world.enterprise.org.id)
    assert ok.status_code == 201 and ok.get_json()["organization_id"] == world.enterprise.org.id
    assert post(client, world.staff).get_json()["errors"] == {"organization_id": ["organization_id is required"]}
    wrong = post(client, world.staff, organization_id=world.uni.org.id)
    assert wrong.status_code == 422 and wrong.get_json()["reason"] == "organization_kind_not_allowed"
    assert post(client, world.enterprise, organization_id=world.uni.org.id).status_code == 403


def test_who_sees_a_demand_and_its_budget(client, world):
    demand_id = post(client, world.enterprise).get_json()["id"]
    rival = other_enterprise()
    own = client.get(f"/api/v1/demands/{demand_id}", headers=world.enterprise.headers).get_json()
    assert own["budget_min_fen"] == 5_000_000
    staff = client.get(f"/api/v1/demands/{demand_id}", headers=world.staff.headers).get_json()
    assert staff["budget_max_fen"] == 30_000_000
    uni = client.get(f"/api/v1/demands/{demand_id}", headers=world.uni.headers).get_json()
    assert uni["title"] == DEMAND["title"] and "budget_min_fen" not in uni and "budget_max_fen" not in uni
    listed = client.get("/api/v1/demands", headers=world.other_uni.headers).get_json()
    assert [d["id"] for d in listed["items"]] == [demand_id] and "budget_max_fen" not in listed["items"][0]
    # A competitor neither reads it nor finds it in a list.
    assert client.get(f"/api/v1/demands/{demand_id}", headers=rival.headers).status_code == 404
    assert client.get("/api/v1/demands", headers=rival.headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/demands/{demand_id}").status_code == 401


def test_closed_and_lapsed_demands_leave_the_universities_view(client, world):
    open_id = post(client, world.enterprise).get_json()["id"]
    closed_id = post(client, world.enterprise, title="另一个需求").get_json()["id"]
    lapsed = factories.demand(world.enterprise.user, title="过期的需求")
    lapsed.deadline = clock.today() - timedelta(days=1)
    factories.db.session.commit()
    closed = client.post(f"/api/v1/demands/{closed_id}/close", json={"reason": "已找到合作方"},
                         headers=world.enterprise.headers)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed" and closed.get_json()["closed_at"]
    seen = client.get("/api/v1/demands", headers=world.uni.headers).get_json()
    assert [d["id"] for d in seen["items"]] == [open_id]
    assert client.get(f"/api/v1/demands/{closed_id}", headers=world.uni.headers).status_code == 404
    mine = client.get("/api/v1/demands?status=closed", headers=world.enterprise.headers).get_json()
    assert [d["id"] for d in mine["items"]] == [closed_id]
    assert client.get("/api/v1/demands", headers=world.enterprise.headers).get_json()["total"] == 3


def test_patch_and_close_rules(client, world):
    demand_id = post(client, world.enterprise).get_json()["id"]
    patched = client.patch(f"/api/v1/demands/{demand_id}", json={"budget_max_fen": 50_000_000, "region": "湖州"},
                           headers=world.enterprise.headers)
    assert patched.status_code == 200 and patched.get_json()["budget_max_fen"] == 50_000_000
    inverted = client.patch(f"/api/v1/demands/{demand_id}", json={"budget_min_fen": 60_000_000},
                            headers=world.enterprise.headers)
    assert inverted.status_code == 422 and "budget_min_fen" in inverted.get_json()["errors"]
    unchanged = client.get(f"/api/v1/demands/{demand_id}", headers=world.enterprise.headers).get_json()
    assert unchanged["budget_min_fen"] == 5_000_000 and unchanged["region"] == "湖州"
    rival = other_enterprise()
    stolen = client.patch(f"/api/v1/demands/{demand_id}", json={"title": "抢走"}, headers=rival.headers)
    assert stolen.status_code == 404
    assert client.post(f"/api/v1/demands/{demand_id}/close", json={}, headers=world.staff.headers).status_code == 200
    again = client.post(f"/api/v1/demands/{demand_id}/close", json={}, headers=world.enterprise.headers)
    assert again.status_code == 409 and again.get_json()["reason"] == "demand_closed"
    late = client.patch(f"/api/v1/demands/{demand_id}", json={"title": "改名"}, headers=world.enterprise.headers)
    assert late.status_code == 409
    audit = client.get(f"/api/v1/audit?entity=demand&id={demand_id}", headers=world.staff.headers).get_json()
    assert [e["action"] for e in reversed(audit["items"])] == ["create", "update", "close"]


def test_the_text_vector_is_encoded_after_the_commit_not_inside_it(client, world, session, app):
    import sqlalchemy as sa

    from app.demands import encoder
    from app.demands.models import Demand
    from app.jobs import run_due
    from app.jobs.models import Job

    app.config["JOBS_RUN_AFTER_REQUEST"] = False  # as if the request's own after-commit run were lost
    try:
        demand_id = post(client, world.enterprise).get_json()["id"]
    finally:
        app.config["JOBS_RUN_AFTER_REQUEST"] = True
    stored = session.get(Demand, demand_id)
    assert stored.text_vector is None  # the write transaction encoded nothing
    assert client.get(f"/api/v1/demands/{demand_id}/matches", headers=world.enterprise.headers).status_code == 200
    assert run_due(kinds=["demands.encode"]) == 1
    session.expire_all()
    stored = session.get(Demand, demand_id)
    assert stored.text_vector is not None and stored.text_encoder == encoder.NAME
    # An edit drops the old vector in its own transaction; the request's after-commit run encodes the new text.
    edited = client.patch(f"/api/v1/demands/{demand_id}", json={"description": "池塘形状不规则，投饵不匀。"},
                          headers=world.enterprise.headers)
    assert edited.status_code == 200
    session.expire_all()
    assert session.get(Demand, demand_id).text_vector is not None
    assert session.scalar(sa.select(sa.func.count()).select_from(Job).where(
        Job.kind == "demands.encode", Job.status == "done")) == 2
