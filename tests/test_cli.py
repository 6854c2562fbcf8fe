import json

import sqlalchemy as sa

from app.auth.models import User
from app.deals.models import Deal
from app.outlets.models import Outlet
from app.patents.models import Listing, Patent
from app.patents.rules import ACTIVE_STATUSES
from app.pledges.models import Pledge


def test_seed_demo_makes_a_working_supermarket(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert "demo-pass-2026" in result.output
    codes = set(session.scalars(sa.select(Outlet.code)))
    assert codes == {"baoshan", "wuxi", "shaoxing", "hefei", "suzhou", "ningbo", "hangzhou", "huzhou", "wenzhou",
                     "baoshan-workers", "baowu-carbon-park"}
    assert session.scalar(sa.select(sa.func.count()).select_from(Patent)) == 200
    statuses = set(session.scalars(sa.select(Listing.status)))
    assert statuses == {"draft", "pending_review", "listed", "in_negotiation", "in_auction", "sold", "licensed",
                        "withdrawn", "expired"}
    assert set(session.scalars(sa.select(User.role))) == {"admin", "staff", "university", "enterprise"}
    for listing in session.scalars(sa.select(Listing).where(Listing.status.in_(ACTIVE_STATUSES))):
        assert listing.patent.in_force
    # Sold and licensed listings got there by deals; an open licence has grants; a patent is pledged.
    deals = session.scalars(sa.select(Deal)).all()
    assert {deal.status for deal in deals} == {"recorded", "completed"}
    assert {"assignment", "open_license"} <= {deal.kind for deal in deals}
    assert {deal.kind for deal in deals} & {"exclusive_license", "sole_license"}
    grants = [deal for deal in deals if deal.kind == "open_license"]
    assert len({deal.buyer_organization_id for deal in grants}) >= 2
    for deal in deals:
        if deal.kind == "assignment" and deal.status == "completed":
            assert all(p.owner_organization_id == deal.buyer_organization_id for p in deal.patents)
    assert any(deal.filing_overdue for deal in deals) and any(deal.after_event for deal in deals)
    assert session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 1
    # A closed session whose lot sold into a deal, and an open one with a contested lot, a lot without
    # reserve sold on one bid at the start, and lots waiting for their first bid.
    from app.auctions.models import Auction, Lot

    sessions = session.scalars(sa.select(Auction).order_by(Auction.starts_at)).all()
    assert [a.status for a in sessions] == ["closed", "open"]
    (sold,) = session.scalars(sa.select(Lot).where(Lot.auction_id == sessions[0].id)).all()
    assert sold.status == "sold" and session.get(Deal, sold.deal_id).source == "auction"
    live = session.scalars(sa.select(Lot).where(Lot.auction_id == sessions[1].id).order_by(Lot.id)).all()
    assert all(lot.status == "open" for lot in live) and len(live) >= 3
    assert live[0].bid_count >= 3 and live[0].proxies_placed == 1 and not live[0].reserve_met
    assert live[1].reserve_price_fen is None and live[1].bid_count == 1 and live[1].reserve_met
    assert live[2].bid_count == 0
    assert {listing.status for listing in session.scalars(sa.select(Listing).where(
        Listing.id.in_([lot.listing_id for lot in live])))} == {"in_auction"}
    assert session.scalar(sa.select(sa.func.count()).select_from(Patent).where(Patent.pledged.is_(True))) == 1
    # The demo demands, in enterprises' words, find the kind of patent each was written for (here without a
    # trained model: the engine's candidates and the demand's own words).
    from app import jobs
    from app.demands import matcher
    from app.demands.models import Demand
    from app.demo.generator import DEMO_DEMANDS

    jobs.run_due()
    for _org, title, _text, product, _budget in DEMO_DEMANDS:
        demand = session.scalar(sa.select(Demand).where(Demand.title == title))
        top = [item["listing"]["title"] for item in matcher.matches_for_demand(demand, 3)["items"]]
        assert any(product in listing_title for listing_title in top), (title, top)
    again = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert again.exit_code == 0 and "skipped" in again.output
    assert runner.invoke(args=["seed", "demo"]).exit_code != 0

    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"email": "university@example.com", "password": "demo-pass-2026"})
    assert login.status_code == 200
    assert client.get("/api/v1/outlets").get_json()["total"] == 11


def test_create_admin(app, session, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-admin-password")
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "Root@Exchange.cn"])
    assert result.exit_code == 0, result.output
    admin = session.scalar(sa.select(User).where(User.email == "root@exchange.cn"))
    assert admin.role == "admin"
    login = app.test_client().post("/api/v1/auth/login", json={"email": "root@exchange.cn",
                                                               "password": "a-long-admin-password"})
    assert login.status_code == 200
    again = app.test_cli_runner().invoke(args=["users", "create-admin", "root@exchange.cn"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_create_admin_prompts_without_the_variable(app, session, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    result = app.test_cli_runner().invoke(args=["users", "create-admin", "ops@exchange.cn"],
                                          input="prompted-password\nprompted-password\n")
    assert result.exit_code == 0, result.output


def test_matching_train_status_and_if_missing(app, session, tmp_path):
    runner = app.test_cli_runner()
    app.config["MATCHING_MODEL_DIR"] = str(tmp_path / "model")
    try:
        assert "no model" in runner.invoke(args=["matching", "status"]).output
        too_few = runner.invoke(args=["matching", "train"])
        assert too_few.exit_code != 0 and "too few" in too_few.output
        assert runner.invoke(args=["seed", "demo", "--patents", "60"]).exit_code == 0
        trained = runner.invoke(args=["matching", "train", "--dimensions", "12", "--pseudo-queries", "40"])
        assert trained.exit_code == 0, trained.output
        assert (tmp_path / "model" / "model.json").exists() and "written to" in trained.output
        status = runner.invoke(args=["matching", "status"])
        assert '"documents": 60' in status.output
        shown = json.loads(status.output)
        assert shown["freshness"]["coverage"] == 1.0 and shown["freshness"]["serving"] is True
        assert shown["freshness"]["age_seconds"] >= 0 and shown["model"]["calibration"]["ece"] >= 0
        calibrated = runner.invoke(args=["matching", "calibrate", "--pseudo-queries", "30"])
        assert calibrated.exit_code == 0 and '"cross_fitted"' in calibrated.output, calibrated.output
        skipped = runner.invoke(args=["matching", "train", "--if-missing"])
        assert skipped.exit_code == 0 and "not retrained" in skipped.output
    finally:
        app.config["MATCHING_MODEL_DIR"] = None
