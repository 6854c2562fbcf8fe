"""Open licences (开放许可): instant grants recorded as deals, once per organisation while its licence runs,
with the declaration's refusals checked again at acceptance; withdrawal stops new grants only."""

from datetime import date, timedelta

import sqlalchemy as sa

from app import clock
from app.deals import rules
from app.deals.models import Deal

from .. import factories


def accept(client, actor, listing_id, key=None):
    return client.post(f"/api/v1/listings/{listing_id}/open-license/accept",
                       headers={**actor.headers, **(key or factories.deal_key())})


def reason(response):
    return response.get_json().get("reason")


def test_an_enterprise_takes_the_licence_at_once(client, world):
    patent = factories.patent(world.uni.org)
    listing = factories.open_license_listing(patent, fee_fen=3_000_000, term_months=24)
    key = factories.deal_key()
    response = accept(client, world.enterprise, listing.id, key)
    assert response.status_code == 201, response.json
    deal = response.get_json()["deal"]
    assert deal["kind"] == "open_license" and deal["source"] == "open_license"
    assert deal["amount_fen"] == 3_000_000 and deal["listing_id"] == listing.id
    assert deal["seller_organization_id"] == world.uni.org.id
    assert deal["buyer_organization_id"] == world.enterprise.org.id
    assert deal["license_starts_on"] == clock.today().isoformat()
    assert deal["license_ends_on"] == rules.licence_end(clock.today(), 24).isoformat()
    assert deal["filing_due_on"] is not None
    # The declaration stays on the shelf for the next enterprise.
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"
    # A retry with the same key is the same grant.
    again = accept(client, world.enterprise, listing.id, key)
    assert again.status_code == 200 and again.get_json() == response.get_json()
    # A second acceptance while the licence runs is refused.
    second = accept(client, world.enterprise, listing.id)
    assert second.status_code == 409 and reason(second) == "already_licensed"
    # Staff recording the same grant by hand are refused too.
    by_hand = client.post("/api/v1/deals", json=factories.deal_body(
        [patent.id], world.uni.org, world.enterprise.org, kind="open_license", source="open_license",
        listing_id=listing.id, license_term_months=12), headers={**world.staff.headers, **factories.deal_key()})
    assert by_hand.status_code == 409 and reason(by_hand) == "already_licensed"
    other = factories.organization("苏州某企业", "enterprise")
    other_actor = factories.Actor(factories.user("enterprise", other), None, other)
    other_actor.token = factories.token_for(other_actor.user)
    assert accept(client, other_actor, listing.id).status_code == 201
    assert factories.db.session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 2
    # The owner and the buyer both see the grant among their deals.
    for actor in (world.uni, world.enterprise):
        assert client.get("/api/v1/deals?kind=open_license", headers=actor.headers).get_json()["total"] >= 1


def test_after_the_licence_ends_it_may_be_taken_again(client, world):
    listing = factories.open_license_listing(factories.patent(world.uni.org), term_months=12)
    assert accept(client, world.enterprise, listing.id).status_code == 201
    with clock.frozen(clock.now() + timedelta(days=400)):
        assert accept(client, world.enterprise.renewed(), listing.id).status_code == 201


def test_only_a_declaration_on_the_shelf_can_be_accepted(client, world):
    ordinary = factories.listing(factories.patent(world.uni.org), "listed", mode="nonexclusive_license")
    response = accept(client, world.enterprise, ordinary.id)
    assert response.status_code == 409 and reason(response) == "open_license_not_available"
    draft = factories.listing(factories.patent(world.uni.org), "draft", mode="open_license", price_fen=None,
                              open_license=factories.OPEN_TERMS)
    assert accept(client, world.enterprise, draft.id).status_code == 404  # unpublished: not visible
    assert accept(client, world.enterprise, 999999).status_code == 404


