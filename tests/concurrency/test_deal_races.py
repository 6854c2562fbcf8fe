"""Deals under contention, with truly concurrent requests (see conftest): retries with one key record one
deal, open-licence grants to many enterprises all succeed, and an assignment completed while a licence is
recorded ends with exactly one of them applied."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from app.deals.models import Deal
from app.extensions import db
from app.idempotency.models import IdempotencyKey
from app.patents.models import Listing, Patent

from .. import factories
from .conftest import concurrently, race

N = 20


def test_concurrent_retries_with_one_key_record_one_deal(live, live_world):
    patent_id = factories.patent(live_world.uni.org).id
    body = factories.deal_body([patent_id], live_world.uni.org, live_world.enterprise.org)
    headers = {**live_world.staff.headers, **factories.deal_key()}

    def call(_i):
        with live.test_client() as client:
            response = client.post("/api/v1/deals", json=body, headers=headers)
            return response.status_code, response.get_json()

    results = concurrently(N, call)
    codes = Counter(code for code, _ in results)
    assert codes == {201: 1, 200: N - 1}, results
    assert len({payload["id"] for _, payload in results}) == 1
    assert all(payload == results[0][1] for _, payload in results)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1


def test_concurrent_open_licence_acceptances_each_succeed_once(live, live_world):
    listing_id = factories.open_license_listing(factories.patent(live_world.uni.org)).id
    enterprises = []
    for i in range(N):
        org = factories.organization(f"并发企业{i}", "enterprise")
        enterprises.append(factories.token_for(factories.user("enterprise", org)))

    def call(i):
        headers = {"Authorization": f"Bearer {enterprises[i]}", **factories.deal_key()}
        with live.test_client() as client:
            response = client.post(f"/api/v1/listings/{listing_id}/open-license/accept", headers=headers)
            return response.status_code, (response.get_json() or {}).get("reason")

    results = concurrently(N, call)
    assert [code for code, _ in results] == [201] * N, results
    buyers = db.session.scalars(sa.select(Deal.buyer_organization_id).where(Deal.kind == "open_license")).all()
    assert len(buyers) == N and len(set(buyers)) == N
    # And the same enterprise accepting N times at once (different keys) gets exactly one licence.
    headers = {"Authorization": f"Bearer {enterprises[0]}"}
    listing2 = factories.open_license_listing(factories.patent(live_world.uni.org)).id

    def again(_i):
        with live.test_client() as client:
            response = client.post(f"/api/v1/listings/{listing2}/open-license/accept",
                                   headers={**headers, **factories.deal_key()})
            return response.status_code, (response.get_json() or {}).get("reason")

    results = concurrently(N, again)
    assert sorted(code for code, _ in results) == [201] + [409] * (N - 1), results
    assert {why for code, why in results if code == 409} == {"already_licensed"}


def test_an_assignment_completed_while_a_licence_is_recorded(live, live_world):
    """Whichever request locks the patent first wins; the other is refused with its reason."""
    outcomes = Counter()
    staff = live_world.staff.headers
    for round_ in range(6):
        patent = factories.patent(live_world.uni.org)
        listing = factories.listing(patent, "listed")
        assignment = factories.deal([patent.id], live_world.uni.org, live_world.enterprise.org, listing_id=listing.id)
        licence = factories.deal_body([patent.id], live_world.uni.org, live_world.other_uni.org,
                                      kind="exclusive_license", license_term_months=12)

        def call(i, patent_id=patent.id, deal_id=assignment.id, licence=licence):
            with live.test_client() as client:
                if i % 2 == 0:
                    response = client.post(f"/api/v1/deals/{deal_id}/complete", headers=staff)
                else:
                    response = client.post("/api/v1/deals", json=licence, headers={**staff, **factories.deal_key()})
                return response.status_code, (response.get_json() or {}).get("reason")

        completed, licensed = concurrently(2, call)
        db.session.expire_all()
        owner = db.session.get(Patent, patent.id).owner_organization_id
        licences = db.session.scalar(sa.select(sa.func.count()).select_from(Deal).where(
            Deal.kind == "exclusive_license", Deal.patent_rows.any(patent_id=patent.id)))
        if completed[0] == 200:
            assert licensed == (422, "seller_not_owner"), (round_, completed, licensed)
            assert owner == live_world.enterprise.org.id and licences == 0
            assert db.session.get(Listing, listing.id).status == "sold"
            outcomes["assignment"] += 1
        else:
            assert completed == (409, "exclusive_license_running"), (round_, completed, licensed)
            assert licensed[0] == 201
            assert owner == live_world.uni.org.id and licences == 1
            assert db.session.get(Deal, assignment.id).status == "recorded"
            outcomes["licence"] += 1
    assert sum(outcomes.values()) == 6


def test_racing_pledge_registrations_pledge_once(live, live_world):
    patent_id, pledgor_id = factories.patent(live_world.uni.org).id, live_world.uni.org.id

    def body(i):
        return {"registration_number": f"Y-RACE-{i}", "pledgor_organization_id": pledgor_id,
                "pledgee_name": "银行", "secured_amount_fen": 100, "starts_on": "2026-01-01",
                "ends_on": "2027-01-01", "patent_ids": [patent_id]}

    results = race(live, 10, "POST", "/api/v1/pledges", live_world.staff.headers, body)
    assert sorted(code for code, _ in results) == [201] + [409] * 9, results
    assert {why for code, why in results if code == 409} == {"patent_already_pledged"}
