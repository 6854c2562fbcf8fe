from datetime import date

import pytest

from app import clock
from app.patents.numbers import check_character
from app.patents.terms import expiry_date

from .. import factories


def payload(world, **overrides):
    data = factories.patent_data(world.uni.org, **overrides)
    for key in ("filing_date", "grant_date"):
        if isinstance(data.get(key), date):
            data[key] = data[key].isoformat()
    return data


def test_university_registers_its_patent(client, world):
    typed = "2021 1012 3456 " + check_character("202110123456")  # spaces, no dot: as people type it
    data = payload(world, application_number=typed, ipc_codes=["h01m4/58", "H01M 10/054"])
    data.pop("owner_organization_id")
    response = client.post("/api/v1/patents", json=data, headers=world.uni.headers)
    assert response.status_code == 201, response.json
    body = response.get_json()
    assert body["application_number"].startswith("CN202110123456.")
    assert body["patent_type"] == "invention"
    assert body["ipc_codes"] == ["H01M 4/58", "H01M 10/054"]
    assert body["field"] == "新能源" and body["field_overridden"] is False
    assert body["owner_organization_id"] == world.uni.org.id
    assert body["owner"] == {"id": world.uni.org.id, "name": "沪东理工大学"}
    assert body["expires_on"] == expiry_date("invention", date(2021, 3, 1)).isoformat()
    assert 14 < body["remaining_years"] < 15.5
    assert body["pledged"] is False and body["in_force"] is True
    assert body["created_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("number", "reason"),
    [("202310123456.7", "invalid_application_number"), ("12345", "invalid_application_number")],
)
def test_bad_numbers_are_422_on_the_field(client, world, number, reason):
    response = client.post("/api/v1/patents", json=payload(world, application_number=number), headers=world.uni.headers)
    body = response.get_json()
    assert response.status_code == 422 and body["reason"] == reason
    assert "application_number" in body["errors"]


def test_duplicate_number_is_409_in_any_spelling(client, world):
    first = payload(world)
    assert client.post("/api/v1/patents", json=first, headers=world.uni.headers).status_code == 201
    spelt = dict(first, application_number=first["application_number"].replace("CN", "ZL"))
    response = client.post("/api/v1/patents", json=spelt, headers=world.uni.headers)
    assert response.status_code == 409 and response.get_json()["reason"] == "duplicate_patent"


def test_type_must_agree_with_the_number(client, world):
    response = client.post("/api/v1/patents", json=payload(world, patent_type="design"), headers=world.uni.headers)
    assert response.status_code == 422 and response.get_json()["reason"] == "patent_type_mismatch"


def test_invalid_ipc_and_dates(client, world):
    bad_ipc = client.post("/api/v1/patents", json=payload(world, ipc_codes=["钠电池"]), headers=world.uni.headers)
    assert bad_ipc.status_code == 422 and bad_ipc.get_json()["reason"] == "invalid_ipc"
    coarse = client.post("/api/v1/patents", json=payload(world, ipc_codes=["H01"]), headers=world.uni.headers)
    assert coarse.status_code == 422
    dates = client.post("/api/v1/patents", json=payload(world, grant_date="2020-01-01"), headers=world.uni.headers)
    assert dates.status_code == 422 and dates.get_json()["reason"] == "invalid_dates"
    year = client.post("/api/v1/patents", json=payload(world, filing_date="2019-05-05"), headers=world.uni.headers)
    assert year.status_code == 422 and year.get_json()["reason"] == "filing_date_mismatch"


def test_field_override_and_expiry_override(client, world):
    data = payload(world, field="智能制造", expires_on="2043-01-01")
    body = client.post("/api/v1/patents", json=data, headers=world.uni.headers).get_json()
    assert body["field"] == "智能制造" and body["field_overridden"] is True
    assert body["expires_on"] == "2043-01-01"
    reset = client.patch(f"/api/v1/patents/{body['id']}", json={"field": None}, headers=world.uni.headers).get_json()
    assert reset["field"] == "新能源" and reset["field_overridden"] is False


def test_a_university_cannot_touch_another_universitys_patent(client, world):
    foreign = client.post("/api/v1/patents", json=payload(world, owner_organization_id=world.other_uni.org.id),
                          headers=world.uni.headers)
    assert foreign.status_code == 403 and foreign.get_json()["reason"] == "not_your_organization"
    theirs = factories.patent(world.other_uni.org)
    # Unlisted patents of others are invisible, so a probe learns nothing.
    assert client.get(f"/api/v1/patents/{theirs.id}", headers=world.uni.headers).status_code == 404
    factories.listing(theirs, "listed")
    assert client.get(f"/api/v1/patents/{theirs.id}", headers=world.uni.headers).status_code == 200
    edit = client.patch(f"/api/v1/patents/{theirs.id}", json={"title": "改个名字"}, headers=world.uni.headers)
    assert edit.status_code == 403
    assert client.patch(f"/api/v1/patents/{theirs.id}", json={"title": "改个名字"},
                        headers=world.staff.headers).status_code == 200


