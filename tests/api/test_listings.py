import re

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.auth.models import SYSTEM
from app.errors import DomainError
from app.patents import listings as listing_services
from app.patents import rules
from app.patents.models import Listing

from .. import factories


def create(client, actor, patent, **overrides):
    data = {"patent_id": patent.id, "mode": "assignment", "price_fen": 8_800_000, "outlet_codes": ["baoshan"],
            "description": "可转让"}
    data.update(overrides)
    return client.post("/api/v1/listings", json=data, headers=actor.headers)


def test_the_whole_review_flow(client, world):
    """The issue's 'done when': a university lists, submits, staff approve, anonymous users see it."""
    patent = factories.patent(world.uni.org)
    created = create(client, world.uni, patent)
    assert created.status_code == 201, created.json
    listing = created.get_json()
    assert listing["status"] == "draft" and listing["outlet_codes"] == ["baoshan"]
    assert listing["price_fen"] == 8_800_000 and listing["owner_organization_id"] == world.uni.org.id
    lid = listing["id"]
    assert client.get(f"/api/v1/listings/{lid}").status_code == 404  # drafts are private

    submitted = client.post(f"/api/v1/listings/{lid}/submit", headers=world.uni.headers)
    assert submitted.get_json()["status"] == "pending_review"
    assert client.post(f"/api/v1/listings/{lid}/approve", headers=world.uni.headers).status_code == 403
    approved = client.post(f"/api/v1/listings/{lid}/approve", headers=world.staff.headers)
    assert approved.get_json()["status"] == "listed" and approved.get_json()["listed_at"]

    public = client.get(f"/api/v1/listings/{lid}")
    assert public.status_code == 200 and public.get_json()["title"] == patent.title
    assert [item["id"] for item in client.get("/api/v1/listings").get_json()["items"]] == [lid]

    audit = client.get(f"/api/v1/audit?entity=listing&id={lid}", headers=world.staff.headers).get_json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in reversed(audit["items"])] == [
        ("create", None, "draft"), ("submit", "draft", "pending_review"), ("approve", "pending_review", "listed")]
    assert audit["items"][0]["actor_user_id"] == world.staff.user.id


def test_reject_needs_a_reason_and_returns_to_draft(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "pending_review")
    assert client.post(f"/api/v1/listings/{listing.id}/reject", json={}, headers=world.staff.headers).status_code == 422
    rejected = client.post(f"/api/v1/listings/{listing.id}/reject", json={"reason": "价格说明不完整"},
                           headers=world.staff.headers)
    assert rejected.get_json()["status"] == "draft"
    audit = client.get(f"/api/v1/audit?entity=listing&id={listing.id}", headers=world.staff.headers).get_json()
    assert audit["items"][0]["reason"] == "价格说明不完整"


@pytest.mark.parametrize(("status", "action"), [("draft", "approve"), ("listed", "submit"), ("listed", "reject"),
                                                 ("withdrawn", "submit"), ("sold", "withdraw")])
def test_forbidden_transitions_are_409(client, world, status, action):
    listing = factories.listing(factories.patent(world.uni.org), status)
    body = {"reason": "因为"} if action == "reject" else None
    response = client.post(f"/api/v1/listings/{listing.id}/{action}", json=body, headers=world.staff.headers)
    assert response.status_code == 409 and response.get_json()["reason"] == "invalid_transition"


def test_withdraw_by_owner_not_by_others(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "listed")
    assert client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=world.other_uni.headers).status_code == 403
    assert client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=world.enterprise.headers).status_code == 403
    done = client.post(f"/api/v1/listings/{listing.id}/withdraw", json={"reason": "已与企业达成意向"},
                       headers=world.uni.headers)
    assert done.get_json()["status"] == "withdrawn"
    assert client.get(f"/api/v1/listings/{listing.id}").status_code == 404


