"""Matching through the API, on both engines, before and after `flask matching train`."""

from datetime import timedelta

import pytest

from app import clock
from app.demands.retraining import train_from_database
from app.indexing.indexer import drain
from app.jobs import run_due

from .. import factories

CATALOGUE = [
    ("一种自动投饵装置", "适用于形状不规则的养殖池塘，抛料盘旋转把饲料均匀抛洒到池塘各个角落，减少饲料浪费。",
     "A01K 61/80"),
    ("一种网箱养殖用饲料投喂船", "投喂船在网箱之间行驶，按设定路线向水面抛撒颗粒饲料。", "A01K 61/80"),
    ("一种池塘增氧机", "叶轮搅动水体，提高养殖池塘的溶解氧含量，防止鱼类浮头。", "A01K 63/04"),
    ("一种对虾养殖水循环系统", "养殖池两侧设置水处理池，实现养殖用水循环净化。", "A01K 63/04"),
    ("一种钠离子电池正极材料及其制备方法", "层状氧化物正极，提高循环寿命和倍率性能。", "H01M 4/58"),
    ("一种锂电池负极材料", "硅碳复合负极，缓解体积膨胀，提高首次效率。", "H01M 4/38"),
    ("一种储能变流器的控制方法", "用于电池储能电站的并网控制，平抑功率波动。", "H02J 7/00"),
    ("盾构机刀盘", "隧道掘进用刀盘，刀具布置优化，降低磨损。", "E21D 9/06"),
    ("一种隧道衬砌检测方法", "利用雷达图像识别隧道衬砌空洞和裂缝。", "E21D 11/00"),
    ("一种水稻插秧机船板", "船板底部轻质材料填充，防止壅泥压苗，降低行进阻力。", "A01C 11/02"),
    ("一种玉米精量播种机", "气吸式排种器，实现单粒精量播种，株距均匀。", "A01C 7/04"),
    ("一种联合收割机割台", "割台分禾器结构加强，减少倒伏作物漏割。", "A01D 41/14"),
    ("一种果树高枝剪", "长杆末端设置剪刀，站在地面即可剪下高处果实。", "A01D 46/24"),
    ("一种温室大棚智能灌溉系统", "根据土壤湿度传感器自动控制滴灌阀门，节约用水。", "A01G 25/16"),
    ("一种土壤重金属钝化剂", "由生物炭和矿物复配，降低土壤中镉的有效性。", "C09K 17/02"),
    ("一种污水生物处理工艺", "厌氧缺氧好氧组合工艺，去除污水中的氮磷。", "C02F 3/30"),
    ("一种可降解塑料薄膜", "聚乳酸共混改性，提高薄膜韧性，可在土壤中降解。", "C08L 67/04"),
    ("一种工业机器人关节减速器", "谐波减速器柔轮结构优化，提高传动精度和寿命。", "F16H 49/00"),
    ("一种图像缺陷检测方法", "基于深度学习识别产品表面划痕和污点。", "G06T 7/00"),
    ("一种中药提取物的制备方法", "黄芪多糖的提取纯化工艺，提高得率。", "A61K 36/481"),
    ("一种鸡舍氨气控制系统", "从粪便表面抽走有害气体，变频风机自动调节通风量。", "A01K 1/00"),
    ("一种生姜贮藏方法", "姜窖无菌处理后入窖，不使用农药也能防腐防虫。", "A23B 7/00"),
]
DEMAND = {"title": "鱼塘喂料不均匀",
          "description": "我们的鱼塘形状不规则，喂料机喂不到角落，希望饲料能均匀撒到整个鱼塘，减少浪费。",
          "budget_max_fen": 40_000_000, "modes": ["assignment"], "region": "上海"}


