"""Pledges (质押): registration and its refusals, the derived pledged flag (patent, listing, search), the
rule that binds assignment, licences and open licences without the pledgee's consent, release, and the
public register."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import clock, jobs
from app.audit.models import AuditLog
from app.pledges.models import Pledge

from .. import factories

URL = "/api/v1/pledges"


def body(patents, pledgor, **overrides):
    data = {"registration_number": f"Y2026310000{next(factories._serial)}",
            "pledgor_organization_id": pledgor.id, "pledgee_name": "长三角示范银行",
            "secured_amount_fen": 1_000_000_000, "starts_on": clock.today().isoformat(),
            "ends_on": (clock.today() + timedelta(days=365)).isoformat(), "patent_ids": [p.id for p in patents]}
    data.update(overrides)
    return data


def reason(response):
    return response.get_json().get("reason")


def test_registering_a_pledge_marks_its_patents(client, world):
    patent = factories.patent(world.uni.org)
    listing = factories.listing(patent, "listed")
    response = client.post(URL, json=body([patent], world.uni.org), headers=world.staff.headers)
    assert response.status_code == 201, response.json
    pledge = response.get_json()
    assert pledge["status"] == "registered" and pledge["patent_ids"] == [patent.id]
    assert pledge["registered_on"] == clock.today().isoformat() and pledge["consents"] == []
    assert client.get(f"/api/v1/patents/{patent.id}").get_json()["pledged"] is True
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["pledged"] is True
    jobs.run_due()
    # (The index outlives each test's rolled-back rows: look for this listing's own document.)
    found = client.get(f"/api/v1/search/listings?owner={world.uni.org.id}").get_json()["items"]
    assert [item["pledged"] for item in found if item["listing_id"] == listing.id] == [True]
    # The public register shows the pledge but not the secured amount.
    public = client.get(f"/api/v1/patents/{patent.id}/pledges")
    assert public.status_code == 200
    assert [p["registration_number"] for p in public.get_json()] == [pledge["registration_number"]]
    assert "secured_amount_fen" not in public.get_json()[0]
    assert factories.db.session.scalar(sa.select(AuditLog.action).where(AuditLog.entity == "pledge")) == "register"


@pytest.mark.parametrize("case, status, why, field", [
    ("not_owner", 422, "pledgor_not_owner", "pledgor_organization_id"),
    ("lapsed", 409, "patent_not_in_force", "patent_ids"),
    ("pending", 409, "patent_not_in_force", "patent_ids"),
    ("preserved", 409, "patent_preserved", "patent_ids"),
    ("beyond_expiry", 422, "pledge_term_beyond_expiry", "ends_on"),
    ("already", 409, "patent_already_pledged", "patent_ids"),
    ("duplicate_number", 409, "duplicate_registration", "registration_number"),
    ("missing_patent", 422, "patent_not_found", "patent_ids"),
    ("term_backwards", 422, "validation_error", "ends_on"),
])
def test_registration_refusals(client, world, case, status, why, field):
    patent = factories.patent(world.uni.org, **{
        "lapsed": {"legal_status": "lapsed"}, "pending": {"legal_status": "pending", "grant_date": None},
        "preserved": {"preserved": True}, "beyond_expiry": {"expires_on": clock.today() + timedelta(days=100)},
    }.get(case, {}))
    data = body([patent], world.other_uni.org if case == "not_owner" else world.uni.org)
    if case == "already":
        factories.pledge([patent], world.uni.org)
    if case == "duplicate_number":
        other = factories.patent(world.uni.org)
        data["registration_number"] = factories.pledge([other], world.uni.org).registration_number
    if case == "missing_patent":
        data["patent_ids"] = [patent.id, 999999]
    if case == "term_backwards":
        data["ends_on"] = (clock.today() - timedelta(days=1)).isoformat()
    before = factories.db.session.scalar(sa.select(sa.func.count()).select_from(Pledge))
    response = client.post(URL, json=data, headers=world.staff.headers)
    assert response.status_code == status and reason(response) == why, response.json
    assert field in response.get_json()["errors"]
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == before


def test_a_pledged_patent_is_not_assigned_licensed_or_declared_without_consent(client, world):
    patent = factories.patent(world.uni.org)
    pending = factories.listing(patent, "pending_review", mode="assignment")
    pledge = factories.pledge([patent], world.uni.org)
    buyer = world.enterprise.org

    approve = client.post(f"/api/v1/listings/{pending.id}/approve", headers=world.staff.headers)
    assert approve.status_code == 409 and reason(approve) == "patent_pledged"
    for kind in ("assignment", "equity", "nonexclusive_license", "exclusive_license"):
        extra = {"license_term_months": 6} if kind.endswith("license") else {}
        deal = client.post("/api/v1/deals", json=factories.deal_body([patent.id], world.uni.org, buyer, kind=kind,
                                                                      **extra),
                           headers={**world.staff.headers, **factories.deal_key()})
        assert deal.status_code == 409 and reason(deal) == "patent_pledged", kind
    declaration = client.post("/api/v1/listings", json={"patent_id": patent.id, "mode": "open_license",
                                                        "open_license": factories.OPEN_TERMS},
                              headers=world.uni.headers)
    assert declaration.status_code == 409 and reason(declaration) == "patent_pledged"

    # The pledgee consents to an assignment to this buyer: that deal, and only that one, may go ahead.
    consent = client.post(f"{URL}/{pledge.id}/consents",
                          json={"action": "assignment", "counterparty_organization_id": buyer.id, "note": "银行同意"},
                          headers=world.staff.headers)
    assert consent.status_code == 201 and consent.get_json()["action"] == "assignment"
    other = client.post("/api/v1/deals", json=factories.deal_body([patent.id], world.uni.org, world.other_uni.org),
                        headers={**world.staff.headers, **factories.deal_key()})
    assert reason(other) == "patent_pledged"
    ok = client.post("/api/v1/deals", json=factories.deal_body([patent.id], world.uni.org, buyer),
                     headers={**world.staff.headers, **factories.deal_key()})
    assert ok.status_code == 201, ok.json
    # A licence still needs a consent of its own.
    licence = client.post("/api/v1/deals", json=factories.deal_body([patent.id], world.uni.org, buyer,
                                                                     kind="nonexclusive_license",
                                                                     license_term_months=6),
                          headers={**world.staff.headers, **factories.deal_key()})
    assert reason(licence) == "patent_pledged"
    # An offer to anyone needs a consent to anyone.
    assert reason(client.post(f"/api/v1/listings/{pending.id}/approve", headers=world.staff.headers)) == \
        "patent_pledged"
    client.post(f"{URL}/{pledge.id}/consents", json={"action": "assignment"}, headers=world.staff.headers)
    assert client.post(f"/api/v1/listings/{pending.id}/approve", headers=world.staff.headers).status_code == 200


def test_release_frees_the_patent(client, world):
    patent = factories.patent(world.uni.org)
    pledge = factories.pledge([patent], world.uni.org)
    released = client.post(f"{URL}/{pledge.id}/release", json={"reason": "债务已清偿"}, headers=world.staff.headers)
    assert released.status_code == 200, released.json
    assert released.get_json()["status"] == "released" and released.get_json()["released_on"] == \
        clock.today().isoformat()
    assert client.get(f"/api/v1/patents/{patent.id}", headers=world.uni.headers).get_json()["pledged"] is False
    again = client.post(f"{URL}/{pledge.id}/release", json={}, headers=world.staff.headers)
    assert again.status_code == 409 and reason(again) == "pledge_released"
    late_consent = client.post(f"{URL}/{pledge.id}/consents", json={"action": "license"}, headers=world.staff.headers)
    assert late_consent.status_code == 409
    deal = client.post("/api/v1/deals", json=factories.deal_body([patent.id], world.uni.org, world.enterprise.org),
                       headers={**world.staff.headers, **factories.deal_key()})
    assert deal.status_code == 201
    # It may be pledged again, and the public register shows both.
    factories.pledge([patent], world.uni.org)
    history = client.get(f"/api/v1/patents/{patent.id}/pledges", headers=world.uni.headers).get_json()
    assert [p["status"] for p in history] == ["registered", "released"]
    future = client.post(f"{URL}/{pledge.id}/release",
                         json={"released_on": (clock.today() + timedelta(days=3)).isoformat()},
                         headers=world.staff.headers)
    assert future.status_code == 409  # already released


def test_only_staff_keep_the_register(client, world):
    patent = factories.patent(world.uni.org)
    for actor in (world.uni, world.enterprise):
        assert client.post(URL, json=body([patent], world.uni.org), headers=actor.headers).status_code == 403
        assert client.get(URL, headers=actor.headers).status_code == 403
    assert client.get(URL).status_code == 401
    pledge = factories.pledge([patent], world.uni.org)
    page = client.get(f"{URL}?status=registered&patent_id={patent.id}", headers=world.staff.headers).get_json()
    assert [item["id"] for item in page["items"]] == [pledge.id]
    assert page["items"][0]["secured_amount_fen"] == 500_000_000
    assert client.get(f"{URL}/{pledge.id}", headers=world.staff.headers).status_code == 200
    assert client.get(f"{URL}/999999", headers=world.staff.headers).status_code == 404
    # An unlisted patent's register is as private as the patent.
    assert client.get(f"/api/v1/patents/{patent.id}/pledges").status_code == 404
