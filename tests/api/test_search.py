"""The catalogue search through the HTTP API, on both engines, fed by the outbox."""

import pytest
import sqlalchemy as sa

from app.indexing.indexer import drain, reindex
from app.indexing.outbox import OutboxEvent
from app.patents.models import Listing, Patent

from .. import factories


@pytest.fixture
def catalogue(world, engine, session):
    uni, other = world.uni.org, world.other_uni.org
    made = {
        "sodium": factories.listing(factories.patent(uni, title="一种钠离子电池正极材料及其制备方法",
                                                     abstract="层状氧化物正极，提高循环寿命。",
                                                     ipc_codes=["H01M 4/58"]), "listed",
                                    outlet_codes=["baoshan"], price_fen=30_000_000),
        "storage": factories.listing(factories.patent(other, title="一种储能变流器的控制方法",
                                                      abstract="用于钠离子电池储能电站。", ipc_codes=["H02J 7/00"]),
                                     "listed", outlet_codes=["wuxi"], price_fen=None, negotiable=True),
        "shield": factories.listing(factories.patent(other, title="盾构机刀盘", abstract="隧道掘进。",
                                                     ipc_codes=["E21D 9/06"]), "listed", mode="exclusive_license",
                                    price_fen=80_000_000, outlet_codes=["baoshan", "wuxi"]),
        "draft": factories.listing(factories.patent(uni, title="一种钠离子电池隔膜", ipc_codes=["H01M 50/40"]),
                                   "draft"),
    }
    drain()
    return made


def search(client, query="", headers=None):
    response = client.get(f"/api/v1/search/listings{query}", headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_anonymous_search_finds_published_listings_with_highlights(client, catalogue):
    body = search(client, "?q=钠离子电池")
    assert [item["listing_id"] for item in body["items"]] == [catalogue["sodium"].id, catalogue["storage"].id]
    first = body["items"][0]
    assert first["owner"]["name"] == "沪东理工大学" and first["application_number"].startswith("CN")
    assert first["price_fen"] == 30_000_000 and first["status"] == "listed"
    assert "<em>" in first["highlight"]["title"][0]
    assert first["remaining_years"] > 10
    assert set(body["facets"]) == {"ipc_section", "ipc_class", "ipc_subclass", "field", "patent_type", "mode",
                                   "outlet", "owner", "price_band"}


def test_owners_see_their_drafts_others_do_not(client, catalogue, world):
    def found(headers):
        return {item["listing_id"] for item in search(client, "?q=隔膜", headers)["items"]}

    assert found({}) == set()
    assert found(world.enterprise.headers) == set()
    assert found(world.uni.headers) == {catalogue["draft"].id}
    assert found(world.staff.headers) == {catalogue["draft"].id}
    assert client.get("/api/v1/search/listings?status=draft", headers=world.uni.headers).status_code == 422
    assert search(client, "?status=draft", world.staff.headers)["total"] == 1


def test_filters_and_facets_agree_with_the_database(client, catalogue, session, world):
    body = search(client, "?outlet=baoshan&size=100")
    expected = session.scalars(
        sa.select(Listing.id).where(Listing.status == "listed", Listing.outlets.any(code="baoshan"))).all()
    assert {item["listing_id"] for item in body["items"]} == set(expected)
    owners = {fv["value"]: fv["count"] for fv in search(client, "?size=100")["facets"]["owner"]}
    counts = dict(session.execute(
        sa.select(Patent.owner_organization_id, sa.func.count()).join(Listing, Listing.patent_id == Patent.id)
        .where(Listing.status == "listed").group_by(Patent.owner_organization_id)).all())
    assert owners == {str(owner): count for owner, count in counts.items()}
    assert {i["listing_id"] for i in search(client, "?ipc=H01M&mode=assignment")["items"]} == {catalogue["sodium"].id}
    assert search(client, "?negotiable=true")["items"][0]["listing_id"] == catalogue["storage"].id
    assert search(client, f"?owner={world.other_uni.org.id}&price_min_fen=1")["total"] == 1


def test_numbers_find_the_patent_exactly(client, catalogue):
    number = catalogue["shield"].patent.application_number
    for typed in (number, number.replace("CN", "ZL"), number.replace("CN", "")):
        assert [i["listing_id"] for i in search(client, f"?q={typed}")["items"]] == [catalogue["shield"].id]


def test_changes_reach_the_index(client, catalogue, world):
    listing = catalogue["shield"]
    response = client.patch(f"/api/v1/patents/{listing.patent_id}", json={"title": "盾构机刀盘的耐磨堆焊结构"},
                            headers=world.other_uni.headers)
    assert response.status_code == 200
    assert search(client, "?q=耐磨堆焊")["items"][0]["listing_id"] == listing.id
    client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=world.other_uni.headers)
    assert search(client, "?q=盾构机")["total"] == 0
    renamed = client.patch(f"/api/v1/organizations/{world.uni.org.id}", json={"name": "沪东科技大学"},
                           headers=world.staff.headers)
    assert renamed.status_code == 200
    assert search(client, "?q=钠离子电池正极")["items"][0]["owner"]["name"] == "沪东科技大学"


def test_suggest(client, catalogue):
    response = client.get("/api/v1/search/suggest?q=盾构")
    assert {"text": "盾构机刀盘", "kind": "title"} in response.get_json()["suggestions"]
    hidden = client.get("/api/v1/search/suggest?q=一种钠离子电池隔").get_json()["suggestions"]
    assert hidden == []
    assert client.get("/api/v1/search/suggest").status_code == 422


@pytest.mark.parametrize(
    "query",
    ["?sort=popular", "?size=10000", "?size=0", "?price_min_fen=10&price_max_fen=5", "?ipc=H01MM",
     "?page=200&size=100", "?price_min_fen=1.5", "?colour=red", "?q=ZL202310123456.7"],
)
def test_bad_parameters_are_422(client, catalogue, query):
    response = client.get(f"/api/v1/search/listings{query}")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["reason"] in ("validation_error", "invalid_ipc", "invalid_application_number")


def test_reindex_switches_while_searches_answer(client, catalogue, engine, session):
    before = search(client, "?q=钠离子电池")["total"]
    answered = []
    reindex(batch=1, progress=lambda n: answered.append(search(client, "?q=钠离子电池")["total"]))
    assert answered and all(total == before for total in answered)
    assert search(client, "?q=钠离子电池")["total"] == before
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0


def test_cli_status_reindex_and_ensure(app, catalogue, engine):
    runner = app.test_cli_runner()
    status = runner.invoke(args=["search", "status"])
    assert status.exit_code == 0 and "documents: 4" in status.output and "backlog_pending: 0" in status.output
    assert "4 listing(s) indexed" in runner.invoke(args=["search", "reindex"]).output
    engine.reset()
    assert "4 listing(s) indexed" in runner.invoke(args=["search", "ensure"]).output
    assert "outbox row(s) indexed" in runner.invoke(args=["search", "ensure"]).output
    assert runner.invoke(args=["search", "drain"]).exit_code == 0