@pytest.fixture
def catalogue(world, engine, session):
    made = {}
    for i, (title, abstract, ipc) in enumerate(CATALOGUE):
        owner = world.uni.org if i % 2 == 0 else world.other_uni.org
        price = 30_000_000 if i != 1 else 90_000_000
        made[title] = factories.listing(factories.patent(owner, title=title, abstract=abstract, ipc_codes=[ipc]),
                                        "listed", price_fen=price, outlet_codes=["baoshan"],
                                        mode="nonexclusive_license" if i == 1 else "assignment")
    made["draft"] = factories.listing(factories.patent(world.uni.org, title="一种鱼塘自动喂料机",
                                                       abstract="饲料均匀撒到鱼塘角落。", ipc_codes=["A01K 61/80"]),
                                      "draft")
    drain()
    return made


def matches(client, actor, demand_id, limit=None):
    suffix = f"?limit={limit}" if limit else ""
    response = client.get(f"/api/v1/demands/{demand_id}/matches{suffix}", headers=actor.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check_shape(body):
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    for item in body["items"]:
        assert set(item["reasons"]) == {"matched_terms", "related_terms", "shared_ipc", "within_budget", "mode_ok",
                                        "same_region", "remaining_years", "text_similarity"}
        listing = item["listing"]
        assert listing["listing_id"] == item["listing_id"] and listing["application_number"] and listing["owner"]


def test_matches_rank_the_right_listing_first_and_explain_it(client, world, catalogue):
    demand = factories.demand(world.enterprise.user, **DEMAND)
    body = matches(client, world.enterprise, demand.id)
    check_shape(body)
    assert body["model"] == "none"
    ids = [item["listing_id"] for item in body["items"]]
    feeder = catalogue["一种自动投饵装置"].id
    assert ids[0] == feeder
    assert catalogue["draft"].id not in ids  # drafts are never offered
    top = body["items"][0]
    assert {"鱼塘", "饲料"} & set(top["reasons"]["matched_terms"]) or "饲料" in top["reasons"]["matched_terms"]
    assert top["reasons"]["within_budget"] is True and top["reasons"]["mode_ok"] is True
    assert top["reasons"]["same_region"] is True  # the outlet is in 上海
    assert top["reasons"]["remaining_years"] > 10
    assert "<em>" in "".join(top["listing"]["highlight"]["abstract"] + top["listing"]["highlight"]["title"])
    by_id = {item["listing_id"]: item for item in body["items"]}
    boat = by_id.get(catalogue["一种网箱养殖用饲料投喂船"].id)
    if boat is not None:  # over budget and licence-only: both reasons say so
        assert boat["reasons"]["within_budget"] is False and boat["reasons"]["mode_ok"] is False
    assert len(matches(client, world.enterprise, demand.id, limit=1)["items"]) == 1


def test_a_trained_model_is_loaded_and_used(client, app, world, catalogue, tmp_path):
    demand = factories.demand(world.enterprise.user, **DEMAND, ipc_hints=["A01K 61/00"])
    model_dir = tmp_path / "model"
    summary = train_from_database(model_dir, dimensions=16, pseudo_queries=60)
    assert summary["documents"] >= len(CATALOGUE)
    app.config["MATCHING_MODEL_DIR"] = str(model_dir)
    try:
        body = matches(client, world.enterprise, demand.id)
        # The demand's analysis is kept per process; an edit must not be answered from the old one.
        edited = client.patch(f"/api/v1/demands/{demand.id}", headers=world.enterprise.headers,
                              json={"title": "储能电池寿命短", "description": "钠离子电池正极材料循环寿命不够。"})
        assert edited.status_code == 200, edited.get_json()
        after = matches(client, world.enterprise, demand.id)
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
    assert after["items"][0]["listing_id"] == catalogue["一种钠离子电池正极材料及其制备方法"].id
    check_shape(body)
    assert body["model"] == summary["version"]
    assert body["items"][0]["listing_id"] == catalogue["一种自动投饵装置"].id
    shared = body["items"][0]["reasons"]["shared_ipc"]
    assert {"level": "group", "code": "A01K 61/00", "source": "hint"} in shared


def test_matches_are_for_the_demands_owner_and_staff(client, world, catalogue):
    demand = factories.demand(world.enterprise.user, **DEMAND)
    assert client.get(f"/api/v1/demands/{demand.id}/matches", headers=world.staff.headers).status_code == 200
    assert client.get(f"/api/v1/demands/{demand.id}/matches", headers=world.uni.headers).status_code == 403
    assert client.get(f"/api/v1/demands/{demand.id}/matches?limit=0", headers=world.staff.headers).status_code == 422
    assert client.get(f"/api/v1/demands/{demand.id}/matches?limit=101",
                      headers=world.staff.headers).status_code == 422


def test_a_listing_shows_its_owner_the_demands_it_fits(client, world, catalogue):
    fits = factories.demand(world.enterprise.user, **DEMAND)
    factories.demand(world.enterprise.user, title="隧道掘进刀具磨损快",
                     description="盾构施工中刀盘刀具磨损严重，希望降低换刀频率。")
    closed = factories.demand(world.enterprise.user, title="池塘投喂饲料", description="鱼塘投饲料不均匀。")
    closed.status = "closed"
    lapsed = factories.demand(world.enterprise.user, title="池塘喂鱼", description="鱼塘喂料机撒料不均匀。",
                              deadline=clock.today() + timedelta(days=1))
    lapsed.deadline = clock.today() - timedelta(days=1)
    factories.db.session.commit()
    feeder = catalogue["一种自动投饵装置"]  # owned by world.uni
    response = client.get(f"/api/v1/listings/{feeder.id}/matching-demands", headers=world.uni.headers)
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert [item["demand"]["id"] for item in items][:1] == [fits.id]
    assert closed.id not in [item["demand"]["id"] for item in items]
    assert lapsed.id not in [item["demand"]["id"] for item in items]
    assert "budget_max_fen" not in items[0]["demand"]  # the university does not see the budget
    staff = client.get(f"/api/v1/listings/{feeder.id}/matching-demands", headers=world.staff.headers).get_json()
    assert staff["items"][0]["demand"]["budget_max_fen"] == 40_000_000
    other = client.get(f"/api/v1/listings/{feeder.id}/matching-demands", headers=world.other_uni.headers)
    assert other.status_code == 403
    assert client.get("/api/v1/listings/999999/matching-demands", headers=world.staff.headers).status_code == 404


def test_a_newly_listed_listing_notifies_the_enterprise_whose_demand_it_fits(client, world, engine, session):
    demand = factories.demand(world.enterprise.user, **DEMAND)
    unrelated = factories.listing(factories.patent(world.uni.org, title="一种工业机器人关节减速器",
                                                   abstract="谐波减速器柔轮结构优化。", ipc_codes=["F16H 49/00"]),
                                  "pending_review")
    fitting = factories.listing(factories.patent(world.uni.org, title="一种鱼塘自动投饵装置",
                                                 abstract="鱼塘形状不规则时，抛料盘把饲料均匀撒到鱼塘各个角落。",
                                                 ipc_codes=["A01K 61/80"]), "pending_review")
    for listing in (unrelated, fitting):
        assert client.post(f"/api/v1/listings/{listing.id}/approve", headers=world.staff.headers).status_code == 200
    # Approving scores no demand in its write transaction: a job does, after the commit.
    inbox = client.get("/api/v1/notifications", headers=world.enterprise.headers).get_json()
    assert not [n for n in inbox["items"] if n["kind"] == "demand_match"]
    assert run_due(kinds=["demands.notify_matching"]) == 2
    inbox = client.get("/api/v1/notifications", headers=world.enterprise.headers).get_json()
    found = [n for n in inbox["items"] if n["kind"] == "demand_match"]
    assert [n["data"]["listing_id"] for n in found] == [fitting.id]
    strong = client.application.config["MATCHING_STRONG_SCORE"]
    assert found[0]["data"]["demand_id"] == demand.id and found[0]["data"]["score"] >= strong
    # Listed again after a negotiation: the same news is not sent twice.
    from app.auth.models import SYSTEM
    from app.demands.matcher import notify_matching_demands

    assert notify_matching_demands(fitting) == 0
    assert SYSTEM is not None
