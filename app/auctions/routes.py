from flask.views import MethodView

from app.api import Blueprint, PageArgs, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_user, require_role
from app.idempotency import idempotent

from . import closing, services
from .schemas import (
    AuctionIn,
    AuctionOut,
    AuctionPatch,
    AuctionQueryArgs,
    BidIn,
    BidOut,
    BidPlacedOut,
    ConfirmIn,
    LotIn,
    LotOut,
    ProxyIn,
    ProxyOut,
    ProxySetOut,
    RegistrationIn,
    RegistrationOut,
    ResultOut,
    WithdrawLotIn,
    staff_viewing,
)

# One instance for the ETag's dump: building a schema per request costs more than the dump itself.
LOT_STATE = LotOut()

blp = Blueprint("auctions", __name__, url_prefix="/api/v1",
                description="Auctions (拍卖 / 网络竞价): sessions, lots, registrations with deposits, ascending and "
                "proxy bids (代理出价), anti-sniping, results")


@blp.route("/auctions")
class Auctions(MethodView):
    @blp.arguments(AuctionQueryArgs, location="query")
    @blp.response(200, page_schema(AuctionOut, "AuctionPage"))
    @allow_anonymous
    def get(self, args):
        """List auction sessions: scheduled, open and closed (public)."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(services.auctions_query(args), page, size)

    @blp.arguments(AuctionIn)
    @blp.response(201, AuctionOut)
    @blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Create an auction session of an outlet."""
        return services.create_auction(current_user(), data)


@blp.route("/auctions/<int:auction_id>")
class AuctionItem(MethodView):
    @blp.response(200, AuctionOut)
    @blp.errors(404)
    @allow_anonymous
    def get(self, auction_id):
        """One auction session (public)."""
        return services.get_auction(auction_id)

    @blp.arguments(AuctionPatch)
    @blp.response(200, AuctionOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def patch(self, data, auction_id):
        """Edit a session; its schedule and window only before it opens."""
        return services.update_auction(current_user(), auction_id, data)


@blp.route("/auctions/<int:auction_id>/lots")
class AuctionLots(MethodView):
    @blp.response(200, LotOut(many=True))
    @blp.errors(404)
    @allow_anonymous
    def get(self, auction_id):
        """The lots of a session (public; the reserve is shown to staff only)."""
        closing.settle_auction(auction_id)
        return services.lots_of_auction(auction_id)

    @blp.arguments(LotIn)
    @blp.response(201, LotOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, auction_id):
        """Offer a listing, or a package of one owner's patents, as a lot."""
        return services.add_lot(current_user(), auction_id, data)


@blp.route("/auctions/<int:auction_id>/results")
class AuctionResults(MethodView):
    @blp.response(200, ResultOut(many=True))
    @blp.errors(404)
    @allow_anonymous
    def get(self, auction_id):
        """The result announcement: each lot sold at what price to which bidder number, or unsold (public)."""
        closing.settle_auction(auction_id)
        return services.results(auction_id)


@blp.route("/lots/<int:lot_id>")
@blp.etag
class LotItem(MethodView):
    @blp.response(200, LotOut)
    @blp.errors(404)
    @allow_anonymous
    def get(self, lot_id):
        """One lot, with the server's time and the lot's current end; 304 on a matching If-None-Match."""
        lot = closing.settle(lot_id) or services.get_lot(lot_id)  # get_lot: the 404
        # The ETag covers the lot's state as this viewer sees it, not the server time, so a poll that
        # finds nothing new is a bodiless 304.
        state = LOT_STATE.dump(lot)
        state.pop("server_time")
        blp.set_etag({"lot": state, "staff": staff_viewing()})
        return lot


@blp.route("/lots/<int:lot_id>/withdraw")
class LotWithdraw(MethodView):
    @blp.arguments(WithdrawLotIn)
    @blp.response(200, LotOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, lot_id):
        """Withdraw a lot before its first bid."""
        return services.withdraw_lot(current_user(), lot_id, data.get("reason"))


@blp.route("/lots/<int:lot_id>/bids")
class LotBids(MethodView):
    @blp.arguments(BidIn)
    @blp.response(201, BidPlacedOut)
    @blp.errors(404, 409)
    @idempotent(BidPlacedOut, required=False)
    @require_role("enterprise")
    def post(self, data, lot_id):
        """Place a bid; 409 with a reason when it cannot be accepted."""
        with closing.closing_when_refused_as_late(lot_id):
            return services.place_bid(current_user(), lot_id, data["amount_fen"])

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(BidOut, "BidPage"))
    @blp.errors(404)
    @allow_anonymous
    def get(self, args, lot_id):
        """The bid history, newest first: bidder numbers for the public, names for staff."""
        return paginate(services.bids_of_lot(lot_id), args["page"], args["page_size"])


@blp.route("/lots/<int:lot_id>/proxy")
class LotProxy(MethodView):
    @blp.response(200, ProxyOut)
    @blp.errors(404)
    @require_role("enterprise")
    def get(self, lot_id):
        """Your own proxy maximum on the lot."""
        return services.get_proxy(current_user(), lot_id)

    @blp.arguments(ProxyIn)
    @blp.response(200, ProxySetOut)
    @blp.errors(404, 409)
    @require_role("enterprise")
    def post(self, data, lot_id):
        """Leave or raise a proxy maximum (代理出价); it bids at once if you do not lead."""
        with closing.closing_when_refused_as_late(lot_id):
            proxy, placed = services.set_proxy(current_user(), lot_id, data["max_amount_fen"])
        return {"proxy": proxy, "bid": placed.bid, "proxy_bids": placed.proxy_bids, "lot": placed.lot}


@blp.route("/auctions/<int:auction_id>/registrations")
class AuctionRegistrations(MethodView):
    @blp.response(200, RegistrationOut(many=True))
    @blp.errors(404)
    @require_role("enterprise", "staff")
    def get(self, auction_id):
        """Registrations: staff all, an enterprise its own."""
        return services.registrations(current_user(), auction_id)

    @blp.arguments(RegistrationIn)
    @blp.response(201, RegistrationOut)
    @blp.errors(404, 409)
    @require_role("enterprise")
    def post(self, data, auction_id):
        """Register your enterprise for a session (staff confirm once the deposit is paid)."""
        return services.register(current_user(), auction_id, data)


@blp.route("/registrations/<int:registration_id>")
class RegistrationItem(MethodView):
    @blp.response(200, RegistrationOut)
    @blp.errors(404)
    @require_role("enterprise", "staff")
    def get(self, registration_id):
        """One registration (staff, or its enterprise)."""
        return services.get_registration(current_user(), registration_id)


@blp.route("/registrations/<int:registration_id>/confirm")
class RegistrationConfirm(MethodView):
    @blp.arguments(ConfirmIn)
    @blp.response(200, RegistrationOut)
    @blp.errors(404, 409)
    @require_role("staff")
    def post(self, data, registration_id):
        """Confirm a registration once its deposit is paid: issues the bidder number (竞买号)."""
        return services.confirm_registration(current_user(), registration_id, data)
