"""Inquiries (意向) from first message to negotiation and close, and the notifications they send."""

import pytest

from app.auth.models import SYSTEM
from app.notifications import services as notifications
from app.patents import listings as listing_services

from .. import factories


def send(client, actor, listing_id, **body):
    return client.post(f"/api/v1/listings/{listing_id}/inquiries", json={"message": "可以先试用吗？", **body},
                       headers=actor.headers)


def inbox(client, actor, query=""):
    response = client.get(f"/api/v1/notifications{query}", headers=actor.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_whole_inquiry_flow(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "listed")
    demand = factories.demand(world.enterprise.user)
    created = send(client, world.enterprise, listing.id, demand_id=demand.id)
    assert created.status_code == 201, created.get_json()
    inquiry = created.get_json()
    assert inquiry["status"] == "open" and inquiry["demand_id"] == demand.id
    assert inquiry["buyer"]["id"] == world.enterprise.org.id and inquiry["seller"]["id"] == world.uni.org.id
    iid = inquiry["id"]

    received = inbox(client, world.uni)
    assert received["unread_count"] == 1 and received["items"][0]["kind"] == "inquiry_received"
    assert received["items"][0]["data"] == {"inquiry_id": iid, "listing_id": listing.id}

    # Negotiating needs an answer first.
    early = client.patch(f"/api/v1/inquiries/{iid}", json={"status": "negotiating"}, headers=world.enterprise.headers)
    assert early.status_code == 409 and early.get_json()["reason"] == "invalid_transition"

    reply = client.post(f"/api/v1/inquiries/{iid}/replies", json={"message": "可以，欢迎来校洽谈。"},
                        headers=world.uni.headers)
    assert reply.status_code == 201 and reply.get_json()["author_organization_id"] == world.uni.org.id
    thread = client.get(f"/api/v1/inquiries/{iid}", headers=world.enterprise.headers).get_json()
    assert thread["status"] == "replied" and [r["message"] for r in thread["replies"]] == ["可以，欢迎来校洽谈。"]
    assert inbox(client, world.enterprise, "?kind=inquiry_replied")["total"] == 1

    negotiating = client.patch(f"/api/v1/inquiries/{iid}", json={"status": "negotiating"},
                               headers=world.enterprise.headers)
    assert negotiating.get_json()["status"] == "negotiating"
    # An assignment is negotiated with one buyer at a time: the listing leaves the shelf meanwhile.
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "in_negotiation"
    assert inbox(client, world.uni, "?kind=inquiry_status")["items"][0]["data"]["status"] == "negotiating"

    closed = client.patch(f"/api/v1/inquiries/{iid}", json={"status": "closed", "reason": "价格未谈拢"},
                          headers=world.uni.headers)
    assert closed.get_json()["status"] == "closed" and closed.get_json()["closed_at"]
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"
    late = client.post(f"/api/v1/inquiries/{iid}/replies", json={"message": "再谈谈？"},
                       headers=world.enterprise.headers)
    assert late.status_code == 409 and late.get_json()["reason"] == "inquiry_closed"
    audit = client.get(f"/api/v1/audit?entity=inquiry&id={iid}", headers=world.staff.headers).get_json()
    assert [e["action"] for e in reversed(audit["items"])] == ["create", "reply", "negotiating", "closed"]


def test_a_nonexclusive_licence_stays_on_the_shelf_during_negotiations(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "listed", mode="nonexclusive_license")
    inquiry = factories.inquiry(world.enterprise.user, listing)
    client.post(f"/api/v1/inquiries/{inquiry.id}/replies", json={"message": "好的"}, headers=world.uni.headers)
    client.patch(f"/api/v1/inquiries/{inquiry.id}", json={"status": "negotiating"}, headers=world.uni.headers)
    assert client.get(f"/api/v1/listings/{listing.id}").get_json()["status"] == "listed"


def test_inquiry_rules(client, world):
    listed = factories.listing(factories.patent(world.uni.org), "listed")
    draft = factories.listing(factories.patent(world.uni.org), "draft")
    auctioned = factories.listing(factories.patent(world.uni.org), "listed")
    listing_services.move(SYSTEM, auctioned, "put_in_auction", None)
    factories.db.session.commit()
    rival_org = factories.organization(kind="enterprise")
    rival_demand = factories.demand(factories.user("enterprise", rival_org))

    assert send(client, world.enterprise, draft.id).status_code == 404
    in_auction = send(client, world.enterprise, auctioned.id)
    assert in_auction.status_code == 409 and in_auction.get_json()["reason"] == "listing_in_auction"
    foreign = send(client, world.enterprise, listed.id, demand_id=rival_demand.id)
    assert foreign.status_code == 422 and "demand_id" in foreign.get_json()["errors"]
    assert send(client, world.enterprise, listed.id, message="").status_code == 422
    assert send(client, world.enterprise, listed.id, price=1).status_code == 422
    assert send(client, world.enterprise, listed.id).status_code == 201
    twice = send(client, world.enterprise, listed.id)
    assert twice.status_code == 409 and twice.get_json()["reason"] == "inquiry_exists"
    assert send(client, world.uni, listed.id).status_code == 403
    bad_status = client.patch("/api/v1/inquiries/1", json={"status": "replied"}, headers=world.staff.headers)
    assert bad_status.status_code == 422 and "status" in bad_status.get_json()["errors"]


def test_each_side_lists_its_own_inquiries_and_staff_see_all(client, world):
    mine = factories.listing(factories.patent(world.uni.org), "listed")
    theirs = factories.listing(factories.patent(world.other_uni.org), "listed")
    first = factories.inquiry(world.enterprise.user, mine)
    second = factories.inquiry(world.enterprise.user, theirs)

    def ids(actor, query=""):
        response = client.get(f"/api/v1/inquiries{query}", headers=actor.headers)
        assert response.status_code == 200, response.get_json()
        return sorted(item["id"] for item in response.get_json()["items"])

    assert ids(world.enterprise) == sorted([first.id, second.id])
    assert ids(world.uni) == [first.id] and ids(world.other_uni) == [second.id]
    assert ids(world.staff) == sorted([first.id, second.id])
    assert ids(world.staff, f"?listing_id={theirs.id}") == [second.id]
    assert client.get(f"/api/v1/inquiries/{first.id}", headers=world.other_uni.headers).status_code == 404
    assert client.get(f"/api/v1/inquiries/{first.id}", headers=world.staff.headers).status_code == 200
    # Staff follow the thread and may step in: both sides hear of it.
    client.post(f"/api/v1/inquiries/{first.id}/replies", json={"message": "交易中心可协助评估。"},
                headers=world.staff.headers)
    assert inbox(client, world.enterprise, "?kind=inquiry_replied")["total"] == 1
    assert inbox(client, world.uni, "?kind=inquiry_replied")["total"] == 1
    assert client.get(f"/api/v1/inquiries/{first.id}", headers=world.uni.headers).get_json()["status"] == "open"


def test_notifications_are_private_and_can_be_marked_read(client, world):
    listing = factories.listing(factories.patent(world.uni.org), "listed")
    factories.inquiry(world.enterprise.user, listing)
    items = inbox(client, world.uni)["items"]
    nid = items[0]["id"]
    assert items[0]["read"] is False
    assert client.post(f"/api/v1/notifications/{nid}/read", headers=world.enterprise.headers).status_code == 404
    read = client.post(f"/api/v1/notifications/{nid}/read", headers=world.uni.headers)
    assert read.status_code == 200 and read.get_json()["read"] is True and read.get_json()["read_at"]
    again = client.post(f"/api/v1/notifications/{nid}/read", headers=world.uni.headers)
    assert again.get_json()["read_at"] == read.get_json()["read_at"]
    body = inbox(client, world.uni, "?unread=true")
    assert body["total"] == 0 and body["unread_count"] == 0
    assert inbox(client, world.uni, "?unread=false")["total"] == 1
    assert client.get("/api/v1/notifications?kind=spam", headers=world.uni.headers).status_code == 422
    assert client.get("/api/v1/notifications").status_code == 401


@pytest.mark.parametrize("hook", ["outbid", "lot_won", "deal_recorded"])
def test_the_auction_and_deal_hooks_notify_an_organisation_once(client, world, hook):
    org_id = world.enterprise.org.id
    for _ in range(2):
        if hook == "outbid":
            notifications.notify_outbid(org_id, lot_id=7, amount_fen=1_000_000, bidder_number="A012")
        elif hook == "lot_won":
            notifications.notify_lot_won(org_id, lot_id=7, amount_fen=1_000_000, deal_id=3)
        else:
            notifications.notify_deal_recorded([org_id, world.uni.org.id], deal_id=3, kind="assignment",
                                               amount_fen=1_000_000)
    factories.db.session.commit()
    got = inbox(client, world.enterprise, f"?kind={hook}")
    # Outbid news repeats with each new higher bid; a won lot or a recorded deal is told once.
    assert got["total"] == (2 if hook == "outbid" else 1)
    assert got["items"][0]["data"]["amount_fen"] == 1_000_000
    if hook == "deal_recorded":
        assert inbox(client, world.uni, "?kind=deal_recorded")["total"] == 1
    with pytest.raises(ValueError):
        notifications.notify([world.uni.user.id], "gossip", "no such kind")
