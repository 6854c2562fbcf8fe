import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate, validates_schema

from app.api import Blueprint, Fen, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_user, require_role
from app.fields import Date, Id, Text
from app.patents.schemas import OwnerOut

from . import services
from .models import CONSENT_ACTIONS, PLEDGE_STATUSES

blp = Blueprint("pledges", __name__, url_prefix="/api/v1", description="Pledges (质押) of patents, their consents "
                "and release; a patent's pledges are public")


class ConsentOut(Schema):
    id = Id()
    action = Text(metadata={"enum": list(CONSENT_ACTIONS)})
    counterparty_organization_id = Id(allow_none=True, metadata={"description": "null: any counterparty"})
    note = Text(multiline=True, allow_none=True)
    created_at = ma.fields.DateTime()


class PledgePublicOut(Schema):
    id = Id()
    registration_number = Text()
    pledgor_organization_id = Id()
    pledgor = ma.fields.Nested(OwnerOut)
    pledgee_name = Text()
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    status = Text(metadata={"enum": list(PLEDGE_STATUSES)})
    registered_on = ma.fields.Date()
    released_on = ma.fields.Date(allow_none=True)
    patent_ids = ma.fields.List(Id())


class PledgeOut(PledgePublicOut):
    pledgee_organization_id = Id(allow_none=True)
    secured_amount_fen = Fen()
    release_reason = Text(multiline=True, allow_none=True)
    consents = ma.fields.List(ma.fields.Nested(ConsentOut))
    created_at = ma.fields.DateTime()


class PledgeIn(Schema):
    registration_number = Text(required=True, validate=validate.Length(min=1, max=64))
    pledgor_organization_id = Id(required=True, metadata={"description": "the patentee on record"})
    pledgee_name = Text(required=True, validate=validate.Length(min=2, max=200))
    pledgee_organization_id = Id(allow_none=True)
    secured_amount_fen = Fen(required=True, validate=validate.Range(min=1, max=10**14))
    starts_on = Date(required=True, metadata={"description": "the debt term"})
    ends_on = Date(required=True)
    registered_on = Date(allow_none=True, metadata={"description": "default: today"})
    patent_ids = ma.fields.List(Id(), required=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def _term(self, data, **kwargs):
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise ma.ValidationError("the debt term ends before it starts", "ends_on")


class ReleaseIn(Schema):
    released_on = Date(allow_none=True, metadata={"description": "default: today"})
    reason = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))


class ConsentIn(Schema):
    action = Text(required=True, validate=validate.OneOf(CONSENT_ACTIONS))
    counterparty_organization_id = Id(allow_none=True, metadata={"description": "omit: any counterparty"})
    note = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))


class PledgeQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(PLEDGE_STATUSES))
    pledgor_organization_id = Id()
    patent_id = Id()
    registration_number = Text(validate=validate.Length(max=64))


@blp.route("/pledges")
class Pledges(MethodView):
    @blp.arguments(PledgeQueryArgs, location="query")
    @blp.response(200, page_schema(PledgeOut, "PledgePage"))
    @require_role("staff")
    def get(self, args):
        """List pledges."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(services.pledges_query(args), page, size)

    @blp.arguments(PledgeIn)
    @blp.response(201, PledgeOut)
    @blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Register a pledge of patents."""
        return services.register_pledge(current_user(), data)


@blp.route("/pledges/<int:pledge_id>")
class PledgeItem(MethodView):
    @blp.response(200, PledgeOut)
    @blp.errors(404)
    @require_role("staff")
    def get(self, pledge_id):
        """One pledge."""
        return services.get_pledge(pledge_id)


@blp.route("/pledges/<int:pledge_id>/release")
class PledgeRelease(MethodView):
    @blp.arguments(ReleaseIn)
    @blp.response(200, PledgeOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, pledge_id):
        """Release (注销) a pledge."""
        return services.release_pledge(current_user(), pledge_id, data)


@blp.route("/pledges/<int:pledge_id>/consents")
class PledgeConsents(MethodView):
    @blp.arguments(ConsentIn)
    @blp.response(201, ConsentOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, pledge_id):
        """Record the pledgee's consent to an action, with a counterparty or any."""
        return services.add_consent(current_user(), pledge_id, data)


@blp.route("/patents/<int:patent_id>/pledges")
class PatentPledges(MethodView):
    @blp.response(200, PledgePublicOut(many=True))
    @blp.errors(404)
    @allow_anonymous
    def get(self, patent_id):
        """A patent's pledges, standing and released (public)."""
        return services.pledges_of_patent(current_user(), patent_id)
