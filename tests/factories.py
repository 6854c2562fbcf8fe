"""Test data builders: the same services the API uses, with cheap tokens."""

from __future__ import annotations

import functools
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from app import clock
from app.auth import services as accounts
from app.auth.models import SYSTEM, AuthToken, Organization, User
from app.auth.permissions import hash_token
from app.demo.generator import application_number
from app.extensions import db
from app.outlets import services as outlets
from app.patents import listings as listing_services
from app.patents import services as patent_services

_serial = itertools.count(1000)


def committed(func):
    """Commit what a builder made. In tests a commit only releases a savepoint, and committed setup
    survives the rollback a failing request does."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        db.session.commit()
        return result

    return wrapper
PASSWORD = "correct-horse-42"


@committed
def organization(name: str | None = None, kind: str = "university", region: str = "上海") -> Organization:
    return accounts.create_organization(SYSTEM, name or f"{kind}-{next(_serial)}", kind, region)


@committed
def user(role: str, org: Organization | None, email: str | None = None) -> User:
    return accounts.create_user(SYSTEM, email or f"{role}{next(_serial)}@example.com", PASSWORD, role,
                                org.id if org else None)


@committed
def token_for(u: User) -> str:
    token = secrets.token_urlsafe(16)
    db.session.add(AuthToken(token_hash=hash_token(token), user_id=u.id,
                             expires_at=clock.now() + timedelta(hours=1)))
    db.session.flush()
    return token


def number(type_digit: str = "1", year: int = 2021) -> str:
    return application_number(year, type_digit, next(_serial))


def patent_data(owner: Organization, **overrides) -> dict:
    data = {
        "application_number": number(),
        "title": "一种钠离子电池正极材料及其制备方法",
        "abstract": "本发明公开了一种层状氧化物正极材料，提高了循环寿命。",
        "ipc_codes": ["H01M 4/58", "H01M 10/054"],
        "legal_status": "valid",
        "filing_date": date(2021, 3, 1),
        "grant_date": date(2023, 5, 9),
        "inventors": ["王伟", "李娜"],
        "owner_organization_id": owner.id,
    }
    data.update(overrides)
    return data


@committed
def patent(owner: Organization, **overrides):
    return patent_services.create_patent(SYSTEM, patent_data(owner, **overrides))


@committed
def listing(p, status: str = "draft", **overrides):
    data = {"patent_id": p.id, "mode": "assignment", "price_fen": 50_000_000, "outlet_codes": []}
    data.update(overrides)
    item = listing_services.create_listing(SYSTEM, data)
    path = {"draft": (), "pending_review": ("submit",), "listed": ("submit", "approve"),
            "withdrawn": ("withdraw",), "in_negotiation": ("submit", "approve", "start_negotiation"),
            "sold": ("submit", "approve", "sell"), "licensed": ("submit", "approve", "license")}[status]
    for action in path:
        listing_services.move(SYSTEM, item, action, None)
    return item


@committed
def outlet(code: str, kind: str = "regional"):
    return outlets.create_outlet(SYSTEM, {"code": code, "name": f"{code} 店", "city": "上海", "province": "上海",
                                          "kind": kind, "operator": None})


@dataclass
class Actor:
    user: User
    token: str
    org: Organization | None

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def renewed(self) -> Actor:
        """The same user with a token valid from the clock's now (after a test moved the clock on)."""
        return Actor(self.user, token_for(self.user), self.org)


@dataclass
class World:
    admin: Actor
    staff: Actor
    uni: Actor
    other_uni: Actor
    enterprise: Actor
    outlets: list = field(default_factory=list)

    @classmethod
    def build(cls) -> World:
        exchange = organization("交易中心", "exchange")
        uni, other = organization("沪东理工大学", "university"), organization("太湖科技大学", "university")
        company = organization("申城新能源科技有限公司", "enterprise")

        def actor(role, org):
            u = user(role, org)
            return Actor(u, token_for(u), org)

        world = cls(admin=actor("admin", None), staff=actor("staff", exchange), uni=actor("university", uni),
                    other_uni=actor("university", other), enterprise=actor("enterprise", company),
                    outlets=[outlet("baoshan"), outlet("wuxi")])
        db.session.commit()
        return world

    def by_role(self, role: str) -> dict:
        if role == "anonymous":
            return {}
        return getattr(self, {"university": "uni"}.get(role, role)).headers


@committed
def demand(actor: User, **overrides):
    from app.demands import services as demand_services

    data = {"title": "鱼塘喂料不均匀",
            "description": "我们的鱼塘形状不规则，喂料机喂不到角落，希望饲料能均匀撒到整个鱼塘。"}
    data.update(overrides)
    return demand_services.create_demand(actor, data)


@committed
def inquiry(actor: User, item, message: str = "请问可以先小批量试用吗？", **overrides):
    from app.inquiries import services as inquiry_services

    return inquiry_services.create_inquiry(actor, item.id, {"message": message, **overrides})


@committed
def import_job(actor: User, records: list[dict], **options):
    """An import of JSON Lines `records`, queued (run it with app.jobs.run_due())."""
    import json

    from app.imports.services import create_import

    raw = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    return create_import(actor, "inventory.jsonl", raw, options)


_deal_keys = itertools.count(1)


def deal_body(patent_ids: list[int], seller: Organization, buyer: Organization, **overrides) -> dict:
    body = {"kind": "assignment", "patent_ids": patent_ids, "seller_organization_id": seller.id,
            "buyer_organization_id": buyer.id, "amount_fen": 120_000_000, "contract_number": f"HT-{next(_serial)}",
            "signed_on": clock.today().isoformat(), "source": "negotiation"}
    body.update(overrides)
    return body


def deal_key() -> dict:
    return {"Idempotency-Key": f"test-deal-{next(_deal_keys)}-{secrets.token_hex(4)}"}


@committed
def deal(patent_ids: list[int], seller: Organization, buyer: Organization, **overrides):
    """A deal recorded through the service (dates as date objects, as the schema would give them)."""
    from app.deals import services as deal_services

    data = deal_body(patent_ids, seller, buyer, **overrides)
    data["signed_on"] = date.fromisoformat(data["signed_on"]) if isinstance(data["signed_on"], str) \
        else data["signed_on"]
    return deal_services.record_deal(SYSTEM, data)


@committed
def pledge(patents: list, pledgor: Organization, **overrides):
    from app.pledges import services as pledge_services

    data = {"registration_number": f"Y{next(_serial)}", "pledgor_organization_id": pledgor.id,
            "pledgee_name": "长三角示范银行", "secured_amount_fen": 500_000_000,
            "starts_on": clock.today(), "ends_on": clock.today() + timedelta(days=365),
            "patent_ids": [p.id for p in patents]}
    data.update(overrides)
    return pledge_services.register_pledge(SYSTEM, data)


OPEN_TERMS = {"payment_method": "lump_sum", "fee_fen": 3_000_000, "term_months": 12}


@committed
def open_license_listing(p, **terms):
    return listing(p, "listed", mode="open_license", price_fen=None, open_license={**OPEN_TERMS, **terms})
