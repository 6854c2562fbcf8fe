"""`flask seed demo`: the eleven outlets, organisations, one user per role, ~200 patents, listings in every
lifecycle state, deals (assignments, licences, open-licence grants) and a pledge, all through the same
services the API uses."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta

import sqlalchemy as sa

from app import clock
from app.auth import services as accounts
from app.auth.models import SYSTEM, Organization
from app.deals import services as deals
from app.extensions import db
from app.outlets import services as outlets
from app.outlets.models import Outlet
from app.patents import listings
from app.patents import services as patents
from app.patents.listings import move
from app.pledges import services as pledges

from .generator import DEMO_DEMANDS, generate_patent

DEMO_PASSWORD = "demo-pass-2026"

OUTLETS = (
    ("baoshan", "浦江知光专利超市·宝山店", "上海", "上海", "regional"),
    ("wuxi", "浦江知光专利超市·无锡店", "无锡", "江苏", "regional"),
    ("shaoxing", "浦江知光专利超市·绍兴店", "绍兴", "浙江", "regional"),
    ("hefei", "浦江知光专利超市·合肥店", "合肥", "安徽", "regional"),
    ("suzhou", "浦江知光专利超市·苏州店", "苏州", "江苏", "regional"),
    ("ningbo", "浦江知光专利超市·宁波店", "宁波", "浙江", "regional"),
    ("hangzhou", "浦江知光专利超市·杭州店", "杭州", "浙江", "regional"),
    ("huzhou", "浦江知光专利超市·湖州店", "湖州", "浙江", "regional"),
    ("wenzhou", "浦江知光专利超市·温州店", "温州", "浙江", "regional"),
    ("baoshan-workers", "宝山区职工创新专利超市", "上海", "上海", "themed"),
    ("baowu-carbon-park", "宝武碳中和园区专利超市", "上海", "上海", "themed"),
)
# Fictional organisations: demo data must not put invented patents in real institutions' names.
ORGANIZATIONS = (
    ("浦江知识产权交易中心（演示）", "exchange", "上海"),
    ("沪东理工大学", "university", "上海"),
    ("太湖科技大学", "university", "江苏"),
    ("江淮工业大学", "university", "安徽"),
    ("之江农林大学", "university", "浙江"),
    ("长三角先进材料研究院", "institute", "上海"),
    ("甬江海洋装备研究所", "institute", "浙江"),
    ("申城新能源科技有限公司", "enterprise", "上海"),
    ("锡山智能装备有限公司", "enterprise", "江苏"),
    ("钱塘生物医药有限公司", "enterprise", "浙江"),
    ("徽州现代农业发展有限公司", "enterprise", "安徽"),
    ("长三角示范银行（演示）", "bank", "上海"),
)
USERS = (
    ("admin@example.com", "admin", None),
    ("staff@example.com", "staff", "浦江知识产权交易中心（演示）"),
    ("university@example.com", "university", "沪东理工大学"),
    ("university2@example.com", "university", "太湖科技大学"),
    ("enterprise@example.com", "enterprise", "申城新能源科技有限公司"),
)
# How many listings end in each state (the rest of the 200 patents stay unlisted).
STATE_PLAN = (
    ("listed", 90), ("draft", 10), ("pending_review", 10), ("in_negotiation", 8), ("in_auction", 6),
    ("sold", 8), ("licensed", 8), ("withdrawn", 5), ("expired", 5),
)
PATHS = {
    "draft": (),
    "pending_review": ("submit",),
    "listed": ("submit", "approve"),
    "in_negotiation": ("submit", "approve", "start_negotiation"),
    # Listings in auction get there as lots of the demo sessions (_seed_auctions).
    "in_auction": ("submit", "approve"),
    # Sold and licensed listings get there by a recorded deal (_deal_for), as on a real exchange.
    "sold": ("submit", "approve"),
    "licensed": ("submit", "approve"),
    "withdrawn": ("submit", "approve", "withdraw"),
    "expired": ("submit", "approve", "expire"),
}


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Outlet)) == 0


def seed_demo(patent_count: int = 200, seed: int = 2026) -> dict:
    rng = random.Random(seed)
    outlet_rows = [
        outlets.create_outlet(SYSTEM, {"code": code, "name": name, "city": city, "province": province,
                                       "kind": kind, "operator": "浦江知识产权交易中心（演示）"})
        for code, name, city, province, kind in OUTLETS
    ]
    orgs = {name: accounts.create_organization(SYSTEM, name, kind, region) for name, kind, region in ORGANIZATIONS}
    for email, role, org_name in USERS:
        accounts.create_user(SYSTEM, email, DEMO_PASSWORD, role, orgs[org_name].id if org_name else None)
    owners = [org for org in orgs.values() if org.kind in ("university", "institute")]

    created = []
    for index in range(patent_count):
        data = generate_patent(index, seed)
        data.pop("_theme"), data.pop("_product")
        data["owner_organization_id"] = owners[index % len(owners)].id
        created.append(patents.create_patent(SYSTEM, data))

    plan = [state for state, count in STATE_PLAN for _ in range(count)]
    listed_count = 0
    listings_by_state: dict[str, list] = {}
    offerable = [patent for patent in created if patent.in_force and patent.legal_status == "valid"]
    for patent, state in zip(offerable, plan, strict=False):
        mode = _mode_for(rng, patent, state)
        payload = {"patent_id": patent.id, "mode": mode, "description": f"{patent.title}，可洽谈转化。",
                   "outlet_codes": [o.code for o in rng.sample(outlet_rows, rng.randint(1, 3))]}
        if mode == "open_license":
            patent.evaluation_report = True
            payload["open_license"] = {"payment_method": "lump_sum", "fee_fen": rng.randint(2, 20) * 1_000_000,
                                       "term_months": 12 * rng.randint(1, 3)}
        elif rng.random() < 0.25:
            payload["negotiable"] = True
        else:
            payload["price_fen"] = rng.randint(5, 500) * 1_000_000  # ¥50,000 to ¥5,000,000
        listing = listings.create_listing(SYSTEM, payload)
        for action in PATHS[state]:
            move(SYSTEM, listing, action, "demo data" if action in ("withdraw", "expire") else None)
        if state == "expired":
            patent.legal_status = "lapsed"
        listed_count += 1
        listings_by_state.setdefault(state, []).append(listing)
    db.session.flush()
    enterprises = [org for org in orgs.values() if org.kind == "enterprise"]
    deal_count = _seed_deals(rng, listings_by_state, enterprises)
    pledge_count = _seed_pledge(listings_by_state, orgs["长三角示范银行（演示）"], enterprises)
    demand_count = _seed_demands(orgs)
    auction_count = _seed_auctions(by_state=listings_by_state, enterprises=enterprises)
    db.session.flush()
    return {"outlets": len(outlet_rows), "organizations": len(orgs), "users": len(USERS),
            "patents": len(created), "listings": listed_count, "deals": deal_count, "pledges": pledge_count,
            "demands": demand_count, "auctions": auction_count}


def _seed_deals(rng: random.Random, by_state: dict, enterprises: list) -> int:
    """Deals over the past year: assignments (most completed, paid and registered, some still recorded),
    exclusive and sole licences (some with the filing overdue), one agreed after the event (拟成交), and
    open-licence grants to several enterprises."""
    today = clock.today()
    count = 0
    for index, listing in enumerate(by_state.get("sold", [])):
        signed = today - timedelta(days=20 + 40 * index)
        deal = deals.record_deal(SYSTEM, {
            "kind": "assignment", "listing_id": listing.id, "patent_ids": [listing.patent_id],
            "seller_organization_id": listing.patent.owner_organization_id,
            "buyer_organization_id": enterprises[index % len(enterprises)].id,
            "amount_fen": listing.price_fen or rng.randint(20, 300) * 1_000_000, "signed_on": signed,
            "contract_number": f"PJZG-{signed:%Y}-{index + 1:04d}", "after_event": index == 2,
            "source": ("negotiation", "matching", "auction")[index % 3]})
        if index % 4 != 3:  # one in four is still being performed
            deals.update_deal(SYSTEM, deal.id, {"payment_status": "paid",
                                                "registration_number": f"BG{signed:%Y%m%d}{index}",
                                                "registered_on": min(today, signed + timedelta(days=30))})
            deals.complete_deal(SYSTEM, deal.id)
        else:
            deals.update_deal(SYSTEM, deal.id, {"amount_received_fen": deal.amount_fen // 3})
        count += 1
    for index, listing in enumerate(by_state.get("licensed", [])):
        signed = today - timedelta(days=15 + 45 * index)
        deal = deals.record_deal(SYSTEM, {
            "kind": listing.mode, "listing_id": listing.id, "patent_ids": [listing.patent_id],
            "seller_organization_id": listing.patent.owner_organization_id,
            "buyer_organization_id": enterprises[(index + 1) % len(enterprises)].id,
            "amount_fen": listing.price_fen or rng.randint(10, 100) * 1_000_000, "signed_on": signed,
            "contract_number": f"PJZG-XK-{signed:%Y}-{index + 1:04d}", "source": "negotiation",
            "license_ends_on": min(filter(None, (listing.patent.expires_on, signed + timedelta(days=3 * 365))))})
        if index % 2 == 0:  # the others' filing (备案) is left for staff to chase
            deals.update_deal(SYSTEM, deal.id, {"registration_number": f"BA{signed:%Y%m%d}{index}",
                                                "registered_on": min(today, signed + timedelta(days=20))})
        count += 1
    declared = [listing for listing in by_state.get("listed", []) if listing.mode == "open_license"][:2]
    for listing in declared:
        for buyer in enterprises[:3]:
            deals.record_deal(SYSTEM, {
                "kind": "open_license", "listing_id": listing.id, "patent_ids": [listing.patent_id],
                "seller_organization_id": listing.patent.owner_organization_id, "buyer_organization_id": buyer.id,
                "amount_fen": listing.ol_fee_fen or 0, "signed_on": today - timedelta(days=7),
                "source": "open_license", "license_term_months": listing.ol_term_months})
            count += 1
    return count


@contextlib.contextmanager
def _at(moment):
    """Run as if at `moment` (a past session is bid on in its own time), then give the clock back."""
    before = clock.now() if clock.is_frozen() else None
    clock.freeze(moment)
    try:
        yield
    finally:
        if before is None:
            clock.unfreeze()
        else:
            clock.freeze(before)


def _seed_auctions(by_state: dict, enterprises: list) -> int:
    """Two G60 sessions: last week's, closed, with a lot sold after a few rounds (a deal from the auction);
    and one open now with a contested lot (bids and a proxy), a lot without reserve sold on one bid at the
    start, and lots still waiting for their first bid. Three enterprises, the demo enterprise among them,
    are registered and confirmed in both."""
    from types import SimpleNamespace

    from app.auctions import services as auctions

    lots = by_state.get("in_auction", [])
    if len(lots) < 3:
        return 0
    bidders = [SimpleNamespace(id=None, organization_id=org.id, is_staff=False) for org in enterprises[:3]]
    now = clock.now().replace(second=0, microsecond=0)

    def session(title, starts_at, ends_at):
        auction = auctions.create_auction(SYSTEM, {"title": title, "outlet_code": "baoshan",
                                                    "starts_at": starts_at, "ends_at": ends_at,
                                                    "anti_sniping_seconds": 300})
        for bidder in bidders:
            registration = auctions.register(bidder, auction.id, {})
            auctions.confirm_registration(SYSTEM, registration.id, {"deposit_paid_fen": 5_000_000})
        return auction

    def lot(auction, listing, start, **terms):
        return auctions.add_lot(SYSTEM, auction.id, {"listing_id": listing.id, "starting_price_fen": start,
                                                     "deposit_fen": 2_000_000, **terms})

    past_start = now - timedelta(days=7)
    with _at(past_start - timedelta(days=3)):
        closed = session("G60 科技成果拍卖会（上周场，演示）", past_start, past_start + timedelta(hours=3))
        sold = lot(closed, lots[0], 50_000_000, reserve_price_fen=60_000_000, increment_fen=5_000_000)
    with _at(past_start + timedelta(hours=2, minutes=50)):
        for bidder, amount in zip(bidders * 2, (50_000_000, 55_000_000, 60_000_000, 65_000_000), strict=False):
            auctions.place_bid(bidder, sold.id, amount)
    with _at(past_start + timedelta(hours=4)):
        auctions.close_lot(sold.id)

    live = session("G60 科技成果拍卖会（本周场，演示）", now - timedelta(hours=1), now + timedelta(days=3))
    bands = [{"from_fen": 0, "increment_fen": 1_000_000}, {"from_fen": 100_000_000, "increment_fen": 5_000_000}]
    contested = lot(live, lots[1], 80_000_000, reserve_price_fen=120_000_000, increment_bands=bands)
    single = lot(live, lots[2], 30_000_000, increment_fen=1_000_000)  # 无保留
    for listing in lots[3:]:
        lot(live, listing, 20_000_000, reserve_price_fen=40_000_000, increment_fen=1_000_000)
    with _at(now - timedelta(minutes=40)):
        auctions.place_bid(bidders[2], single.id, 30_000_000)
        auctions.set_proxy(bidders[0], contested.id, 110_000_000)
    with _at(now - timedelta(minutes=20)):
        auctions.place_bid(bidders[1], contested.id, 90_000_000)
        auctions.place_bid(bidders[1], contested.id, 110_000_000)
    return 2


def _seed_demands(orgs: dict) -> int:
    """Open demands in enterprises' words, each aimed at a kind of patent the generator writes."""
    from app.demands import services as demands

    for org_name, title, description, _product, budget in DEMO_DEMANDS:
        data = {"title": title, "description": description, "organization_id": orgs[org_name].id}
        if budget is not None:
            data["budget_max_fen"] = budget
        demands.create_demand(SYSTEM, data)
    return len(DEMO_DEMANDS)