def test_lapsed_patents_cannot_be_listed(client, world):
    lapsed = factories.patent(world.uni.org, legal_status="lapsed")
    response = create(client, world.uni, lapsed)
    assert response.status_code == 409 and response.get_json()["reason"] == "patent_not_in_force"
    old = factories.patent(world.uni.org, application_number=factories.number("2", 2012),
                           filing_date=__import__("datetime").date(2012, 1, 5), grant_date=None,
                           legal_status="valid", ipc_codes=["A01K 61/80"])
    response = create(client, world.uni, old)  # a utility model filed in 2012 ran out in 2022
    assert response.status_code == 409 and response.get_json()["reason"] == "patent_not_in_force"


def test_a_patent_that_lapses_before_approval_is_refused(client, world, session):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "pending_review")
    patent.legal_status = "lapsed"
    session.commit()
    response = client.post(f"/api/v1/listings/{listing.id}/approve", headers=world.staff.headers)
    assert response.status_code == 409 and response.get_json()["reason"] == "patent_not_in_force"


def test_price_or_negotiable(client, world):
    patent = factories.patent(world.uni.org)
    missing = create(client, world.uni, patent, price_fen=None)
    assert missing.status_code == 422 and missing.get_json()["reason"] == "price_required"
    assert create(client, world.uni, patent, price_fen=None, negotiable=True).status_code == 201
    float_price = create(client, world.uni, factories.patent(world.uni.org), price_fen=12.5)
    assert float_price.status_code == 422 and "price_fen" in float_price.get_json()["errors"]


def test_one_active_assignment_offer_per_patent(client, world):
    patent = factories.patent(world.uni.org)
    factories.listing(patent, "listed")
    response = create(client, world.uni, patent)
    assert response.status_code == 409 and response.get_json()["reason"] == "listing_conflict"
    assert create(client, world.uni, patent, mode="nonexclusive_license").status_code == 201


def test_open_licence_terms_and_preconditions(client, world, session):
    patent = factories.patent(world.uni.org)
    no_terms = create(client, world.uni, patent, mode="open_license", price_fen=None)
    assert no_terms.status_code == 422 and no_terms.get_json()["reason"] == "open_license_terms_required"
    terms = {"payment_method": "entry_fee_plus_royalty", "fee_fen": 2_000_000, "royalty_rate": 0.03,
             "term_months": 24}
    ok = create(client, world.uni, patent, mode="open_license", price_fen=None, open_license=terms)
    assert ok.status_code == 201, ok.json
    assert ok.get_json()["open_license"] == dict(terms)
    exclusive = create(client, world.uni, patent, mode="exclusive_license")
    assert exclusive.status_code == 409 and exclusive.get_json()["reason"] == "listing_conflict"

    short = create(client, world.uni, factories.patent(world.uni.org), mode="open_license", price_fen=None,
                   open_license=dict(terms, term_months=6))
    assert short.get_json()["reason"] == "open_license_term_too_short"
    too_long = create(client, world.uni, factories.patent(world.uni.org), mode="open_license", price_fen=None,
                      open_license=dict(terms, term_months=600))
    assert too_long.get_json()["reason"] == "license_term_beyond_expiry"

    pledged = factories.patent(world.uni.org)
    factories.pledge([pledged], world.uni.org)
    refused = create(client, world.uni, pledged, mode="open_license", price_fen=None, open_license=terms)
    assert refused.status_code == 409 and refused.get_json()["reason"] == "patent_pledged"

    utility = factories.patent(world.uni.org, application_number=factories.number("2", 2021), grant_date=None,
                               ipc_codes=["B25J 9/16"])
    needs_report = create(client, world.uni, utility, mode="open_license", price_fen=None, open_license=terms)
    assert needs_report.get_json()["reason"] == "evaluation_report_required"


def test_pending_applications_offer_only_the_application_right(client, world):
    pending = factories.patent(world.uni.org, legal_status="pending", grant_date=None)
    assert create(client, world.uni, pending, mode="exclusive_license").get_json()["reason"] == "patent_not_granted"
    assert create(client, world.uni, pending).status_code == 201


