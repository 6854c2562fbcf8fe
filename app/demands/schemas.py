import marshmallow as ma
from marshmallow import post_dump, validate

from app.api import Fen, PageArgs, Schema
from app.auth.permissions import current_user
from app.fields import Date, Id, Integer, Text
from app.indexing.routes import SearchItemOut
from app.patents.models import LISTING_MODES

from .models import DEMAND_STATUSES, Demand
from .services import may_see_budget

MONEY = validate.Range(min=0, max=10**13)


class DemandOut(Schema):
    id = Id()
    organization_id = Id()
    organization_name = Text(attribute="organization.name")
    title = Text()
    description = Text(multiline=True)
    fields = ma.fields.List(Text())
    ipc_hints = ma.fields.List(Text())
    budget_min_fen = Fen(allow_none=True, metadata={"description": "only for the posting enterprise and staff"})
    budget_max_fen = Fen(allow_none=True, metadata={"description": "only for the posting enterprise and staff"})
    modes = ma.fields.List(Text(validate=validate.OneOf(LISTING_MODES)))
    region = Text(allow_none=True)
    deadline = ma.fields.Date(allow_none=True)
    status = Text(metadata={"enum": list(DEMAND_STATUSES)})
    closed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    @post_dump(pass_original=True)
    def _hide_budget(self, data, original, **_):
        # Universities read open demands to offer patents, but an enterprise's budget is its own.
        if isinstance(original, Demand) and not may_see_budget(current_user(), original):
            data.pop("budget_min_fen", None)
            data.pop("budget_max_fen", None)
        return data


class _DemandFields(Schema):
    title = Text(validate=validate.Length(min=2, max=200))
    description = Text(multiline=True, validate=validate.Length(min=4, max=5000),
                                   metadata={"description": "the problem and the goal, in the enterprise's words"})
    fields = ma.fields.List(Text(validate=validate.Length(max=40)), validate=validate.Length(max=10))
    ipc_hints = ma.fields.List(Text(validate=validate.Length(max=32)), validate=validate.Length(max=10))
    budget_min_fen = Fen(allow_none=True, validate=MONEY)
    budget_max_fen = Fen(allow_none=True, validate=MONEY)
    modes = ma.fields.List(Text(validate=validate.OneOf(LISTING_MODES)),
                           validate=validate.Length(max=len(LISTING_MODES)))
    region = Text(allow_none=True, validate=validate.Length(max=100),
                              metadata={"description": "province or city, e.g. 浙江 or 湖州"})
    deadline = Date(allow_none=True)


class DemandIn(_DemandFields):
    title = Text(required=True, validate=validate.Length(min=2, max=200))
    description = Text(multiline=True, required=True, validate=validate.Length(min=4, max=5000))
    organization_id = Id(metadata={"description": "staff posting for an enterprise; others omit"})


class DemandPatch(_DemandFields):
    pass


class DemandCloseIn(Schema):
    reason = Text(multiline=True, allow_none=True, validate=validate.Length(max=500))


class DemandQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(DEMAND_STATUSES))
    organization_id = Id(metadata={"description": "staff only"})


class MatchArgs(Schema):
    limit = Integer(load_default=20, validate=validate.Range(min=1, max=100))


class SharedIpcOut(Schema):
    level = Text(metadata={"enum": ["section", "class", "subclass", "group", "subgroup"]})
    code = Text()
    source = Text(metadata={"enum": ["hint", "predicted"]})


class ReasonsOut(Schema):
    matched_terms = ma.fields.List(Text(), metadata={"description": "demand words found in the listing"})
    related_terms = ma.fields.List(Text(), metadata={
        "description": "catalogue words the model relates to the demand's words, found in the listing"})
    shared_ipc = ma.fields.List(ma.fields.Nested(SharedIpcOut))
    within_budget = ma.fields.Boolean(allow_none=True, metadata={"description": "null: no budget or no price"})
    mode_ok = ma.fields.Boolean(allow_none=True, metadata={"description": "null: the demand names no mode"})
    same_region = ma.fields.Boolean(allow_none=True, metadata={"description": "null: the demand names no region"})
    remaining_years = ma.fields.Float(allow_none=True)
    text_similarity = ma.fields.Float(metadata={
        "description": "the text part of the score: the calibrated probability before the structured fit"})


STRONG = ("the score is at least the exchange's strong-match score (`strong_score`): a real fit, worth "
          "notifying; below it, at best a partial one")


class MatchOut(Schema):
    listing_id = Id()
    score = ma.fields.Float(metadata={
        "description": "0..1: the estimated probability that the listing answers the demand (calibrated on "
                       "held-out pseudo-queries, docs/benchmarks.md), moved by budget, mode, region and life"})
    strong_match = ma.fields.Boolean(metadata={"description": STRONG})
    reasons = ma.fields.Nested(ReasonsOut)
    listing = ma.fields.Nested(SearchItemOut)


class MatchesOut(Schema):
    demand_id = Id()
    items = ma.fields.List(ma.fields.Nested(MatchOut))
    model = Text(metadata={"description": "the matching model in use, or 'none' (before training, or while "
                                          "the model has seen too little of the catalogue)"})
    ranked_by = Text(metadata={"description": "model, or engine: the search engine's own ranking, kept when no "
                                              "model can be trusted"})
    strong_score = ma.fields.Float(metadata={"description": "the score from which a match is strong"})
    took_ms = ma.fields.Float()


class MatchingDemandOut(Schema):
    demand = ma.fields.Nested(DemandOut)
    score = ma.fields.Float()
    strong_match = ma.fields.Boolean(metadata={"description": STRONG})
    reasons = ma.fields.Nested(ReasonsOut)


class MatchingDemandsOut(Schema):
    listing_id = Id()
    items = ma.fields.List(ma.fields.Nested(MatchingDemandOut))
