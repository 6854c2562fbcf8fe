"""Auctions through the HTTP API: sessions, lots, registrations, bids and proxies, anti-sniping, closing
once (by the job, by a read, by a bid, by the command) and the deal that follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.auctions.models import Lot, Registration
from app.audit.models import AuditLog
from app.deals.models import Deal
from app.extensions import db
from app.jobs import run_due
from app.notifications.models import Notification
from app.patents.models import Listing

from .. import factories

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
END = START + timedelta(hours=2)


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(START - timedelta(days=1))
    yield
    clock.unfreeze()


class Bidders:
    def __init__(self, client, world, count: int):
        self.client, self.world = client, world
        self.actors = []
        for i in range(count):
            org = factories.organization(f"竞买企业{i}", "enterprise")
            user = factories.user("enterprise", org)
            self.actors.append(factories.Actor(user, factories.token_for(user), org))

    def renew(self):
        self.actors = [actor.renewed() for actor in self.actors]


def _auction(client, world, **overrides) -> dict:
    body = {"title": "G60 科技成果拍卖会（第十期）", "outlet_code": "baoshan", "starts_at": START.isoformat(),
            "ends_at": END.isoformat(), "anti_sniping_seconds": 300, **overrides}
    response = client.post("/api/v1/auctions", json=body, headers=world.staff.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _lot(client, world, auction_id: int, listing_id: int | None = None, **overrides) -> dict:
    if listing_id is None and "patent_ids" not in overrides:
        listing_id = factories.listing(factories.patent(world.uni.org), "listed").id
    body = {"starting_price_fen": 100_000_00, "increment_fen": 10_000_00, "reserve_price_fen": 150_000_00,
            "deposit_fen": 10_000_00, **overrides}
    if listing_id is not None:
        body["listing_id"] = listing_id
    response = client.post(f"/api/v1/auctions/{auction_id}/lots", json=body, headers=world.staff.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _register(client, world, auction_id: int, actor) -> dict:
    response = client.post(f"/api/v1/auctions/{auction_id}/registrations", json={}, headers=actor.headers)
    assert response.status_code == 201, response.get_json()
    confirmed = client.post(f"/api/v1/registrations/{response.get_json()['id']}/confirm", json={},
                            headers=world.staff.headers)
    assert confirmed.status_code == 200, confirmed.get_json()
    return confirmed.get_json()


@pytest.fixture()
def session_with_lot(client, world, frozen_clock):
    auction = _auction(client, world)
    lot = _lot(client, world, auction["id"])
    bidders = Bidders(client, world, 3)
    registrations = [_register(client, world, auction["id"], actor) for actor in bidders.actors]
    clock.freeze(START + timedelta(minutes=1))
    world.staff, world.uni = world.staff.renewed(), world.uni.renewed()
    bidders.renew()
    return auction, lot, bidders, registrations


def bid(client, actor, lot_id, amount, **headers):
    return client.post(f"/api/v1/lots/{lot_id}/bids", json={"amount_fen": amount},
                       headers={**actor.headers, **headers})


def test_session_lot_and_registration_lifecycle(client, world, session_with_lot):
    auction, lot, bidders, registrations = session_with_lot
    assert auction["status"] == "scheduled"
    assert [r["bidder_number"] for r in registrations] == ["0001", "0002", "0003"]
    assert all(r["deposit_status"] == "held" and r["deposit_paid_fen"] == 10_000_00 for r in registrations)
    shown = client.get(f"/api/v1/lots/{lot['id']}").get_json()
    assert shown["status"] == "open" and shown["min_next_bid_fen"] == 100_000_00
    assert shown["has_reserve"] is True and shown["reserve_met"] is False
    assert "reserve_price_fen" not in shown and "deal_id" not in shown
    assert shown["server_time"] == (START + timedelta(minutes=1)).isoformat()
    staff_view = client.get(f"/api/v1/lots/{lot['id']}", headers=world.staff.headers).get_json()
    assert staff_view["reserve_price_fen"] == 150_000_00
    assert db.session.get(Listing, lot["listing_id"]).status == "in_auction"
    assert client.get("/api/v1/auctions?status=open").get_json()["total"] == 1


def test_bids_follow_the_grid_and_refusals_carry_reasons(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    a, b, c = bidders.actors
    lot_id = lot["id"]
    assert bid(client, a, lot_id, 90_000_00).get_json()["reason"] == "bid_too_low"
    first = bid(client, a, lot_id, 100_000_00)
    assert first.status_code == 201
    body = first.get_json()
    assert body["bid"]["bidder_number"] == "0001" and body["lot"]["current_price_fen"] == 100_000_00
    assert body["lot"]["min_next_bid_fen"] == 110_000_00 and body["lot"]["leading_bidder_number"] == "0001"
    assert bid(client, a, lot_id, 110_000_00).get_json()["reason"] == "already_leading"
    assert bid(client, b, lot_id, 105_000_00).get_json()["reason"] == "bid_too_low"
    refused = bid(client, b, lot_id, 115_000_00)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "off_increment"
    assert "amount_fen" in refused.get_json()["errors"]
    assert bid(client, b, lot_id, 130_000_00).status_code == 201  # a jump, on the grid
    stranger = factories.Actor(*_stranger())
    assert bid(client, stranger, lot_id, 200_000_00).get_json()["reason"] == "not_registered"
    history = client.get(f"/api/v1/lots/{lot_id}/bids").get_json()
    assert [(item["amount_fen"], item["bidder_number"]) for item in history["items"]] == [
        (130_000_00, "0002"), (100_000_00, "0001")]
    assert "bidder_name" not in history["items"][0]
    named = client.get(f"/api/v1/lots/{lot_id}/bids", headers=world.staff.headers).get_json()
    assert named["items"][0]["bidder_name"] == "竞买企业1"
    run_due()
    outbid = db.session.scalars(sa.select(Notification).where(Notification.kind == "outbid")).all()
    assert {n.user_id for n in outbid} == {a.user.id}


def _stranger():
    org = factories.organization("未报名企业", "enterprise")
    user = factories.user("enterprise", org)
    return user, factories.token_for(user), org


def test_a_pending_registration_or_a_small_deposit_cannot_bid(client, world, session_with_lot):
    auction, lot, _bidders, _ = session_with_lot
    user, token, org = _stranger()
    actor = factories.Actor(user, token, org)
    registered = client.post(f"/api/v1/auctions/{auction['id']}/registrations", json={}, headers=actor.headers)
    assert registered.get_json()["status"] == "pending" and registered.get_json()["bidder_number"] is None
    assert bid(client, actor, lot["id"], 100_000_00).get_json()["reason"] == "not_registered"
    again = client.post(f"/api/v1/auctions/{auction['id']}/registrations", json={}, headers=actor.headers)
    assert again.status_code == 409 and again.get_json()["reason"] == "already_registered"
    confirmed = client.post(f"/api/v1/registrations/{registered.get_json()['id']}/confirm",
                            json={"deposit_paid_fen": 5_000_00}, headers=world.staff.headers)
    assert confirmed.get_json()["bidder_number"] == "0004"
    refused = bid(client, actor, lot["id"], 100_000_00)
    assert refused.get_json()["reason"] == "not_registered" and "deposit" in refused.get_json()["message"]


def test_proxies_answer_at_once_and_stay_secret(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    a, b, _c = bidders.actors
    lot_id = lot["id"]
    placed = client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": 145_000_00}, headers=a.headers)
    assert placed.status_code == 200, placed.get_json()
    assert placed.get_json()["bid"]["amount_fen"] == 100_000_00 and placed.get_json()["bid"]["automatic"]
    answered = bid(client, b, lot_id, 120_000_00).get_json()
    # A's proxy answers one step above, inside the same transaction.
    assert [(x["amount_fen"], x["bidder_number"]) for x in answered["proxy_bids"]] == [(130_000_00, "0001")]
    assert answered["lot"]["current_price_fen"] == 130_000_00 and answered["lot"]["leading_bidder_number"] == "0001"
    over = bid(client, b, lot_id, 150_000_00).get_json()
    assert over["proxy_bids"] == [] and over["lot"]["leading_bidder_number"] == "0002"
    assert over["lot"]["reserve_met"] is True
    assert client.get(f"/api/v1/lots/{lot_id}/proxy", headers=a.headers).get_json()["max_amount_fen"] == 145_000_00
    assert client.get(f"/api/v1/lots/{lot_id}/proxy", headers=b.headers).status_code == 404
    lowered = client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": 140_000_00}, headers=a.headers)
    assert lowered.status_code == 409 and lowered.get_json()["reason"] == "bid_too_low"
    public = client.get(f"/api/v1/lots/{lot_id}").get_json()
    assert "145" not in str(public)


def test_a_leader_raises_its_maximum_without_bidding(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    a, _b, _c = bidders.actors
    lot_id = lot["id"]
    first = client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": 145_000_00}, headers=a.headers)
    assert first.status_code == 200 and first.get_json()["bid"]["amount_fen"] == 100_000_00
    raised = client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": 180_000_00}, headers=a.headers)
    assert raised.status_code == 200, raised.get_json()
    body = raised.get_json()
    assert body["bid"] is None and body["proxy_bids"] == [] and body["proxy"]["max_amount_fen"] == 180_000_00
    assert body["lot"]["current_price_fen"] == 100_000_00 and body["lot"]["bid_count"] == 1
    history = client.get(f"/api/v1/lots/{lot_id}/bids").get_json()
    assert [x["amount_fen"] for x in history["items"]] == [100_000_00]


def test_anti_sniping_extends_and_the_lot_closes_once_into_a_deal(client, world, session_with_lot):
    _auction, lot, bidders, registrations = session_with_lot
    a, b, c = bidders.actors
    lot_id = lot["id"]
    assert bid(client, a, lot_id, 100_000_00).status_code == 201
    clock.freeze(END - timedelta(minutes=2))
    bidders.renew()
    a, b, c = bidders.actors
    late = bid(client, b, lot_id, 160_000_00).get_json()
    assert late["lot"]["ends_at"] == (END - timedelta(minutes=2) + timedelta(minutes=5)).isoformat()
    clock.freeze(END + timedelta(minutes=2))  # past the schedule, within the extension
    bidders.renew()
    a, b, c = bidders.actors
    again = bid(client, a, lot_id, 170_000_00).get_json()
    assert again["lot"]["ends_at"] == (END + timedelta(minutes=7)).isoformat()
    clock.freeze(END + timedelta(minutes=8))
    bidders.renew()
    world.staff = world.staff.renewed()
    a, b, c = bidders.actors
    # The first bid after the end closes the lot and is refused.
    late = bid(client, b, lot_id, 180_000_00)
    assert late.status_code == 409 and late.get_json()["reason"] == "lot_closed"
    shown = client.get(f"/api/v1/lots/{lot_id}", headers=world.staff.headers).get_json()
    assert shown["status"] == "sold" and shown["final_price_fen"] == 170_000_00
    assert shown["winner_bidder_number"] == "0001" and shown["min_next_bid_fen"] is None
    deal = db.session.get(Deal, shown["deal_id"])
    assert (deal.source, deal.kind, deal.amount_fen, deal.status) == ("auction", "assignment", 170_000_00, "recorded")
    assert deal.buyer_organization_id == a.org.id and deal.seller_organization_id == world.uni.org.id
    assert db.session.get(Listing, lot["listing_id"]).status == "sold"
    run_due()  # the close job (and the periodic sweep) find nothing left to do
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(
        AuditLog.entity == "lot", AuditLog.entity_id == lot_id, AuditLog.action == "close")) == 1
    deposits = {r.bidder_number: r.deposit_status for r in db.session.scalars(sa.select(Registration))}
    assert deposits == {"0001": "applied", "0002": "refund_due", "0003": "refund_due"}
    results = client.get(f"/api/v1/auctions/{lot['auction_id']}/results").get_json()
    assert results == [{"lot_id": lot_id, "listing_id": lot["listing_id"], "title": lot["title"], "status": "sold",
                        "bid_count": 3, "final_price_fen": 170_000_00, "winner_bidder_number": "0001",
                        "closed_at": (END + timedelta(minutes=8)).isoformat()}]
    told = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
    assert {(a.user.id, "lot_won"), (b.user.id, "lot_closed"), (b.user.id, "outbid")} <= told
    assert (world.uni.user.id, "lot_closed") in told  # the owner
    assert (c.user.id, "lot_closed") not in told  # never bid
    assert client.get(f"/api/v1/auctions/{lot['auction_id']}").get_json()["status"] == "closed"


def test_below_the_reserve_is_unsold_and_the_listing_returns(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    assert bid(client, bidders.actors[0], lot["id"], 100_000_00).status_code == 201
    clock.freeze(END + timedelta(seconds=1))
    run_due()  # the close job at the lot's end
    closed = db.session.get(Lot, lot["id"])
    assert closed.status == "unsold" and closed.deal_id is None
    assert db.session.get(Listing, lot["listing_id"]).status == "listed"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 0


def test_one_bid_at_the_start_sells_a_lot_without_reserve(client, world, frozen_clock):
    auction = _auction(client, world)
    lot = _lot(client, world, auction["id"], reserve_price_fen=None)
    (actor,) = Bidders(client, world, 1).actors
    _register(client, world, auction["id"], actor)
    clock.freeze(START + timedelta(minutes=5))
    actor = actor.renewed()
    assert client.get(f"/api/v1/lots/{lot['id']}").get_json()["has_reserve"] is False
    placed = bid(client, actor, lot["id"], 100_000_00).get_json()
    assert placed["lot"]["reserve_met"] is True
    clock.freeze(END)
    from app.auctions.jobs import close_everything_due

    assert close_everything_due() == 1
    assert close_everything_due() == 0
    assert db.session.get(Lot, lot["id"]).status == "sold"


def test_etag_answers_304_until_the_lot_changes(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    first = client.get(f"/api/v1/lots/{lot['id']}")
    etag = first.headers["ETag"]
    clock.advance(seconds=3)  # the server time moves; the lot does not
    same = client.get(f"/api/v1/lots/{lot['id']}", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""
    bid(client, bidders.actors[0], lot["id"], 100_000_00)
    changed = client.get(f"/api/v1/lots/{lot['id']}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    staff = client.get(f"/api/v1/lots/{lot['id']}", headers={**world.staff.headers, "If-None-Match": etag})
    assert staff.status_code == 200  # staff see the reserve: another representation


def test_a_poll_of_a_lot_is_one_query(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    bid(client, bidders.actors[0], lot["id"], 100_000_00)
    statements = []

    def seen(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = db.engine
    db.session.remove()  # as a request served by gunicorn starts: nothing loaded yet
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        shown = client.get(f"/api/v1/lots/{lot['id']}").get_json()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert shown["leading_bidder_number"] == "0001"
    assert len(statements) == 1, statements


def test_withdraw_only_before_the_first_bid(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    auction_id = lot["auction_id"]
    other = _lot(client, world, auction_id)
    withdrawn = client.post(f"/api/v1/lots/{other['id']}/withdraw", json={"reason": "权利人撤回"},
                            headers=world.staff.headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert db.session.get(Listing, other["listing_id"]).status == "listed"
    bid(client, bidders.actors[0], lot["id"], 100_000_00)
    refused = client.post(f"/api/v1/lots/{lot['id']}/withdraw", json={}, headers=world.staff.headers)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "lot_has_bids"


def test_bad_lots_and_schedules_are_refused(client, world, frozen_clock):
    auction = _auction(client, world)
    listing = factories.listing(factories.patent(world.uni.org), "listed")
    base = {"listing_id": listing.id, "starting_price_fen": 1000_00, "increment_fen": 100_00}

    def lot(**changes):
        body = {**base, **changes}
        body = {key: value for key, value in body.items() if value is not None}
        return client.post(f"/api/v1/auctions/{auction['id']}/lots", json=body, headers=world.staff.headers)

    assert lot(increment_fen=None).get_json()["reason"] == "increment_required"
    both = lot(increment_bands=[{"from_fen": 0, "increment_fen": 100}])
    assert both.status_code == 422 and both.get_json()["reason"] == "increment_required"
    bands = lot(increment_fen=None, increment_bands=[{"from_fen": 100, "increment_fen": 10}])
    assert bands.get_json()["reason"] == "increment_bands_invalid"
    assert lot(reserve_price_fen=500_00).get_json()["reason"] == "reserve_below_start"
    assert lot(starting_price_fen=12.5).status_code == 422
    assert lot(ends_at=(END + timedelta(hours=1)).isoformat()).get_json()["reason"] == "lot_end_invalid"
    assert lot(ends_at="2026-12-07T10:00:00").status_code == 422  # no offset
    assert lot(color="red").status_code == 422
    patent = factories.patent(world.uni.org)
    mixed = lot(listing_id=None, patent_ids=[patent.id, factories.patent(world.other_uni.org).id])
    assert mixed.get_json()["reason"] == "package_owners_differ"
    assert lot().status_code == 201
    assert lot().get_json()["reason"] == "listing_not_available"  # now in auction
    bad = client.post("/api/v1/auctions", json={"title": "x拍卖", "outlet_code": "nowhere",
                                                "starts_at": START.isoformat(), "ends_at": END.isoformat()},
                      headers=world.staff.headers)
    assert bad.status_code == 422 and bad.get_json()["reason"] == "outlet_not_found"
    backwards = client.post("/api/v1/auctions", json={"title": "倒序拍卖", "outlet_code": "baoshan",
                                                      "starts_at": END.isoformat(), "ends_at": START.isoformat()},
                            headers=world.staff.headers)
    assert backwards.status_code == 422 and "ends_at" in backwards.get_json()["errors"]
    assert client.post("/api/v1/auctions", json={}, headers=world.enterprise.headers).status_code == 403


def test_a_package_sells_its_patents_as_one_deal(client, world, frozen_clock):
    auction = _auction(client, world)
    patents = [factories.patent(world.uni.org) for _ in range(3)]
    lot = _lot(client, world, auction["id"], patent_ids=[p.id for p in patents], reserve_price_fen=None)
    assert lot["title"].startswith("专利包") and sorted(lot["patent_ids"]) == sorted(p.id for p in patents)
    again = client.post(f"/api/v1/auctions/{auction['id']}/lots", headers=world.staff.headers,
                        json={"patent_ids": [patents[0].id, factories.patent(world.uni.org).id],
                              "starting_price_fen": 100, "increment_fen": 10})
    assert again.status_code == 409 and again.get_json()["reason"] == "patent_in_auction"
    (actor,) = Bidders(client, world, 1).actors
    _register(client, world, auction["id"], actor)
    clock.freeze(START + timedelta(minutes=1))
    actor = actor.renewed()
    assert bid(client, actor, lot["id"], 100_000_00).status_code == 201
    clock.freeze(END)
    assert client.get(f"/api/v1/lots/{lot['id']}").get_json()["status"] == "sold"  # closed by the read
    deal = db.session.scalar(sa.select(Deal))
    assert sorted(deal.patent_ids) == sorted(p.id for p in patents) and deal.amount_fen == 100_000_00


def test_schedule_is_fixed_once_the_session_opens(client, world, frozen_clock):
    auction = _auction(client, world)
    lot = _lot(client, world, auction["id"])
    moved = client.patch(f"/api/v1/auctions/{auction['id']}", headers=world.staff.headers,
                         json={"starts_at": (START + timedelta(hours=1)).isoformat(),
                               "ends_at": (END + timedelta(hours=1)).isoformat()})
    assert moved.status_code == 200, moved.get_json()
    shown = client.get(f"/api/v1/lots/{lot['id']}").get_json()
    assert shown["status"] == "pending" and shown["ends_at"] == (END + timedelta(hours=1)).isoformat()
    clock.freeze(START + timedelta(hours=1, minutes=1))
    staff = world.staff.renewed()
    refused = client.patch(f"/api/v1/auctions/{auction['id']}", headers=staff.headers,
                           json={"anti_sniping_seconds": 60})
    assert refused.status_code == 409 and refused.get_json()["reason"] == "auction_open"
    assert client.patch(f"/api/v1/auctions/{auction['id']}", headers=staff.headers,
                        json={"title": "G60 科技成果拍卖会（更名）"}).status_code == 200


def _another_bid_lands_after_the_read(monkeypatch, registration_id: int, amount: int) -> list[int]:
    """Between a bid's read of the lot and its write, another worker's bid is written (by Core statements,
    as that worker would: the session's lot is left as it was read). Once; the number of reads so far."""
    from app.auctions import services
    from app.auctions.models import Bid

    reads, original = [], services._proxies

    def racing(lot):
        reads.append(lot.id)
        if len(reads) == 1:
            lots, bids = Lot.__table__, Bid.__table__
            now = clock.now()
            db.session.execute(sa.insert(bids).values(lot_id=lot.id, registration_id=registration_id,
                                                      amount_fen=amount, automatic=False, created_at=now))
            db.session.execute(sa.update(lots).where(lots.c.id == lot.id).values(
                current_price_fen=amount, leader_registration_id=registration_id, bid_count=lots.c.bid_count + 1))
        return original(lot)

    monkeypatch.setattr(services, "_proxies", racing)
    return reads


@pytest.fixture()
def raced(client, session_with_lot, monkeypatch):
    """A leads at 100,000.00; the next bid's read is followed by C's 110,000.00 landing before its write.
    (lot id, B, the reads so far)."""
    _auction, lot, bidders, registrations = session_with_lot
    a, b, _c = bidders.actors
    assert bid(client, a, lot["id"], 100_000_00).status_code == 201
    return lot["id"], b, _another_bid_lands_after_the_read(monkeypatch, registrations[2]["id"], 110_000_00)


def test_a_bid_that_lost_the_race_is_judged_again_on_the_new_standing(client, raced):
    lot_id, b, reads = raced
    late = bid(client, b, lot_id, 110_000_00)
    # Its write found the lot changed and wrote nothing; read again, 110,000.00 is no longer enough.
    assert late.status_code == 409 and late.get_json()["reason"] == "bid_too_low", late.get_json()
    assert len(reads) == 2
    # (Here the other worker's bid shared the refused request's transaction, so it was rolled back with it.)
    assert bid(client, b, lot_id, 130_000_00).status_code == 201
    history = client.get(f"/api/v1/lots/{lot_id}/bids").get_json()
    assert [(x["amount_fen"], x["bidder_number"]) for x in history["items"]] == [
        (130_000_00, "0002"), (100_000_00, "0001")]


def test_a_bid_still_high_enough_after_a_lost_race_is_accepted(client, raced):
    lot_id, b, reads = raced
    placed = bid(client, b, lot_id, 130_000_00)
    assert placed.status_code == 201 and len(reads) == 2
    assert placed.get_json()["lot"]["bid_count"] == 3 and placed.get_json()["lot"]["current_price_fen"] == 130_000_00
    history = client.get(f"/api/v1/lots/{lot_id}/bids").get_json()
    assert [x["amount_fen"] for x in history["items"]] == [130_000_00, 110_000_00, 100_000_00]


def test_a_bid_judged_again_sees_a_proxy_raised_meanwhile(client, world, session_with_lot, monkeypatch):
    from app.auctions import services
    from app.auctions.models import ProxyBid

    _auction, lot, bidders, _ = session_with_lot
    a, b, _c = bidders.actors
    lot_id = lot["id"]
    assert client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": 130_000_00},
                       headers=a.headers).status_code == 200
    reads, original = [], services._proxies

    def raised_after_the_read(lot):
        proxies = original(lot)
        reads.append(lot.id)
        if len(reads) == 1:  # A raises its maximum (another worker) after this bid read the proxies
            table, lots = ProxyBid.__table__, Lot.__table__
            db.session.execute(sa.update(table).where(table.c.lot_id == lot.id).values(
                max_amount_fen=200_000_00, placed=2))
            db.session.execute(sa.update(lots).where(lots.c.id == lot.id).values(proxies_placed=2))
        return proxies

    monkeypatch.setattr(services, "_proxies", raised_after_the_read)
    answered = bid(client, b, lot_id, 140_000_00)
    assert answered.status_code == 201 and len(reads) == 2
    # Judged on the maximum as it now stands (200,000.00), not as first read (130,000.00): A answers.
    assert [x["amount_fen"] for x in answered.get_json()["proxy_bids"]] == [150_000_00]
    assert answered.get_json()["lot"]["leading_bidder_number"] == "0001"


