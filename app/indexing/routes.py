import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate, validates_schema

from app.api import Blueprint, Fen, Schema
from app.auth.permissions import allow_anonymous, current_user
from app.fields import Date, Id, Integer, Text
from app.patents.models import LEGAL_STATUSES, LISTING_MODES, LISTING_STATUSES, PATENT_TYPES
from search.base import SORTS

from . import service

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="Catalogue search")
MAX_WINDOW = 10_000  # deepest result reachable by paging, as Elasticsearch's max_result_window


class SearchArgs(Schema):
    q = Text(validate=validate.Length(max=200),
                         metadata={"description": "Chinese or English text; \"quoted phrases\"; an application or "
                                                  "publication number finds that patent"})
    ipc = Text(validate=validate.Length(max=32), metadata={"description": "any level: H, H01, H01M, "
                                                                                      "H01M 10/00, H01M 10/0525"})
    field = Text(validate=validate.Length(max=40))
    patent_type = Text(validate=validate.OneOf(PATENT_TYPES))
    legal_status = Text(validate=validate.OneOf(LEGAL_STATUSES))
    mode = Text(validate=validate.OneOf(LISTING_MODES))
    status = Text(validate=validate.OneOf(LISTING_STATUSES), metadata={"description": "staff only"})
    outlet = Text(validate=validate.Length(max=40))
    owner = Integer(metadata={"description": "owner organisation id"})
    price_min_fen = Fen(validate=validate.Range(min=0))
    price_max_fen = Fen(validate=validate.Range(min=0))
    negotiable = ma.fields.Boolean()
    listed_since = Date()
    sort = Text(load_default="relevance", validate=validate.OneOf(SORTS))
    page = Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    size = Integer(load_default=20, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _consistent(self, data, **kwargs):
        low, high = data.get("price_min_fen"), data.get("price_max_fen")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("price_min_fen is above price_max_fen", "price_min_fen")
        if data["page"] * data["size"] > MAX_WINDOW:
            raise ma.ValidationError(f"page x size may not exceed {MAX_WINDOW}; narrow the search", "page")


class SearchOwnerOut(Schema):
    id = Id()
    name = Text()


class HighlightOut(Schema):
    title = ma.fields.List(Text())
    abstract = ma.fields.List(Text())


class SearchItemOut(Schema):
    listing_id = Id()
    patent_id = Id()
    title = Text()
    abstract = Text(multiline=True, allow_none=True)
    application_number = Text()
    publication_number = Text(allow_none=True)
    ipc_codes = ma.fields.List(Text())
    field = Text(allow_none=True)
    patent_type = Text()
    legal_status = Text()
    mode = Text()
    price_fen = Fen(allow_none=True)
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(Text())
    owner = ma.fields.Nested(SearchOwnerOut)
    status = Text()
    listed_at = Text(allow_none=True)
    expires_on = Text(allow_none=True)
    remaining_years = ma.fields.Float(allow_none=True)
    pledged = ma.fields.Boolean(metadata={"description": "the patent is pledged (质押)"})
    score = ma.fields.Float()
    highlight = ma.fields.Nested(HighlightOut)


class FacetValueOut(Schema):
    value = Text()
    count = Integer()
    label = Text(metadata={"description": "display name where the value is an id (owner)"})


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
    total = Integer()
    page = Integer()
    size = Integer()
    items = ma.fields.List(ma.fields.Nested(SearchItemOut))
    facets = ma.fields.Nested(FacetsOut)
    took_ms = ma.fields.Float()


class SuggestArgs(Schema):
    q = Text(required=True, validate=validate.Length(min=1, max=100))


class SuggestionOut(Schema):
    text = Text()
    kind = Text(metadata={"description": "title, owner or ipc"})


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
