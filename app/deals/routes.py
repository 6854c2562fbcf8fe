from flask.views import MethodView

from app.api import Blueprint, page_schema, paginate
from app.auth.permissions import current_user, require_role
from app.idempotency import idempotent
from app.patents.schemas import ListingOut

from . import services
from .schemas import CancelIn, DealIn, DealOut, DealPatch, DealQueryArgs, OpenLicenseAcceptOut, OpenLicenseWithdrawIn

blp = Blueprint("deals", __name__, url_prefix="/api/v1",
                description="Deals (成交): transfers, licences and equity deals; open-licence grants (开放许可)")


@blp.route("/deals")
class Deals(MethodView):
    @blp.arguments(DealQueryArgs, location="query")
    @blp.response(200, page_schema(DealOut, "DealPage"))
    @require_role("university", "enterprise", "staff")
    def get(self, args):
        """List deals: staff all, each party its own."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(services.deals_query(current_user(), args), page, size)

    @blp.arguments(DealIn)
    @blp.response(201, DealOut)
    @blp.errors(409)
    @idempotent(DealOut)
    @require_role("staff")
    def post(self, data):
        """Record a deal (idempotent: send an Idempotency-Key)."""
        return services.record_deal(current_user(), data)


@blp.route("/deals/<int:deal_id>")
class DealItem(MethodView):
    @blp.response(200, DealOut)
    @blp.errors(404)
    @require_role("university", "enterprise", "staff")
    def get(self, deal_id):
        """One deal (staff, or a party to it)."""
        return services.get_deal(current_user(), deal_id)

    @blp.arguments(DealPatch)
    @blp.response(200, DealOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def patch(self, data, deal_id):
        """Record payment received and the CNIPA registration."""
        return services.update_deal(current_user(), deal_id, data)


@blp.route("/deals/<int:deal_id>/complete")
class DealComplete(MethodView):
    @blp.response(200, DealOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, deal_id):
        """Complete a deal: an assignment moves ownership to the buyer and closes the patents' listings."""
        return services.complete_deal(current_user(), deal_id)


@blp.route("/deals/<int:deal_id>/cancel")
class DealCancel(MethodView):
    @blp.arguments(CancelIn)
    @blp.response(200, DealOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, deal_id):
        """Cancel a recorded deal, with a reason."""
        return services.cancel_deal(current_user(), deal_id, data["reason"])


@blp.route("/listings/<int:listing_id>/open-license/accept")
class OpenLicenseAccept(MethodView):
    @blp.response(201, OpenLicenseAcceptOut)
    @blp.errors(404, 409, 422)
    @idempotent(OpenLicenseAcceptOut)
    @require_role("enterprise")
    def post(self, listing_id):
        """Accept an open licence: a non-exclusive licence granted at once (idempotent: send an Idempotency-Key)."""
        return {"deal": services.accept_open_license(current_user(), listing_id)}


@blp.route("/listings/<int:listing_id>/open-license/withdraw")
class OpenLicenseWithdraw(MethodView):
    @blp.arguments(OpenLicenseWithdrawIn)
    @blp.response(200, ListingOut)
    @blp.errors(404, 409)
    @require_role("university", "staff")
    def post(self, data, listing_id):
        """Withdraw an open-licence declaration: no new grants; licences granted stand."""
        return services.withdraw_open_license(current_user(), listing_id, data.get("reason"))