def test_only_enterprises_accept(client, world):
    listing = factories.open_license_listing(factories.patent(world.uni.org))
    assert accept(client, world.uni, listing.id).status_code == 403
    assert accept(client, world.staff, listing.id).status_code == 403
    admin = accept(client, world.admin, listing.id)
    assert admin.status_code == 403 and reason(admin) == "enterprise_only"
    no_key = client.post(f"/api/v1/listings/{listing.id}/open-license/accept", headers=world.enterprise.headers)
    assert no_key.status_code == 400 and reason(no_key) == "idempotency_key_required"


def test_the_refusals_are_checked_again_at_acceptance(client, world, session):
    preserved = factories.open_license_listing(factories.patent(world.uni.org))
    client.patch(f"/api/v1/patents/{preserved.patent_id}", json={"preserved": True}, headers=world.staff.headers)
    response = accept(client, world.enterprise, preserved.id)
    assert response.status_code == 409 and reason(response) == "patent_preserved"

    pledged_patent = factories.patent(world.uni.org)
    pledged = factories.open_license_listing(pledged_patent)
    pledge = factories.pledge([pledged_patent], world.uni.org)
    response = accept(client, world.enterprise, pledged.id)
    assert response.status_code == 409 and reason(response) == "patent_pledged"
    # A consent for another counterparty does not help; one for this enterprise (or anyone) does.
    consent = client.post(f"/api/v1/pledges/{pledge.id}/consents",
                          json={"action": "open_license", "counterparty_organization_id": world.other_uni.org.id},
                          headers=world.staff.headers)
    assert consent.status_code == 201
    assert reason(accept(client, world.enterprise, pledged.id)) == "patent_pledged"
    client.post(f"/api/v1/pledges/{pledge.id}/consents", json={"action": "open_license"}, headers=world.staff.headers)
    assert accept(client, world.enterprise, pledged.id).status_code == 201


def test_a_term_that_would_outlive_the_patent_is_refused(client, world):
    patent = factories.patent(world.uni.org, expires_on=clock.today() + timedelta(days=400))
    listing = factories.open_license_listing(patent, term_months=12)
    with clock.frozen(clock.now() + timedelta(days=60)):
        response = accept(client, world.enterprise.renewed(), listing.id)
    assert response.status_code == 422 and reason(response) == "license_term_beyond_expiry"


def test_negotiated_ordinary_licences_stand_beside_the_declaration(client, world):
    patent = factories.patent(world.uni.org)
    listing = factories.open_license_listing(patent)
    factories.deal([patent.id], world.uni.org, world.other_uni.org, kind="nonexclusive_license",
                   license_term_months=12)
    assert accept(client, world.enterprise, listing.id).status_code == 201


def test_withdrawal_stops_new_grants_and_keeps_the_old(client, world):
    listing = factories.open_license_listing(factories.patent(world.uni.org))
    granted = accept(client, world.enterprise, listing.id).get_json()["deal"]
    url = f"/api/v1/listings/{listing.id}/open-license/withdraw"
    assert client.post(url, json={}, headers=world.other_uni.headers).status_code == 403
    assert client.post(url, json={}, headers=world.enterprise.headers).status_code == 403
    withdrawn = client.post(url, json={"reason": "转为独占许可"}, headers=world.uni.headers)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    other = factories.organization("宁波某企业", "enterprise")
    actor = factories.Actor(factories.user("enterprise", other), None, other)
    actor.token = factories.token_for(actor.user)
    assert accept(client, actor, listing.id).status_code == 404  # off the shelf
    deal = client.get(f"/api/v1/deals/{granted['id']}", headers=world.enterprise.headers).get_json()
    assert deal["status"] == "recorded" and date.fromisoformat(deal["license_ends_on"]) > clock.today()
    again = client.post(url, json={}, headers=world.uni.headers)
    assert again.status_code == 409
    not_open = factories.listing(factories.patent(world.uni.org), "listed")
    refused = client.post(f"/api/v1/listings/{not_open.id}/open-license/withdraw", json={}, headers=world.uni.headers)
    assert refused.status_code == 409 and reason(refused) == "not_open_license"
