"""Deals: recording exactly once, licence terms and what they block, completion moving ownership,
payment and CNIPA registration, filing deadlines, visibility and audit."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app import clock, jobs
from app.audit.models import AuditLog
from app.auth.models import SYSTEM
from app.deals import rules
from app.deals import services as deal_services
from app.deals.models import Deal
from app.inquiries.models import Inquiry
from app.notifications.models import Notification
from app.patents.models import Listing, Patent

from .. import factories

URL = "/api/v1/deals"


def post_deal(client, actor, body, key=None):
    headers = {**actor.headers, **(key or factories.deal_key())}
    return client.post(URL, json=body, headers=headers)


@pytest.fixture()
def buyer(world):
    return world.enterprise.org


def reason(response):
    return response.get_json().get("reason")


# -- idempotency --------------------------------------------------------------------------------------------

def test_recording_needs_an_idempotency_key(client, world, buyer):
    patent = factories.patent(world.uni.org)
    response = client.post(URL, json=factories.deal_body([patent.id], world.uni.org, buyer),
                           headers=world.staff.headers)
    assert response.status_code == 400 and reason(response) == "idempotency_key_required"
    assert "Idempotency-Key" in response.get_json()["errors"]
    bad = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer),
                    {"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400 and reason(bad) == "invalid_idempotency_key"
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 0


def test_the_same_key_and_body_answer_the_original_deal(client, world, buyer):
    patent = factories.patent(world.uni.org)
    body, key = factories.deal_body([patent.id], world.uni.org, buyer), factories.deal_key()
    first = post_deal(client, world.staff, body, key)
    assert first.status_code == 201, first.json
    # The same object with its keys in another order is the same request.
    again = post_deal(client, world.staff, dict(reversed(list(body.items()))), key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = post_deal(client, world.staff, {**body, "amount_fen": 1}, key)
    assert other.status_code == 409 and reason(other) == "idempotency_conflict"
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 1
    # Keys are per user: another member of staff with the same key records a deal of its own (here refused
    # by the rules, since the patent is already being transferred, which proves the work was attempted).
    colleague = factories.user("staff", world.staff.org)
    token = factories.token_for(colleague)
    response = client.post(URL, json=body, headers={"Authorization": f"Bearer {token}", **key})
    assert response.status_code == 409 and reason(response) == "assignment_pending"


def test_a_failed_request_does_not_keep_its_key(client, world, buyer):
    patent = factories.patent(world.uni.org)
    key = factories.deal_key()
    refused = post_deal(client, world.staff, factories.deal_body([patent.id], world.other_uni.org, buyer), key)
    assert refused.status_code == 422 and reason(refused) == "seller_not_owner"
    fixed = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer), key)
    assert fixed.status_code == 201


def test_keys_are_kept_at_least_a_day_then_pruned(client, world, buyer, app):
    from app.idempotency.models import IdempotencyKey
    from app.idempotency.services import prune_expired

    patent = factories.patent(world.uni.org)
    body, key = factories.deal_body([patent.id], world.uni.org, buyer), factories.deal_key()
    assert post_deal(client, world.staff, body, key).status_code == 201
    with clock.frozen(clock.now() + timedelta(hours=23, minutes=59)):
        assert post_deal(client, world.staff.renewed(), body, key).status_code == 200
    with clock.frozen(clock.now() + timedelta(hours=app.config["IDEMPOTENCY_KEY_HOURS"], minutes=1)):
        assert prune_expired() == 1
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0


# -- recording ----------------------------------------------------------------------------------------------

def test_record_an_assignment_of_a_package(client, world, buyer):
    first, second = factories.patent(world.uni.org), factories.patent(world.uni.org)
    listing = factories.listing(first, "listed", outlet_codes=["wuxi"])
    body = factories.deal_body([first.id, second.id], world.uni.org, buyer, listing_id=listing.id,
                               amount_fen=915_000_000)
    response = post_deal(client, world.staff, body)
    assert response.status_code == 201, response.json
    deal = response.get_json()
    assert deal["status"] == "recorded" and deal["payment_status"] == "unpaid"
    assert deal["patent_ids"] == sorted([first.id, second.id]) and deal["amount_fen"] == 915_000_000
    assert deal["outlet_code"] == "wuxi" and deal["seller"]["id"] == world.uni.org.id
    assert deal["license_starts_on"] is None and deal["filing_due_on"] is None and deal["filing_overdue"] is False
    # Recording moves nothing yet: ownership follows completion.
    assert client.get(f"/api/v1/patents/{first.id}", headers=world.staff.headers).get_json()[
        "owner_organization_id"] == world.uni.org.id
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"
    kinds = factories.db.session.scalars(sa.select(Notification.kind).where(
        Notification.user_id.in_([world.uni.user.id, world.enterprise.user.id]))).all()
    assert sorted(kinds) == ["deal_recorded", "deal_recorded"]


@pytest.mark.parametrize("change, field, why", [
    ({"seller_organization_id": "other_uni"}, "seller_organization_id", "seller_not_owner"),
    ({"buyer_organization_id": "uni"}, "buyer_organization_id", "same_party"),
    ({"buyer_organization_id": "exchange"}, "buyer_organization_id", "party_kind_not_allowed"),
    ({"buyer_organization_id": 999999}, "buyer_organization_id", "organization_not_found"),
    ({"patent_ids": [999999]}, "patent_ids", "patent_not_found"),
    ({"signed_on": "tomorrow"}, "signed_on", "signed_in_future"),
    ({"license_term_months": 12}, "license_term_months", "license_term_not_allowed"),
    ({"kind": "exclusive_license"}, "license_term_months", "license_term_required"),
    ({"kind": "sole_license", "license_term_months": 12, "license_ends_on": "2030-01-01"}, "license_term_months",
     "license_term_ambiguous"),
    ({"kind": "sole_license", "license_starts_on": "2026-01-10", "license_ends_on": "2026-01-01"},
     "license_ends_on", "license_term_invalid"),
    ({"kind": "exclusive_license", "license_term_months": 600}, "license_ends_on", "license_term_beyond_expiry"),
    ({"outlet_code": "nowhere"}, "outlet_code", "outlet_not_found"),
    # Dates far out would overflow the calendar once a term is added: refused before any arithmetic.
    ({"kind": "sole_license", "license_starts_on": "9999-06-01", "license_term_months": 600}, "license_starts_on",
     "validation_error"),
    ({"signed_on": "0001-01-01"}, "signed_on", "validation_error"),
    ({"amount_received_fen": 999_000_000_000}, "amount_received_fen", "received_above_amount"),
])
def test_refusals_name_the_field(client, world, buyer, change, field, why):
    patent = factories.patent(world.uni.org)
    orgs = {"other_uni": world.other_uni.org.id, "uni": world.uni.org.id, "exchange": world.staff.org.id}
    change = {key: orgs.get(value, value) if isinstance(value, str) else value for key, value in change.items()}
    if change.get("signed_on") == "tomorrow":
        change["signed_on"] = (clock.today() + timedelta(days=1)).isoformat()
    body = {**factories.deal_body([patent.id], world.uni.org, buyer), **change}
    response = post_deal(client, world.staff, body)
    assert response.status_code == 422 and reason(response) == why, response.json
    assert field in response.get_json()["errors"]
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 0


def test_unknown_fields_and_float_money_are_refused(client, world, buyer):
    patent = factories.patent(world.uni.org)
    body = factories.deal_body([patent.id], world.uni.org, buyer)
    assert post_deal(client, world.staff, {**body, "price": 1}).status_code == 422
    floaty = post_deal(client, world.staff, {**body, "amount_fen": 12.5})
    assert floaty.status_code == 422 and "amount_fen" in floaty.get_json()["errors"]


def test_patents_that_cannot_be_dealt_in(client, world, buyer, session):
    lapsed = factories.patent(world.uni.org, legal_status="lapsed")
    preserved = factories.patent(world.uni.org, preserved=True)
    pending = factories.patent(world.uni.org, legal_status="pending", grant_date=None)
    for patent, kind, why in ((lapsed, "assignment", "patent_not_in_force"),
                              (preserved, "assignment", "patent_preserved"),
                              (pending, "nonexclusive_license", "patent_not_granted")):
        extra = {"license_term_months": 12} if kind != "assignment" else {}
        response = post_deal(client, world.staff,
                             factories.deal_body([patent.id], world.uni.org, buyer, kind=kind, **extra))
        assert response.status_code == 409 and reason(response) == why, response.json
    # The application right of a pending application can be assigned.
    assert post_deal(client, world.staff, factories.deal_body([pending.id], world.uni.org, buyer)).status_code == 201


def test_a_deal_from_a_listing_must_offer_one_of_its_patents(client, world, buyer):
    patent, other = factories.patent(world.uni.org), factories.patent(world.uni.org)
    listing = factories.listing(other, "listed")
    mismatch = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                                  listing_id=listing.id))
    assert mismatch.status_code == 422 and reason(mismatch) == "listing_patent_mismatch"
    draft = factories.listing(patent, "draft")
    unpublished = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                                     listing_id=draft.id))
    assert unpublished.status_code == 409 and reason(unpublished) == "listing_not_available"
    # The listing alone names the patent.
    body = factories.deal_body([], world.uni.org, buyer, listing_id=listing.id)
    body.pop("patent_ids")
    response = post_deal(client, world.staff, body)
    assert response.status_code == 201 and response.get_json()["patent_ids"] == [other.id]


def test_one_transfer_at_a_time(client, world, buyer):
    patent = factories.patent(world.uni.org)
    assert post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer)).status_code == 201
    again = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer, kind="equity"))
    assert again.status_code == 409 and reason(again) == "assignment_pending"


# -- licences and their terms -----------------------------------------------------------------------------

def test_an_exclusive_licence_blocks_everything_else_until_it_ends(client, world, buyer):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed", mode="exclusive_license")
    body = factories.deal_body([patent.id], world.uni.org, buyer, kind="exclusive_license", listing_id=listing.id,
                               license_term_months=12)
    recorded = post_deal(client, world.staff, body)
    assert recorded.status_code == 201, recorded.json
    deal = recorded.get_json()
    assert deal["license_starts_on"] == clock.today().isoformat()
    assert deal["license_ends_on"] == (rules.licence_end(clock.today(), 12)).isoformat()
    # The offer was taken.
    assert client.get(f"/api/v1/listings/{listing.id}", headers=world.uni.headers).get_json()["status"] == "licensed"

    for kind in ("exclusive_license", "sole_license", "nonexclusive_license", "assignment", "equity"):
        extra = {"license_term_months": 6} if kind.endswith("license") else {}
        response = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org,
                                                                      world.other_uni.org, kind=kind, **extra))
        assert response.status_code == 409 and reason(response) == "exclusive_license_running", kind
    for mode in ("assignment", "sole_license", "open_license"):
        extra = {"open_license": factories.OPEN_TERMS} if mode == "open_license" else {"negotiable": True}
        offer = client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": mode, **extra},
                            headers=world.uni.headers)
        assert offer.status_code == 409 and reason(offer) == "exclusive_license_running", mode

    # The day after it ends, the patent is free again.
    with clock.frozen(clock.now() + timedelta(days=370)):
        offer = client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": "assignment",
                                                      "negotiable": True}, headers=world.uni.renewed().headers)
        assert offer.status_code == 201, offer.json


def test_a_non_exclusive_licence_leaves_the_listing_on_the_shelf(client, world, buyer):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed", mode="nonexclusive_license")
    for org in (buyer, world.other_uni.org):
        response = post_deal(client, world.staff, factories.deal_body(
            [patent.id], world.uni.org, org, kind="nonexclusive_license", listing_id=listing.id,
            license_ends_on=(clock.today() + timedelta(days=700)).isoformat()))
        assert response.status_code == 201, response.json
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"
    # And an assignment may still be offered.
    offer = client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": "assignment", "negotiable": True},
                        headers=world.uni.headers)
    assert offer.status_code == 201


def test_no_exclusive_licence_under_an_open_licence_declaration(client, world, buyer):
    patent = factories.patent(world.uni.org)
    factories.open_license_listing(patent)
    response = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                                  kind="sole_license", license_term_months=12))
    assert response.status_code == 409 and reason(response) == "open_license_declared"
    ordinary = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                                  kind="nonexclusive_license", license_term_months=12))
    assert ordinary.status_code == 201


def test_an_open_licence_deal_needs_a_declaration(client, world, buyer):
    patent = factories.patent(world.uni.org)
    response = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                                  kind="open_license", source="open_license",
                                                                  license_term_months=12))
    assert response.status_code == 409 and reason(response) == "open_license_not_declared"


def test_cancelling_an_exclusive_licence_puts_its_offer_back(client, world, buyer):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed", mode="exclusive_license")
    deal = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                              kind="exclusive_license", listing_id=listing.id,
                                                              license_term_months=24)).get_json()
    no_reason = client.post(f"{URL}/{deal['id']}/cancel", json={}, headers=world.staff.headers)
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    cancelled = client.post(f"{URL}/{deal['id']}/cancel", json={"reason": "买方未付款"}, headers=world.staff.headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancel_reason"] == "买方未付款"
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"
    # The licence no longer binds.
    again = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, world.other_uni.org,
                                                               kind="sole_license", license_term_months=12))
    assert again.status_code == 201, again.json
    assert client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers).status_code == 409


# -- completion ---------------------------------------------------------------------------------------------

def test_completing_an_assignment_moves_ownership_and_closes_the_shelf(client, world, buyer, app):
    patent, draft_patent = factories.patent(world.uni.org), factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed", mode="assignment")
    licence_offer = factories.listing(patent, "draft", mode="nonexclusive_license")
    inquiry = factories.inquiry(world.enterprise.user, listing)
    other_buyer = factories.organization("另一家企业", "enterprise")
    other_user = factories.user("enterprise", other_buyer)
    other_inquiry = factories.inquiry(other_user, listing)
    deal = post_deal(client, world.staff, factories.deal_body([patent.id, draft_patent.id], world.uni.org, buyer,
                                                              listing_id=listing.id)).get_json()

    done = client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers)
    assert done.status_code == 200, done.json
    assert done.get_json()["status"] == "completed" and done.get_json()["completed_at"]
    factories.db.session.expire_all()
    for patent_id in (patent.id, draft_patent.id):
        assert factories.db.session.get(Patent, patent_id).owner_organization_id == buyer.id
    assert factories.db.session.get(Listing, listing.id).status == "sold"
    assert factories.db.session.get(Listing, licence_offer.id).status == "withdrawn"
    for thread in (inquiry, other_inquiry):
        assert factories.db.session.get(Inquiry, thread.id).status == "closed"
    told = factories.db.session.scalars(sa.select(Notification).where(
        Notification.user_id == other_user.id, Notification.kind == "inquiry_status")).all()
    assert told and "transferred" in told[0].title
    completed = factories.db.session.scalars(sa.select(Notification.user_id).where(
        Notification.kind == "deal_completed")).all()
    assert set(completed) == {world.uni.user.id, world.enterprise.user.id}
    # The search document follows: the listing is now the buyer's (and sold).
    jobs.run_due()
    found = client.get(f"/api/v1/search/listings?owner={buyer.id}&status=sold",
                       headers=world.staff.headers).get_json()
    # (The index outlives each test's rolled-back rows: look for this listing's own document.)
    assert [item["status"] for item in found["items"] if item["listing_id"] == listing.id] == ["sold"]
    # The former owner cannot deal in it any more; the new one can.
    refused = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, world.other_uni.org))
    assert refused.status_code == 422 and reason(refused) == "seller_not_owner"
    assert client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers).status_code == 409
    assert client.post(f"{URL}/{deal['id']}/cancel", json={"reason": "反悔了"},
                       headers=world.staff.headers).status_code == 409
    transfers = factories.db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity == "patent", AuditLog.action == "transfer", AuditLog.entity_id == patent.id)).all()
    assert len(transfers) == 1 and transfers[0].actor_user_id == world.staff.user.id


def test_a_completion_that_fails_changes_nothing(client, world, buyer, session):
    first, second = factories.patent(world.uni.org), factories.patent(world.uni.org)
    listing = factories.listing(first, "listed")
    deal = post_deal(client, world.staff, factories.deal_body([first.id, second.id], world.uni.org, buyer,
                                                              listing_id=listing.id)).get_json()
    # The second patent is preserved by a court after the deal was recorded.
    assert client.patch(f"/api/v1/patents/{second.id}", json={"preserved": True},
                        headers=world.staff.headers).status_code == 200
    refused = client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers)
    assert refused.status_code == 409 and reason(refused) == "patent_preserved"
    factories.db.session.expire_all()
    assert factories.db.session.get(Patent, first.id).owner_organization_id == world.uni.org.id
    assert factories.db.session.get(Listing, listing.id).status == "listed"
    assert factories.db.session.get(Deal, deal["id"]).status == "recorded"


def test_completing_a_licence_moves_nothing(client, world, buyer):
    patent = factories.patent(world.uni.org)
    deal = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                              kind="nonexclusive_license",
                                                              license_term_months=36)).get_json()
    assert client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers).status_code == 200
    factories.db.session.expire_all()
    assert factories.db.session.get(Patent, patent.id).owner_organization_id == world.uni.org.id


# -- payment and registration -----------------------------------------------------------------------------

def test_payment_and_registration(client, world, buyer):
    patent = factories.patent(world.uni.org)
    deal = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer,
                                                              amount_fen=1_000_000)).get_json()
    url = f"{URL}/{deal['id']}"

    def patch(body):
        return client.patch(url, json=body, headers=world.staff.headers)

    partial = patch({"amount_received_fen": 400_000})
    assert partial.status_code == 200 and partial.get_json()["payment_status"] == "partial"
    assert patch({"payment_status": "paid", "amount_received_fen": 500_000}).get_json()["reason"] == \
        "payment_inconsistent"
    assert patch({"amount_received_fen": 1_000_001}).get_json()["reason"] == "received_above_amount"
    paid = patch({"payment_status": "paid"})
    assert paid.get_json()["payment_status"] == "paid" and paid.get_json()["amount_received_fen"] == 1_000_000
    assert patch({"registration_number": "ZL-BG-2026-001"}).get_json()["reason"] == "registration_incomplete"
    early = patch({"registration_number": "BG-1", "registered_on": (clock.today() - timedelta(days=1)).isoformat()})
    assert early.status_code == 422 and early.get_json()["reason"] == "registered_before_signing"
    registered = patch({"registration_number": "BG-1", "registered_on": clock.today().isoformat()})
    assert registered.status_code == 200 and registered.get_json()["registration_number"] == "BG-1"
    assert patch({}).status_code == 422
    assert patch({"amount_fen": 1}).status_code == 422  # the amount itself is the contract's
    updates = factories.db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity == "deal", AuditLog.entity_id == deal["id"], AuditLog.action == "update")).all()
    assert len(updates) == 3
    client.post(f"{url}/cancel", json={"reason": "合同解除"}, headers=world.staff.headers)
    assert patch({"note": "x"}).status_code == 409


def test_licence_filings_fall_due_after_three_months(client, world, buyer, session):
    patent = factories.patent(world.uni.org)
    signed = clock.today() - timedelta(days=100)
    deal = post_deal(client, world.staff, factories.deal_body(
        [patent.id], world.uni.org, buyer, kind="nonexclusive_license", signed_on=signed.isoformat(),
        license_term_months=24)).get_json()
    assert deal["filing_due_on"] == rules.filing_due_on(signed).isoformat() and deal["filing_overdue"] is True
    fresh = post_deal(client, world.staff, factories.deal_body(
        [patent.id], world.uni.org, world.other_uni.org, kind="nonexclusive_license",
        license_term_months=24)).get_json()
    assert fresh["filing_overdue"] is False

    def overdue_ids():
        page = client.get(f"{URL}?filing_overdue=true", headers=world.staff.headers).get_json()
        return [item["id"] for item in page["items"]]

    assert overdue_ids() == [deal["id"]]
    assert deal_services.notify_overdue_filings() == 1
    assert deal_services.notify_overdue_filings() == 0  # told once
    told = session.scalars(sa.select(Notification.user_id).where(Notification.kind == "filing_overdue")).all()
    assert set(told) == {world.staff.user.id, world.admin.user.id}
    client.patch(f"{URL}/{deal['id']}", json={"registration_number": "BA-2026-7",
                                              "registered_on": clock.today().isoformat()},
                 headers=world.staff.headers)
    assert overdue_ids() == []


@pytest.mark.parametrize("on", [date(2026, 5, 31), date(2026, 3, 1), date(2026, 12, 3), date(2027, 2, 28)])
def test_the_overdue_filter_agrees_with_the_rule(on):
    cutoff = deal_services.overdue_cutoff(on)
    assert rules.filing_overdue("open_license", "recorded", cutoff, None, on)
    assert not rules.filing_overdue("open_license", "recorded", cutoff + timedelta(days=1), None, on)


# -- reading ------------------------------------------------------------------------------------------------

def test_each_party_sees_its_own_deals(client, world, buyer):
    patent = factories.patent(world.uni.org)
    deal = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer)).get_json()
    other = factories.patent(world.other_uni.org)
    post_deal(client, world.staff, factories.deal_body([other.id], world.other_uni.org, buyer, kind="equity"))
    for actor, expected in ((world.uni, [deal["id"]]), (world.enterprise, None), (world.staff, None)):
        page = client.get(URL, headers=actor.headers).get_json()
        ids = [item["id"] for item in page["items"]]
        assert ids == expected if expected else len(ids) == 2
    assert client.get(f"{URL}/{deal['id']}", headers=world.other_uni.headers).status_code == 404
    assert client.get(f"{URL}/{deal['id']}", headers=world.enterprise.headers).status_code == 200
    assert client.get(URL).status_code == 401


def test_filters(client, world, buyer):
    a, b = factories.patent(world.uni.org), factories.patent(world.uni.org)
    old = clock.today() - timedelta(days=40)
    first = post_deal(client, world.staff, factories.deal_body([a.id], world.uni.org, buyer,
                                                               signed_on=old.isoformat(), outlet_code="baoshan",
                                                               after_event=True)).get_json()
    second = post_deal(client, world.staff, factories.deal_body([b.id], world.uni.org, world.other_uni.org,
                                                                kind="nonexclusive_license", source="matching",
                                                                license_term_months=12)).get_json()

    def ids(query):
        response = client.get(f"{URL}?{query}", headers=world.staff.headers)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("kind=assignment") == [first["id"]]
    assert ids("source=matching") == [second["id"]]
    assert ids("outlet=baoshan") == [first["id"]]
    assert ids(f"organization_id={world.other_uni.org.id}") == [second["id"]]
    assert ids(f"patent_id={b.id}") == [second["id"]]
    assert ids(f"to={(old + timedelta(days=1)).isoformat()}") == [first["id"]]
    assert ids(f"from={clock.today().isoformat()}") == [second["id"]]
    assert ids("after_event=true") == [first["id"]]
    assert ids("status=recorded") == [second["id"], first["id"]]
    bad = client.get(f"{URL}?from=2026-05-01&to=2026-04-01", headers=world.staff.headers)
    assert bad.status_code == 422 and "from" in bad.get_json()["errors"]
    assert client.get(f"{URL}?kind=barter", headers=world.staff.headers).status_code == 422


def test_every_change_is_audited(client, world, buyer):
    patent = factories.patent(world.uni.org)
    deal = post_deal(client, world.staff, factories.deal_body([patent.id], world.uni.org, buyer)).get_json()
    client.patch(f"{URL}/{deal['id']}", json={"amount_received_fen": 1}, headers=world.staff.headers)
    client.post(f"{URL}/{deal['id']}/complete", headers=world.staff.headers)
    entries = client.get(f"/api/v1/audit?entity=deal&id={deal['id']}", headers=world.staff.headers).get_json()
    assert [entry["action"] for entry in entries["items"]][::-1] == ["record", "update", "complete"]


def test_recording_through_the_service_for_auctions_and_jobs(session, world):
    patent = factories.patent(world.uni.org)
    deal = factories.deal([patent.id], world.uni.org, world.enterprise.org, source="auction")
    assert deal.status == "recorded" and deal.recorded_by_user_id is None
    assert deal_services.complete_deal(SYSTEM, deal.id).status == "completed"
