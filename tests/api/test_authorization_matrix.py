"""Every role against every endpoint: the status each one gets."""

import io
import itertools

import pytest
import sqlalchemy as sa

from app.auth import administration
from app.auth.models import SYSTEM, AuthToken
from app.notifications.models import Notification
from app.patents.models import Listing

from .. import factories

ROLES = ("anonymous", "university", "other_university", "enterprise", "staff", "admin")
_codes = itertools.count(1)


def expect(anonymous, university, enterprise, staff, admin=None, other_university=None):
    return {"anonymous": anonymous, "university": university, "enterprise": enterprise, "staff": staff,
            "admin": staff if admin is None else admin,
            "other_university": university if other_university is None else other_university}


def _outlet_body(ctx):
    code = f"outlet-{next(_codes)}"
    return {"code": code, "name": code, "city": "宁波", "province": "浙江", "kind": "regional"}


def _patent_body(ctx):
    body = factories.patent_data(ctx["uni_org"])
    body.pop("owner_organization_id")
    body["filing_date"], body["grant_date"] = "2021-03-01", "2023-05-09"
    return body


# (method, path, body, expected statuses)
MATRIX = {
    "list outlets": ("GET", "/api/v1/outlets", None, expect(200, 200, 200, 200)),
    "create outlet": ("POST", "/api/v1/outlets", _outlet_body, expect(401, 403, 403, 201)),
    "patch outlet": ("PATCH", "/api/v1/outlets/baoshan", {"operator": "新运营方"}, expect(401, 403, 403, 200)),
    "list organisations": ("GET", "/api/v1/organizations", None, expect(200, 200, 200, 200)),
    "create organisation": ("POST", "/api/v1/organizations",
                            lambda ctx: {"name": f"机构{next(_codes)}", "kind": "institute"},
                            expect(401, 403, 403, 201)),
    "patch organisation": ("PATCH", "/api/v1/organizations/{uni_org_id}", {"region": "苏州"},
                           expect(401, 403, 403, 200)),
    "create user": ("POST", "/api/v1/users",
                    lambda ctx: {"email": f"u{next(_codes)}@x.cn", "password": "long-enough", "role": "enterprise",
                                 "organization_id": ctx["ent_org"].id},
                    expect(401, 403, 403, 201)),
    "me": ("GET", "/api/v1/auth/me", None, expect(401, 200, 200, 200)),
    "list patents": ("GET", "/api/v1/patents", None, expect(200, 200, 200, 200)),
    "create patent": ("POST", "/api/v1/patents", _patent_body, expect(401, 201, 403, 422, other_university=201)),
    "read unlisted patent": ("GET", "/api/v1/patents/{patent_id}", None,
                             expect(404, 200, 404, 200, other_university=404)),
    "patch patent": ("PATCH", "/api/v1/patents/{patent_id}", {"title": "新的名称"},
                     expect(401, 200, 403, 200, other_university=404)),
    # Staff name the owner organisation; without it that is 422.
    "import patents": ("POST", "/api/v1/patents/import", "upload", expect(401, 202, 403, 422)),
    "start import": ("POST", "/api/v1/imports", "upload", expect(401, 202, 403, 422)),
    "list imports": ("GET", "/api/v1/imports", None, expect(401, 200, 403, 200)),
    "read import": ("GET", "/api/v1/imports/{import_id}", None, expect(401, 200, 403, 200, other_university=404)),
    "import errors": ("GET", "/api/v1/imports/{import_id}/errors", None,
                      expect(401, 200, 403, 200, other_university=404)),
    "list listings": ("GET", "/api/v1/listings", None, expect(200, 200, 200, 200)),
    "create listing": ("POST", "/api/v1/listings",
                       lambda ctx: {"patent_id": ctx["patent_id"], "mode": "equity", "negotiable": True},
                       expect(401, 201, 403, 201, other_university=422)),
    "read draft listing": ("GET", "/api/v1/listings/{draft_id}", None,
                           expect(404, 200, 404, 200, other_university=404)),
    "patch draft listing": ("PATCH", "/api/v1/listings/{draft_id}", {"description": "新的说明"},
                            expect(401, 200, 403, 200, other_university=404)),
    "submit": ("POST", "/api/v1/listings/{draft_id}/submit", None, expect(401, 200, 403, 200, other_university=404)),
    "approve": ("POST", "/api/v1/listings/{pending_id}/approve", None, expect(401, 403, 403, 200)),
    "reject": ("POST", "/api/v1/listings/{pending_id}/reject", {"reason": "材料不全"}, expect(401, 403, 403, 200)),
    "withdraw": ("POST", "/api/v1/listings/{listed_id}/withdraw", None,
                 expect(401, 200, 403, 200, other_university=403)),
    "audit": ("GET", "/api/v1/audit?entity=listing", None, expect(401, 403, 403, 200)),
    "list demands": ("GET", "/api/v1/demands", None, expect(401, 200, 200, 200)),
    # Staff post for an enterprise and must name it; without organization_id that is 422.
    "create demand": ("POST", "/api/v1/demands", {"title": "需求", "description": "鱼塘喂料不均匀"},
                      expect(401, 403, 201, 422)),
    "read demand": ("GET", "/api/v1/demands/{demand_id}", None, expect(401, 200, 200, 200)),
    "patch demand": ("PATCH", "/api/v1/demands/{demand_id}", {"region": "湖州"}, expect(401, 403, 200, 200)),
    "close demand": ("POST", "/api/v1/demands/{demand_id}/close", {}, expect(401, 403, 200, 200)),
    "demand matches": ("GET", "/api/v1/demands/{demand_id}/matches", None, expect(401, 403, 200, 200)),
    "matching demands": ("GET", "/api/v1/listings/{listed_id}/matching-demands", None,
                         expect(401, 200, 403, 200, other_university=403)),
    # Only enterprises inquire; admin passes the role check but has no enterprise behind it.
    "create inquiry": ("POST", "/api/v1/listings/{listed2_id}/inquiries", {"message": "请报价"},
                       expect(401, 403, 201, 403)),
    "list inquiries": ("GET", "/api/v1/inquiries", None, expect(401, 200, 200, 200)),
    "read inquiry": ("GET", "/api/v1/inquiries/{inquiry_id}", None, expect(401, 200, 200, 200, other_university=404)),
    "reply inquiry": ("POST", "/api/v1/inquiries/{inquiry_id}/replies", {"message": "可以"},
                      expect(401, 201, 201, 201, other_university=404)),
    "patch inquiry": ("PATCH", "/api/v1/inquiries/{inquiry_id}", {"status": "closed"},
                      expect(401, 200, 200, 200, other_university=404)),
    "notifications": ("GET", "/api/v1/notifications", None, expect(401, 200, 200, 200)),
    # The notification is the university user's own: everybody else gets 404, as for a missing one.
    "read notification": ("POST", "/api/v1/notifications/{notification_id}/read", None,
                          expect(401, 200, 404, 404, other_university=404)),
    "list deals": ("GET", "/api/v1/deals", None, expect(401, 200, 200, 200)),
    "record deal": ("POST", "/api/v1/deals",
                    lambda ctx: factories.deal_body([ctx["patent_id"]], ctx["uni_org"], ctx["ent_org"]),
                    expect(401, 403, 403, 201)),
    "read deal": ("GET", "/api/v1/deals/{deal_id}", None, expect(401, 200, 200, 200, other_university=404)),
    "patch deal": ("PATCH", "/api/v1/deals/{deal_id}", {"note": "已付首款"}, expect(401, 403, 403, 200)),
    "complete deal": ("POST", "/api/v1/deals/{deal_id}/complete", None, expect(401, 403, 403, 200)),
    "cancel deal": ("POST", "/api/v1/deals/{deal_id}/cancel", {"reason": "合同解除"}, expect(401, 403, 403, 200)),
    # Only enterprises take open licences; admin passes the role check but has no enterprise behind it.
    "accept open licence": ("POST", "/api/v1/listings/{open_id}/open-license/accept", None,
                            expect(401, 403, 201, 403)),
    "withdraw open licence": ("POST", "/api/v1/listings/{open_id}/open-license/withdraw", {},
                              expect(401, 200, 403, 200, other_university=403)),
    "list pledges": ("GET", "/api/v1/pledges", None, expect(401, 403, 403, 200)),
    "register pledge": ("POST", "/api/v1/pledges",
                        lambda ctx: {"registration_number": f"Y{next(_codes)}", "pledgor_organization_id":
                                     ctx["uni_org_id"], "pledgee_name": "银行", "secured_amount_fen": 100,
                                     "starts_on": "2026-01-01", "ends_on": "2027-01-01",
                                     "patent_ids": [ctx["patent_id"]]},
                        expect(401, 403, 403, 201)),
    "read pledge": ("GET", "/api/v1/pledges/{pledge_id}", None, expect(401, 403, 403, 200)),
    "release pledge": ("POST", "/api/v1/pledges/{pledge_id}/release", {}, expect(401, 403, 403, 200)),
    "consent to pledged action": ("POST", "/api/v1/pledges/{pledge_id}/consents", {"action": "license"},
                                  expect(401, 403, 403, 201)),
    "patent pledges": ("GET", "/api/v1/patents/{listed_patent_id}/pledges", None, expect(200, 200, 200, 200)),
    "change password": ("POST", "/api/v1/auth/password",
                        {"current_password": factories.PASSWORD, "new_password": "a-brand-new-secret-7"},
                        expect(401, 204, 204, 204)),
    "list own sessions": ("GET", "/api/v1/auth/tokens", None, expect(401, 200, 200, 200)),
    "end a session": ("DELETE", "/api/v1/auth/tokens/{uni_token_id}", None,
                      expect(401, 204, 404, 404, other_university=404)),
    "list users": ("GET", "/api/v1/users", None, expect(401, 403, 403, 200)),
    "read user": ("GET", "/api/v1/users/{ent_user_id}", None, expect(401, 403, 403, 200)),
    "deactivate user": ("PATCH", "/api/v1/users/{ent_user_id}", {"is_active": False}, expect(401, 403, 403, 200)),
    "change role": ("PATCH", "/api/v1/users/{staff_user_id}", {"role": "admin"}, expect(401, 403, 403, 403, admin=200)),
    "issue reset code": ("POST", "/api/v1/users/{ent_user_id}/reset-code", None, expect(401, 403, 403, 201)),
    "reset password": ("POST", "/api/v1/auth/reset",
                       lambda ctx: {"email": ctx["reset_email"], "code": ctx["reset_code"],
                                    "new_password": "a-brand-new-secret-7"},
                       expect(204, 204, 204, 204)),
    # Members of the organisation and staff invite; another organisation's member sees nothing there.
    "invite colleague": ("POST", "/api/v1/organizations/{uni_org_id}/invitations", {},
                         expect(401, 201, 404, 201, other_university=404)),
    "organisation invitations": ("GET", "/api/v1/organizations/{uni_org_id}/invitations", None,
                                 expect(401, 200, 404, 200, other_university=404)),
    "all invitations": ("GET", "/api/v1/invitations", None, expect(401, 403, 403, 200)),
    "revoke invitation": ("DELETE", "/api/v1/invitations/{invitation_id}", None,
                          expect(401, 204, 404, 204, other_university=404)),
}
# Calls that need an Idempotency-Key header.
KEYED = {"record deal", "accept open licence"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(MATRIX))
def test_authorization_matrix(client, world, name, role):
    method, path, body, expected = MATRIX[name]
    patent = factories.patent(world.uni.org)
    ctx = {"uni_org": world.uni.org, "uni_org_id": world.uni.org.id, "ent_org": world.enterprise.org,
           "patent_id": patent.id,
           "draft_id": factories.listing(factories.patent(world.uni.org), "draft").id,
           "pending_id": factories.listing(factories.patent(world.uni.org), "pending_review").id,
           "listed_id": factories.listing(factories.patent(world.uni.org), "listed").id,
           "listed2_id": factories.listing(factories.patent(world.uni.org), "listed").id,
           "demand_id": factories.demand(world.enterprise.user).id}
    ctx["inquiry_id"] = factories.inquiry(world.enterprise.user, factories.listing(
        factories.patent(world.uni.org), "listed")).id
    ctx["import_id"] = factories.import_job(world.uni.user, [{"app_number": None, "title": "x"}]).id
    ctx["uni_token_id"] = factories.db.session.scalar(sa.select(AuthToken.id).where(
        AuthToken.user_id == world.uni.user.id))
    ctx["ent_user_id"], ctx["staff_user_id"] = world.enterprise.user.id, world.staff.user.id
    reset_user = factories.user("university", world.uni.org)
    ctx["reset_email"], ctx["reset_code"] = reset_user.email, administration.issue_reset_code(
        SYSTEM, reset_user.id)[0]
    ctx["invitation_id"] = administration.create_invitation(SYSTEM, world.uni.org.id)[1].id
    ctx["deal_id"] = factories.deal([factories.patent(world.uni.org).id], world.uni.org, world.enterprise.org).id
    ctx["open_id"] = factories.open_license_listing(factories.patent(world.uni.org)).id
    ctx["pledge_id"] = factories.pledge([factories.patent(world.uni.org)], world.uni.org).id
    ctx["listed_patent_id"] = factories.db.session.get(Listing, ctx["listed_id"]).patent_id
    ctx["notification_id"] = factories.db.session.scalar(
        sa.select(Notification.id).where(Notification.user_id == world.uni.user.id))
    headers = {"other_university": world.other_uni.headers}.get(role) or world.by_role(role)
    kwargs = {"headers": {**headers, **factories.deal_key()} if name in KEYED else headers}
    if body == "upload":
        kwargs["data"] = {"file": (io.BytesIO(b'{"app_number": null, "title": "x"}\n'), "x.jsonl")}
        kwargs["content_type"] = "multipart/form-data"
    elif body is not None:
        kwargs["json"] = body(ctx) if callable(body) else body
    response = client.open(path.format(**ctx), method=method, **kwargs)
    assert response.status_code == expected[role], (name, role, response.get_json())
