from flask.views import MethodView

from app.api import Blueprint, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_user, require_role
from app.imports.routes import start_import
from app.imports.schemas import ImportFile, ImportForm, ImportOut

from . import listings, services
from .schemas import (
    ListingIn,
    ListingOut,
    ListingPatch,
    ListingQueryArgs,
    PatentIn,
    PatentOut,
    PatentPatch,
    PatentQueryArgs,
    RejectIn,
    WithdrawIn,
)

patents_blp = Blueprint("patents", __name__, url_prefix="/api/v1/patents", description="Patents and their import")
listings_blp = Blueprint("listings", __name__, url_prefix="/api/v1/listings",
                         description="Listings (挂牌) and their review lifecycle")


@patents_blp.route("")
class Patents(MethodView):
    @patents_blp.arguments(PatentQueryArgs, location="query")
    @patents_blp.response(200, page_schema(PatentOut, "PatentPage"))
    @allow_anonymous
    def get(self, args):
        """List patents: staff all, others their own and those on offer."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(services.patents_query(current_user(), args), page, size)

    @patents_blp.arguments(PatentIn)
    @patents_blp.response(201, PatentOut)
    @patents_blp.errors(409)
    @require_role("university", "staff")
    def post(self, data):
        """Register a patent of your organisation (staff: of any)."""
        return services.create_patent(current_user(), data)


@patents_blp.route("/import")
class PatentImport(MethodView):
    @patents_blp.arguments(ImportForm, location="form")
    @patents_blp.arguments(ImportFile, location="files")
    @patents_blp.response(202, ImportOut)
    @patents_blp.errors(413, 422)
    @require_role("university", "staff")
    def post(self, form, files):
        """Import an inventory (an alias of POST /imports: the import runs as a job)."""
        return start_import(form, files)


@patents_blp.route("/<int:patent_id>")
class PatentItem(MethodView):
    @patents_blp.response(200, PatentOut)
    @patents_blp.errors(404)
    @allow_anonymous
    def get(self, patent_id):
        """One patent."""
        return services.get_patent(patent_id, current_user())

    @patents_blp.arguments(PatentPatch)
    @patents_blp.response(200, PatentOut)
    @patents_blp.errors(404)
    @require_role("university", "staff")
    def patch(self, data, patent_id):
        """Change a patent of your organisation."""
        return services.update_patent(current_user(), patent_id, data)


@listings_blp.route("")
class Listings(MethodView):
    @listings_blp.arguments(ListingQueryArgs, location="query")
    @listings_blp.response(200, page_schema(ListingOut, "ListingPage"))
    @allow_anonymous
    def get(self, args):
        """List listings: anonymous users see published ones, owners also their own, staff all."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(listings.listings_query(current_user(), args), page, size)

    @listings_blp.arguments(ListingIn)
    @listings_blp.response(201, ListingOut)
    @listings_blp.errors(409)
    @require_role("university", "staff")
    def post(self, data):
        """Offer a patent: create a draft listing."""
        return listings.create_listing(current_user(), data)


@listings_blp.route("/<int:listing_id>")
class ListingItem(MethodView):
    @listings_blp.response(200, ListingOut)
    @listings_blp.errors(404)
    @allow_anonymous
    def get(self, listing_id):
        """One listing."""
        return listings.get_listing(listing_id, current_user())

    @listings_blp.arguments(ListingPatch)
    @listings_blp.response(200, ListingOut)
    @listings_blp.errors(404, 409)
    @require_role("university", "staff")
    def patch(self, data, listing_id):
        """Change a draft listing (staff: also outlets and description later)."""
        return listings.update_listing(current_user(), listing_id, data)


def _transition_view(action: str, summary: str, roles: tuple[str, ...], body=None):
    if body is None:
        def post(self, listing_id):
            return listings.transition(current_user(), listing_id, action)
    else:
        def post(self, data, listing_id):
            return listings.transition(current_user(), listing_id, action, data.get("reason"))

    post.__doc__ = summary
    view = require_role(*roles)(post)
    view = listings_blp.errors(404, 409)(view)
    view = listings_blp.response(200, ListingOut)(view)
    if body is not None:
        view = listings_blp.arguments(body)(view)
    # MethodView collects its methods when the class is created, so build the class with them.
    transition_view = type(f"Listing{action.title()}", (MethodView,), {"post": view})
    listings_blp.route(f"/<int:listing_id>/{action}", endpoint=f"listing_{action}")(transition_view)


_transition_view("submit", "Submit a draft for review.", ("university", "staff"))
_transition_view("approve", "Approve a listing under review: it is published.", ("staff",))
_transition_view("reject", "Reject a listing under review, with a reason: it returns to draft.", ("staff",),
                 RejectIn)
_transition_view("withdraw", "Withdraw a listing from the supermarket.", ("university", "staff"), WithdrawIn)