def test_a_retried_bid_with_its_key_is_answered_once(client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    first = bid(client, bidders.actors[0], lot["id"], 100_000_00, **{"Idempotency-Key": "bid-1"})
    again = bid(client, bidders.actors[0], lot["id"], 100_000_00, **{"Idempotency-Key": "bid-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert client.get(f"/api/v1/lots/{lot['id']}").get_json()["bid_count"] == 1


def test_close_due_command_closes_what_is_past_its_end(app, client, world, session_with_lot):
    _auction, lot, bidders, _ = session_with_lot
    bid(client, bidders.actors[0], lot["id"], 160_000_00)
    runner = app.test_cli_runner()
    assert "0 lot(s) closed" in runner.invoke(args=["auctions", "close-due"]).output
    clock.freeze(END)
    assert "1 lot(s) closed" in runner.invoke(args=["auctions", "close-due"]).output
    assert "0 lot(s) closed" in runner.invoke(args=["auctions", "close-due"]).output
    assert db.session.get(Lot, lot["id"]).status == "sold"


def test_a_lot_takes_no_bid_before_its_session_opens(client, world):
    auction = _auction(client, world)
    lot = _lot(client, world, auction["id"])
    (actor,) = Bidders(client, world, 1).actors
    _register(client, world, auction["id"], actor)
    assert client.get(f"/api/v1/lots/{lot['id']}").get_json()["status"] == "pending"
    early = bid(client, actor, lot["id"], 100_000_00)
    assert early.status_code == 409 and early.get_json()["reason"] == "lot_not_open"
    proxy = client.post(f"/api/v1/lots/{lot['id']}/proxy", json={"max_amount_fen": 200_000_00}, headers=actor.headers)
    assert proxy.status_code == 409 and proxy.get_json()["reason"] == "lot_not_open"
    assert client.get(f"/api/v1/lots/{lot['id']}/bids").get_json()["total"] == 0


def test_registrations_are_seen_by_staff_and_their_enterprise_only(client, world, session_with_lot):
    auction, lot, bidders, registrations = session_with_lot
    a, b, _c = bidders.actors
    path = f"/api/v1/auctions/{auction['id']}/registrations"
    assert len(client.get(path, headers=world.staff.headers).get_json()) == 3
    own = client.get(path, headers=a.headers).get_json()
    assert [r["bidder_number"] for r in own] == ["0001"]
    assert client.get(f"/api/v1/registrations/{registrations[0]['id']}", headers=a.headers).status_code == 200
    assert client.get(f"/api/v1/registrations/{registrations[0]['id']}", headers=b.headers).status_code == 404
    assert client.get(path, headers=world.uni.headers).status_code == 403
    assert client.get(path).status_code == 401
    assert client.post(f"/api/v1/registrations/{registrations[0]['id']}/confirm", json={},
                       headers=world.staff.headers).get_json()["reason"] == "already_confirmed"
    assert client.post(f"/api/v1/auctions/{auction['id']}/registrations", json={},
                       headers=world.uni.headers).status_code == 403
    lots = client.get(f"/api/v1/auctions/{auction['id']}/lots").get_json()
    assert [item["id"] for item in lots] == [lot["id"]] and "reserve_price_fen" not in lots[0]
    assert client.post(f"/api/v1/lots/{lot['id']}/bids", json={"amount_fen": 100_000_00},
                       headers=world.staff.headers).status_code == 403
    assert client.get("/api/v1/auctions/999999").status_code == 404
    assert client.get("/api/v1/lots/999999").status_code == 404
    assert bid(client, a, 999999, 100).status_code == 404
