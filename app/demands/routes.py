from flask.views import MethodView

from app.api import Blueprint, page_schema, paginate
from app.auth.permissions import current_user, require_role

from . import matcher, services
from .schemas import (
    DemandCloseIn,
    DemandIn,
    DemandOut,
    DemandPatch,
    DemandQueryArgs,
    MatchArgs,
    MatchesOut,
    MatchingDemandsOut,
)

blp = Blueprint("demands", __name__, url_prefix="/api/v1", description="Enterprise demands and matching (供需对接)")


@blp.route("/demands")
class Demands(MethodView):
    @blp.arguments(DemandQueryArgs, location="query")
    @blp.response(200, page_schema(DemandOut, "DemandPage"))
    @require_role("enterprise", "university", "staff")
    def get(self, args):
        """Enterprises: their own demands. Universities: open demands (no budgets). Staff: all."""
        return paginate(services.demands_query(current_user(), args), args["page"], args["page_size"])

    @blp.arguments(DemandIn)
    @blp.response(201, DemandOut)
    @require_role("enterprise", "staff")
    def post(self, data):
        """Post a technology demand (staff may post for an enterprise)."""
        return services.create_demand(current_user(), data)


@blp.route("/demands/<int:demand_id>")
class DemandItem(MethodView):
    @blp.response(200, DemandOut)
    @blp.errors(404)
    @require_role("enterprise", "university", "staff")
    def get(self, demand_id):
        """One demand."""
        return services.get_demand(demand_id, current_user())

    @blp.arguments(DemandPatch)
    @blp.response(200, DemandOut)
    @blp.errors(404, 409)
    @require_role("enterprise", "staff")
    def patch(self, data, demand_id):
        """Change an open demand of your enterprise."""
        return services.update_demand(current_user(), demand_id, data)


@blp.route("/demands/<int:demand_id>/close")
class DemandClose(MethodView):
    @blp.arguments(DemandCloseIn)
    @blp.response(200, DemandOut)
    @blp.errors(404, 409)
    @require_role("enterprise", "staff")
    def post(self, data, demand_id):
        """Close a demand (found a solution, or gave up)."""
        return services.close_demand(current_user(), demand_id, data.get("reason"))


@blp.route("/demands/<int:demand_id>/matches")
class DemandMatches(MethodView):
    @blp.arguments(MatchArgs, location="query")
    @blp.response(200, MatchesOut)
    @blp.errors(404, 503)
    @require_role("enterprise", "staff")
    def get(self, args, demand_id):
        """Published listings ranked for the demand, each with its score (0..1) and why it matched."""
        # Universities read demands, but matching is the enterprise's (and staff's) tool.
        demand = services.get_managed_demand(current_user(), demand_id)
        return matcher.matches_for_demand(demand, args["limit"])


@blp.route("/listings/<int:listing_id>/matching-demands")
class ListingMatchingDemands(MethodView):
    @blp.arguments(MatchArgs, location="query")
    @blp.response(200, MatchingDemandsOut)
    @blp.errors(404)
    @require_role("university", "staff")
    def get(self, args, listing_id):
        """Open demands that fit this listing, best first (the listing's owner and staff)."""
        return {"listing_id": listing_id,
                "items": matcher.demands_for_listing(current_user(), listing_id, args["limit"])}
