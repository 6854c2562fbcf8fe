def test_outlets_are_public_and_staff_manage_them(client, world):
    listed = client.get("/api/v1/outlets").get_json()
    assert [o["code"] for o in listed["items"]] == ["baoshan", "wuxi"]
    assert listed["total"] == 2 and listed["page"] == 1 and listed["page_size"] == 20

    payload = {"code": "baowu-carbon-park", "name": "宝武碳中和园区专利超市", "city": "上海", "province": "上海",
               "kind": "themed", "operator": "交易中心"}
    created = client.post("/api/v1/outlets", json=payload, headers=world.staff.headers)
    assert created.status_code == 201
    assert client.get("/api/v1/outlets/baowu-carbon-park").get_json()["kind"] == "themed"
    again = client.post("/api/v1/outlets", json=payload, headers=world.staff.headers)
    assert again.status_code == 409 and again.get_json()["reason"] == "outlet_exists"

    patched = client.patch("/api/v1/outlets/wuxi", json={"operator": "无锡运营方"}, headers=world.staff.headers)
    assert patched.get_json()["operator"] == "无锡运营方"
    assert client.patch("/api/v1/outlets/wuxi", json={"code": "x"}, headers=world.staff.headers).status_code == 422
    assert client.get("/api/v1/outlets?kind=themed").get_json()["total"] == 1
    assert client.get("/api/v1/outlets/nowhere").get_json()["reason"] == "outlet_not_found"


def test_organisations(client, world):
    universities = client.get("/api/v1/organizations?kind=university").get_json()
    assert {o["name"] for o in universities["items"]} == {"沪东理工大学", "太湖科技大学"}
    bank = client.post("/api/v1/organizations", json={"name": "长三角示范银行", "kind": "bank", "region": "上海"},
                       headers=world.staff.headers)
    assert bank.status_code == 201
    bank_id = bank.get_json()["id"]
    assert client.get(f"/api/v1/organizations/{bank_id}").get_json()["kind"] == "bank"
    renamed = client.patch(f"/api/v1/organizations/{bank_id}", json={"region": "苏州"}, headers=world.staff.headers)
    assert renamed.get_json()["region"] == "苏州"
    clash = client.patch(f"/api/v1/organizations/{bank_id}", json={"name": "沪东理工大学"}, headers=world.staff.headers)
    assert clash.status_code == 409
    # An organisation with university users cannot become an enterprise.
    kind = client.patch(f"/api/v1/organizations/{world.uni.org.id}", json={"kind": "enterprise"},
                        headers=world.staff.headers)
    assert kind.status_code == 409 and kind.get_json()["reason"] == "organization_kind_in_use"
    assert client.get("/api/v1/organizations/999999").status_code == 404
    assert client.get("/api/v1/organizations?kind=shop").status_code == 422


def test_pagination_bounds(client, world):
    assert client.get("/api/v1/outlets?page_size=101").status_code == 422
    assert client.get("/api/v1/outlets?page=0").status_code == 422
    page2 = client.get("/api/v1/outlets?page=2&page_size=1").get_json()
    assert [o["code"] for o in page2["items"]] == ["wuxi"] and page2["total"] == 2