def test_owner_changes_are_for_staff(client, world):
    mine = factories.patent(world.uni.org)
    moved = client.patch(f"/api/v1/patents/{mine.id}", json={"owner_organization_id": world.other_uni.org.id},
                         headers=world.uni.headers)
    assert moved.status_code == 403
    moved = client.patch(f"/api/v1/patents/{mine.id}", json={"owner_organization_id": world.enterprise.org.id},
                         headers=world.staff.headers)
    assert moved.status_code == 200 and moved.get_json()["owner"]["name"] == "申城新能源科技有限公司"


def test_listing_visibility_of_patents_and_filters(client, world):
    unlisted = factories.patent(world.uni.org, title="未上架的专利", ipc_codes=["A01K 61/80"])
    listed = factories.patent(world.uni.org, title="已上架的钠电池专利", ipc_codes=["H01M 10/054"])
    factories.listing(listed, "listed")
    other = factories.patent(world.other_uni.org, ipc_codes=["G06F 16/33"])

    def ids(headers, query=""):
        return {p["id"] for p in client.get(f"/api/v1/patents{query}", headers=headers).get_json()["items"]}

    assert ids({}) == {listed.id}
    assert ids(world.enterprise.headers) == {listed.id}
    assert ids(world.uni.headers) == {unlisted.id, listed.id}
    assert ids(world.staff.headers) == {unlisted.id, listed.id, other.id}
    assert ids(world.staff.headers, "?ipc=G06F") == {other.id}
    assert ids(world.staff.headers, "?ipc=H01M10/00") == {listed.id}
    assert ids(world.staff.headers, "?field=新一代信息技术") == {other.id}
    assert ids(world.staff.headers, f"?application_number={listed.application_number.replace('CN', 'ZL')}") == {
        listed.id}
    assert ids(world.staff.headers, "?q=钠电池") == {listed.id}
    assert client.get("/api/v1/patents?ipc=nonsense", headers=world.staff.headers).status_code == 422


def test_lapsing_a_patent_expires_its_active_listings(client, world):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed")
    response = client.patch(f"/api/v1/patents/{patent.id}", json={"legal_status": "lapsed"}, headers=world.uni.headers)
    assert response.status_code == 200 and response.get_json()["in_force"] is False
    assert client.get(f"/api/v1/listings/{listing.id}", headers=world.uni.headers).get_json()["status"] == "expired"


def test_pending_patents_have_no_grant_date(client, world):
    response = client.post("/api/v1/patents", json=payload(world, legal_status="pending"), headers=world.uni.headers)
    assert response.status_code == 422 and response.get_json()["reason"] == "invalid_legal_status"
    assert clock.today()  # the derived remaining life uses the server's clock


def test_register_facts_are_changed_by_staff_only(client, world):
    patent = factories.patent(world.uni.org, preserved=True)

    def patch(actor, **changes):
        return client.patch(f"/api/v1/patents/{patent.id}", json=changes, headers=actor.headers)

    for changes in ({"preserved": False}, {"evaluation_report": True}, {"expires_on": "2049-01-01"},
                    {"legal_status": "pending"}):
        refused = patch(world.uni, **changes)
        assert refused.status_code == 403, changes
        assert refused.get_json()["reason"] == "register_fact_staff_only"
        assert list(refused.get_json()["errors"]) == list(changes)
    assert patch(world.uni, preserved=True, title="一种改进的正极材料").status_code == 200  # unchanged facts pass
    assert patch(world.staff, preserved=False).get_json()["preserved"] is False
    # The owner may record that its patent lapsed; reviving it is the register's business.
    assert patch(world.uni, legal_status="lapsed").get_json()["legal_status"] == "lapsed"
    assert patch(world.uni, legal_status="valid").status_code == 403
    assert patch(world.staff, legal_status="valid").get_json()["in_force"] is True


def test_expiry_is_judged_on_the_business_date(client, world):
    patent = factories.patent(world.uni.org, expires_on=date(2030, 1, 1))
    listing = factories.listing(patent, "listed")
    try:
        clock.freeze("2030-01-01T15:59:00+00:00")  # 23:59 in Shanghai: the last day of the term
        assert client.get(f"/api/v1/patents/{patent.id}").get_json()["in_force"] is True
        clock.advance(minutes=2)  # 00:01 on 2 January in Shanghai, still 1 January in UTC
        assert client.get(f"/api/v1/patents/{patent.id}").get_json()["in_force"] is False
        result = client.application.test_cli_runner().invoke(args=["listings", "expire"])
        assert "1 listing(s) expired" in result.output
    finally:
        clock.unfreeze()
    assert client.get(f"/api/v1/listings/{listing.id}", headers=world.uni.headers).get_json()["status"] == "expired"
