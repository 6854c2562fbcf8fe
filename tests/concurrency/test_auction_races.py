"""One hot lot under contention, with truly concurrent requests (see conftest): 60 bidders, some with
proxies, bid through the HTTP API near the lot's end; then a lot closes while bids, reads and the
closing sweep all arrive at once. On PostgreSQL the lot's row lock is what is proven here."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.auctions import rules
from app.auctions import services as auctions
from app.auctions.models import Bid, Lot
from app.audit.models import AuditLog
from app.auth.models import SYSTEM
from app.deals.models import Deal
from app.extensions import db

from .. import factories
from .conftest import concurrently

BIDDERS = 60
PROXIES = 12
STEP = 1_000_00


def _session(live_world, bidders: int, *, ends_in: timedelta, window_seconds: int, reserve=None):
    now = clock.now()
    auction = auctions.create_auction(SYSTEM, {
        "title": "并发竞价测试场", "outlet_code": "baoshan", "starts_at": now - timedelta(minutes=1),
        "ends_at": now + timedelta(hours=1), "anti_sniping_seconds": window_seconds})
    listing = factories.listing(factories.patent(live_world.uni.org), "listed")
    lot = auctions.add_lot(SYSTEM, auction.id, {
        "listing_id": listing.id, "starting_price_fen": 100_000_00, "reserve_price_fen": reserve,
        "increment_bands": [{"from_fen": 0, "increment_fen": STEP},
                            {"from_fen": 200_000_00, "increment_fen": 2 * STEP}],
        "deposit_fen": 0, "ends_at": now + ends_in})
    actors = []
    for i in range(bidders):
        org = factories.organization(f"竞买企业{i:03d}", "enterprise")
        user = factories.user("enterprise", org)
        registration = auctions.register(user, auction.id, {})
        auctions.confirm_registration(SYSTEM, registration.id, {})
        actors.append({"Authorization": f"Bearer {factories.token_for(user)}"})
    # The end counts from now, when the bidders are ready (setting them up may take seconds on a busy machine).
    lot.scheduled_ends_at = lot.ends_at = clock.now() + ends_in
    db.session.commit()
    return lot.id, actors


def _bids(lot_id: int) -> list[Bid]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Bid).where(Bid.lot_id == lot_id).order_by(Bid.id)))


def _check_history(lot: Lot, bids: list[Bid]) -> None:
    """Accepted amounts strictly increase in acceptance order, on the grid, never twice; the price is the
    highest bid; the end is the schedule's, extended exactly as the accepted bids' times require."""
    grid = rules.Increment(tuple((a, b) for a, b in lot.increment_bands))
    amounts = [bid.amount_fen for bid in bids]
    assert amounts == sorted(amounts) and len(set(amounts)) == len(amounts)
    assert all(rules.on_grid(lot.starting_price_fen, grid, amount) for amount in amounts)
    assert lot.current_price_fen == amounts[-1] and lot.bid_count == len(bids)
    assert all(a.registration_id != b.registration_id for a, b in zip(bids, bids[1:], strict=False)), \
        "a bidder outbid itself"
    ends = lot.scheduled_ends_at
    for bid in bids:
        assert bid.created_at < ends, "a bid accepted after the end"
        ends = rules.extended(ends, bid.created_at, timedelta(seconds=lot.window_seconds))
    assert lot.ends_at == ends


def test_sixty_bidders_with_proxies_on_one_lot_near_its_end(live, live_world):
    # Ends in 20 s with a 60 s window: every accepted bid extends the end.
    lot_id, actors = _session(live_world, BIDDERS, ends_in=timedelta(seconds=20), window_seconds=60)
    rng = random.Random(7)
    maxima = {i: 100_000_00 + rng.randint(5, 150) * STEP for i in range(PROXIES)}

    def bidder(i):
        outcomes = []
        with live.test_client() as client:
            if i in maxima:
                response = client.post(f"/api/v1/lots/{lot_id}/proxy", json={"max_amount_fen": maxima[i]},
                                       headers=actors[i])
                outcomes.append((response.status_code, (response.get_json() or {}).get("reason")))
            for _ in range(4):
                lot = client.get(f"/api/v1/lots/{lot_id}").get_json()
                amount = lot["min_next_bid_fen"] + rng.choice((0, 0, 1)) * STEP
                if rng.random() < 0.1:
                    amount += STEP // 2  # off the grid
                response = client.post(f"/api/v1/lots/{lot_id}/bids", json={"amount_fen": amount}, headers=actors[i])
                outcomes.append((response.status_code, (response.get_json() or {}).get("reason")))
        return outcomes

    results = [outcome for outcomes in concurrently(BIDDERS, bidder) for outcome in outcomes]
    codes = Counter(code for code, _ in results)
    assert set(codes) <= {200, 201, 409}, codes
    reasons = Counter(reason for code, reason in results if code == 409)
    assert set(reasons) <= set(rules.REASONS) - {"not_registered", "lot_not_open"}, reasons
    assert None not in reasons
    lot = db.session.get(Lot, lot_id)
    bids = _bids(lot_id)
    assert codes[201] >= 5 and len(bids) >= codes[201] + codes[200], (codes, reasons, len(bids))
    _check_history(lot, bids)
    assert any(bid.automatic for bid in bids)
    assert lot.ends_at > lot.scheduled_ends_at


def test_closing_while_bids_and_reads_arrive_gives_one_result(live, live_world):
    # No anti-sniping: the lot ends 1.5 s from now whatever arrives.
    lot_id, actors = _session(live_world, 24, ends_in=timedelta(seconds=1.5), window_seconds=0)
    stop_at = time.monotonic() + 4

    def call(i):
        seen = Counter()
        with live.test_client() as client:
            while time.monotonic() < stop_at:
                if i % 3 == 0:
                    response = client.get(f"/api/v1/lots/{lot_id}")
                    seen[(response.status_code, response.get_json()["status"])] += 1
                elif i % 3 == 1:
                    lot = client.get(f"/api/v1/lots/{lot_id}").get_json()
                    amount = lot["min_next_bid_fen"] or lot["current_price_fen"] + STEP
                    response = client.post(f"/api/v1/lots/{lot_id}/bids", json={"amount_fen": amount},
                                           headers=actors[i])
                    seen[(response.status_code, (response.get_json() or {}).get("reason"))] += 1
                else:
                    with live.app_context():
                        from app.auctions.jobs import close_everything_due

                        seen[("closed", close_everything_due())] += 1
                        db.session.remove()
        return seen

    seen = sum(concurrently(24, call), Counter())
    assert {code for code, _ in seen} <= {200, 201, 409, "closed"}, seen
    assert seen[(409, None)] == 0
    lot = db.session.get(Lot, lot_id)
    bids = _bids(lot_id)
    assert lot.status == "sold" and bids and lot.final_price_fen == bids[-1].amount_fen
    _check_history(lot, bids)
    assert lot.ends_at == lot.scheduled_ends_at  # no window: nothing moved the end
    assert sum(count for (what, closed), count in seen.items() if what == "closed" and closed) <= 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(
        AuditLog.entity == "lot", AuditLog.entity_id == lot_id, AuditLog.action == "close")) == 1
    deal = db.session.scalar(sa.select(Deal))
    assert deal.amount_fen == lot.final_price_fen and deal.id == lot.deal_id and deal.source == "auction"