def test_editing_drafts_and_shelving_listed_ones(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "draft")
    edited = client.patch(f"/api/v1/listings/{listing.id}", json={"price_fen": 9_900_000, "outlet_codes": ["wuxi"]},
                          headers=world.uni.headers)
    assert edited.get_json()["price_fen"] == 9_900_000 and edited.get_json()["outlet_codes"] == ["wuxi"]
    unknown = client.patch(f"/api/v1/listings/{listing.id}", json={"outlet_codes": ["mars"]}, headers=world.uni.headers)
    assert unknown.status_code == 422 and unknown.get_json()["reason"] == "outlet_not_found"

    listed = factories.listing(factories.patent(world.uni.org), "listed")
    frozen = client.patch(f"/api/v1/listings/{listed.id}", json={"price_fen": 1}, headers=world.uni.headers)
    assert frozen.status_code == 409 and frozen.get_json()["reason"] == "listing_not_editable"
    shelved = client.patch(f"/api/v1/listings/{listed.id}", json={"outlet_codes": ["baoshan", "wuxi"]},
                           headers=world.staff.headers)
    assert shelved.get_json()["outlet_codes"] == ["baoshan", "wuxi"]
    repriced = client.patch(f"/api/v1/listings/{listed.id}", json={"price_fen": 1}, headers=world.staff.headers)
    assert repriced.status_code == 409


def test_who_sees_which_listings(client, world):
    mine_draft = factories.listing(factories.patent(world.uni.org), "draft")
    mine_listed = factories.listing(factories.patent(world.uni.org), "listed")
    theirs_draft = factories.listing(factories.patent(world.other_uni.org), "draft")
    theirs_negotiating = factories.listing(factories.patent(world.other_uni.org), "in_negotiation")

    def ids(actor=None, query=""):
        headers = actor.headers if actor else {}
        return {item["id"] for item in client.get(f"/api/v1/listings{query}", headers=headers).get_json()["items"]}

    published = {mine_listed.id, theirs_negotiating.id}
    assert ids() == published
    assert ids(world.enterprise) == published
    assert ids(world.uni) == published | {mine_draft.id}
    assert ids(world.staff) == published | {mine_draft.id, theirs_draft.id}
    assert ids(world.staff, "?status=draft") == {mine_draft.id, theirs_draft.id}
    assert ids(None, "?status=draft") == set()
    assert ids(None, "?outlet=baoshan") == set()
    assert client.get(f"/api/v1/listings/{theirs_draft.id}", headers=world.uni.headers).status_code == 404


def test_listing_someone_elses_patent_is_refused(client, world):
    theirs = factories.patent(world.other_uni.org)
    response = create(client, world.uni, theirs)
    assert response.status_code in (403, 422)
    assert response.get_json()["reason"] in ("not_your_organization", "patent_not_found")


def test_the_database_refuses_a_second_active_assignment_offer(session, world):
    """The guard under the service's check and lock: even a writer that skips both cannot add one."""
    patent = factories.patent(world.uni.org)
    factories.listing(patent, "draft")
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Listing(patent_id=patent.id, mode="assignment", negotiable=True, status="listed"))
    session.add(Listing(patent_id=patent.id, mode="assignment", negotiable=True, status="withdrawn"))
    session.flush()  # an ended offer is no longer active


def test_the_active_statuses_of_the_guards_are_the_rules(session):
    from app.patents.models import _ACTIVE_SQL

    assert set(re.findall(r"'(\w+)'", _ACTIVE_SQL)) == set(rules.ACTIVE_STATUSES)


def test_a_conflict_in_a_transition_leaves_the_callers_transaction_alone(session, world):
    """A stale listing is a 409 for that change only: the work the caller did before it (an import's earlier
    rows) stays in its transaction; the request or job boundary decides what to roll back."""
    earlier = factories.patent(world.uni.org)
    listing = factories.listing(factories.patent(world.uni.org), "pending_review")
    earlier.title = "一种先写入的专利"
    assert listing.version == 2  # loaded: this session now holds a version another writer moves on
    session.flush()
    table = Listing.__table__  # a plain UPDATE, as another writer would: the session does not see it
    session.execute(sa.update(table).where(table.c.id == listing.id).values(version=table.c.version + 1))
    with pytest.raises(DomainError) as raised:
        with session.begin_nested():
            listing_services.move(SYSTEM, listing, "approve")
    assert raised.value.reason == "concurrent_update"
    assert session.get(type(earlier), earlier.id).title == "一种先写入的专利"
