import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from app.api import Blueprint, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import current_user, require_role
from app.fields import Id, Text
from app.patents.schemas import OwnerOut

from . import services
from .models import INQUIRY_STATUSES

blp = Blueprint("inquiries", __name__, url_prefix="/api/v1",
                description="Inquiries (意向) between enterprises and patent owners, followed by staff")

MESSAGE = validate.Length(min=1, max=5000)


class ReplyOut(Schema):
    id = Id()
    author_user_id = Id(allow_none=True)
    author_organization_id = Id(allow_none=True)
    message = Text(multiline=True)
    created_at = ma.fields.DateTime()


class InquiryOut(Schema):
    id = Id()
    listing_id = Id()
    demand_id = Id(allow_none=True)
    buyer = ma.fields.Nested(OwnerOut)
    seller = ma.fields.Nested(OwnerOut)
    message = Text(multiline=True)
    status = Text(metadata={"enum": list(INQUIRY_STATUSES)})
    replies = ma.fields.List(ma.fields.Nested(ReplyOut))
    last_message_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class InquiryIn(Schema):
    message = Text(multiline=True, required=True, validate=MESSAGE)
    demand_id = Id(allow_none=True, metadata={"description": "one of your demands it answers"})


class ReplyIn(Schema):
    message = Text(multiline=True, required=True, validate=MESSAGE)


class InquiryPatch(Schema):
    status = Text(required=True, validate=validate.OneOf(["negotiating", "closed"]),
                              metadata={"description": "replied -> negotiating; any open state -> closed"})
    reason = Text(multiline=True, allow_none=True, validate=validate.Length(max=500))


class InquiryQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(INQUIRY_STATUSES))
    listing_id = Id()
    demand_id = Id()


@blp.route("/listings/<int:listing_id>/inquiries")
class ListingInquiries(MethodView):
    @blp.arguments(InquiryIn)
    @blp.response(201, InquiryOut)
    @blp.errors(404, 409)
    @require_role("enterprise")
    def post(self, data, listing_id):
        """Send an inquiry about a published listing; its owner is notified."""
        return services.create_inquiry(current_user(), listing_id, data)


@blp.route("/inquiries")
class Inquiries(MethodView):
    @blp.arguments(InquiryQueryArgs, location="query")
    @blp.response(200, page_schema(InquiryOut, "InquiryPage"))
    @require_role("enterprise", "university", "staff")
    def get(self, args):
        """Enterprises: the inquiries they sent. Universities: those they received. Staff: all."""
        return paginate(services.inquiries_query(current_user(), args), args["page"], args["page_size"])


@blp.route("/inquiries/<int:inquiry_id>")
class InquiryItem(MethodView):
    @blp.response(200, InquiryOut)
    @blp.errors(404)
    @require_role("enterprise", "university", "staff")
    def get(self, inquiry_id):
        """One inquiry with its replies (either side, and staff)."""
        return services.get_inquiry(current_user(), inquiry_id)

    @blp.arguments(InquiryPatch)
    @blp.response(200, InquiryOut)
    @blp.errors(404, 409)
    @require_role("enterprise", "university", "staff")
    def patch(self, data, inquiry_id):
        """Move an inquiry on to negotiation, or close it (either side, and staff)."""
        return services.change_status(current_user(), inquiry_id, data["status"], data.get("reason"))


@blp.route("/inquiries/<int:inquiry_id>/replies")
class InquiryReplies(MethodView):
    @blp.arguments(ReplyIn)
    @blp.response(201, ReplyOut)
    @blp.errors(404, 409)
    @require_role("enterprise", "university", "staff")
    def post(self, data, inquiry_id):
        """Reply on an inquiry; the owner's first reply marks it replied; the other side is notified."""
        return services.reply(current_user(), inquiry_id, data["message"])
