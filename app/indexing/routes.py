import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate, validates_schema

from app.api import Blueprint, Fen, Schema
from app.auth.permissions import allow_anonymous, current_user
from app.patents.models import LEGAL_STATUSES, LISTING_MODES, LISTING_STATUSES, PATENT_TYPES
from search.base import SORTS

from . import service

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="Catalogue search")
MAX_WINDOW = 10_000  # deepest result reachable by paging, as Elasticsearch's max_result_window


class SearchArgs(Schema):
    q = ma.fields.String(validate=validate.Length(max=200),
                         metadata={"description": "Chinese or English text; \"quoted phrases\"; an application or "
                                                  "publication number finds that patent"})
    ipc = ma.fields.String(validate=validate.Length(max=32), metadata={"description": "any level: H, H01, H01M, "
                                                                                      "H01M 10/00, H01M 10/0525"})
    field = ma.fields.String(validate=validate.Length(max=40))
    patent_type = ma.fields.String(validate=validate.OneOf(PATENT_TYPES))
    legal_status = ma.fields.String(validate=validate.OneOf(LEGAL_STATUSES))
    mode = ma.fields.String(validate=validate.OneOf(LISTING_MODES))
    status = ma.fields.String(validate=validate.OneOf(LISTING_STATUSES), metadata={"description": "staff only"})
    outlet = ma.fields.String(validate=validate.Length(max=40))
    owner = ma.fields.Integer(metadata={"description": "owner organisation id"})
    price_min_fen = Fen(validate=validate.Range(min=0))
    price_max_fen = Fen(validate=validate.Range(min=0))
    negotiable = ma.fields.Boolean()
    listed_since = ma.fields.Date()
    sort = ma.fields.String(load_default="relevance", validate=validate.OneOf(SORTS))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    size = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _consistent(self, data, **kwargs):
        low, high = data.get("price_min_fen"), data.get("price_max_fen")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("price_min_fen is above price_max_fen", "price_min_fen")
        if data["page"] * data["size"] > MAX_WINDOW:
            raise ma.ValidationError(f"page x size may not exceed {MAX_WINDOW}; narrow the search", "page")


class SearchOwnerOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class HighlightOut(Schema):
    title = ma.fields.List(ma.fields.String())
    abstract = ma.fields.List(ma.fields.String())


class SearchItemOut(Schema):
    listing_id = ma.fields.Integer()
    patent_id = ma.fields.Integer()
    title = ma.fields.String()
    abstract = ma.fields.String(allow_none=True)
    application_number = ma.fields.String()
    publication_number = ma.fields.String(allow_none=True)
    ipc_codes = ma.fields.List(ma.fields.String())
    field = ma.fields.String(allow_none=True)
    patent_type = ma.fields.String()
    legal_status = ma.fields.String()
    mode = ma.fields.String()
    price_fen = Fen(allow_none=True)
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(ma.fields.String())
    owner = ma.fields.Nested(SearchOwnerOut)
    status = ma.fields.String()
    listed_at = ma.fields.String(allow_none=True)
    expires_on = ma.fields.String(allow_none=True)
    remaining_years = ma.fields.Float(allow_none=True)
    score = ma.fields.Float()
    highlight = ma.fields.Nested(HighlightOut)


class FacetValueOut(Schema):
    value = ma.fields.String()
    count = ma.fields.Integer()
    label = ma.fields.String(metadata={"description": "display name where the value is an id (owner)"})


class FacetsOut(Schema):
    ipc_section = ma.fields.List(ma.fields.Nested(FacetValueOut))
    ipc_class = ma.fields.List(ma.fields.Nested(FacetValueOut))
    ipc_subclass = ma.fields.List(ma.fields.Nested(FacetValueOut))
    field = ma.fields.List(ma.fields.Nested(FacetValueOut))
    patent_type = ma.fields.List(ma.fields.Nested(FacetValueOut))
    mode = ma.fields.List(ma.fields.Nested(FacetValueOut))
    outlet = ma.fields.List(ma.fields.Nested(FacetValueOut))
    owner = ma.fields.List(ma.fields.Nested(FacetValueOut))
    price_band = ma.fields.List(ma.fields.Nested(FacetValueOut))


class SearchOut(Schema):
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    size = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(SearchItemOut))
    facets = ma.fields.Nested(FacetsOut)
    took_ms = ma.fields.Float()


class SuggestArgs(Schema):
    q = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class SuggestionOut(Schema):
    text = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "title, owner or ipc"})


class SuggestOut(Schema):
    suggestions = ma.fields.List(ma.fields.Nested(SuggestionOut))


@blp.route("/listings")
class SearchListings(MethodView):
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, SearchOut)
    @blp.errors(503)
    @allow_anonymous
    def get(self, args):
        """Search the catalogue: full text, filters, facets and highlights."""
        return service.search_listings(current_user(), args)


@blp.route("/suggest")
class Suggest(MethodView):
    @blp.arguments(SuggestArgs, location="query")
    @blp.response(200, SuggestOut)
    @blp.errors(503)
    @allow_anonymous
    def get(self, args):
        """Complete what the user is typing from titles, owners and IPC codes."""
        return {"suggestions": service.suggest(current_user(), args["q"])}