def _seed_pledge(by_state: dict, bank, enterprises: list) -> int:
    """One patent on the shelf pledged to the demo bank, with the bank's consent to license it to one firm."""
    candidates = [listing for listing in by_state.get("listed", []) if listing.mode == "assignment"]
    if not candidates:
        return 0
    patent = candidates[0].patent
    today = clock.today()
    expires = patent.expires_on or today + timedelta(days=3650)
    pledge = pledges.register_pledge(SYSTEM, {
        "registration_number": f"Y{today:%Y}310000{patent.id:04d}", "pledgor_organization_id":
        patent.owner_organization_id, "pledgee_name": bank.name, "pledgee_organization_id": bank.id,
        "secured_amount_fen": 5_000_000_00, "starts_on": today - timedelta(days=30),
        "ends_on": min(expires, today + timedelta(days=700)), "registered_on": today - timedelta(days=28),
        "patent_ids": [patent.id]})
    pledges.add_consent(SYSTEM, pledge.id, {"action": "license", "counterparty_organization_id": enterprises[0].id,
                                            "note": "质权人同意向该企业普通许可"})
    return 1


def _mode_for(rng: random.Random, patent, state: str) -> str:
    if patent.legal_status == "pending":
        return "assignment"
    if state == "licensed":
        return rng.choice(("exclusive_license", "sole_license"))
    if state in ("sold", "in_auction"):
        return "assignment"
    return rng.choices(
        ("assignment", "exclusive_license", "sole_license", "nonexclusive_license", "open_license", "equity"),
        weights=(45, 10, 5, 20, 12, 8),
    )[0]


def demo_organization(name: str) -> Organization | None:
    return db.session.scalar(sa.select(Organization).where(Organization.name == name))
