import marshmallow as ma
from marshmallow import validate, validates_schema

from app import clock
from app.api import Fen, PageArgs, PatchSchema, Schema
from app.auth.permissions import current_user
from app.fields import Id, Integer, Moment, Text

from .models import AUCTION_STATUSES, DEPOSIT_STATUSES, LOT_DEAL_KINDS, LOT_STATUSES, REGISTRATION_STATUSES

MONEY = validate.Range(min=1, max=10**14)
TITLE = validate.Length(min=2, max=200)
WINDOW = validate.Range(min=0, max=3600)


def staff_viewing() -> bool:
    user = current_user()
    return user is not None and user.is_staff


def staff_only(attribute: str, field: ma.fields.Field) -> ma.fields.Function:
    """A field only staff see; others get no such key at all (the reserve, bidders' names)."""

    def value(obj):
        return getattr(obj, attribute) if staff_viewing() else ma.missing

    return ma.fields.Function(value, metadata={**field.metadata, "description": "staff only: "
                                               + field.metadata.get("description", attribute)})


class AuctionOut(Schema):
    id = Id()
    title = Text()
    description = Text(multiline=True, allow_none=True)
    outlet_code = Text()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    anti_sniping_seconds = Integer(metadata={"description": "a bid this close to a lot's end extends it"})
    status = Text(metadata={"enum": list(AUCTION_STATUSES)})
    closed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class AuctionIn(Schema):
    title = Text(required=True, validate=TITLE)
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000))
    outlet_code = Text(required=True, validate=validate.Length(min=1, max=40))
    starts_at = Moment(required=True, metadata={"description": "with its offset; lots open then"})
    ends_at = Moment(required=True, metadata={"description": "lots end by then (anti-sniping may run past it)"})
    anti_sniping_seconds = Integer(load_default=300, validate=WINDOW)

    @validates_schema
    def _schedule(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ma.ValidationError("the session ends before it starts", "ends_at")


class AuctionPatch(PatchSchema):
    title = Text(validate=TITLE)
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000))
    starts_at = Moment(metadata={"description": "only before the session opens"})
    ends_at = Moment(metadata={"description": "only before the session opens"})
    anti_sniping_seconds = Integer(validate=WINDOW, metadata={"description": "only before the session opens"})


class AuctionQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(AUCTION_STATUSES))
    outlet_code = Text(validate=validate.Length(max=40))


class BandIn(Schema):
    from_fen = Fen(required=True, validate=validate.Range(min=0, max=10**14))
    increment_fen = Fen(required=True, validate=validate.Range(min=1, max=10**12))


class BandOut(Schema):
    from_fen = Fen()
    increment_fen = Fen()


class LotIn(Schema):
    listing_id = Id(metadata={"description": "the listing offered; or patent_ids for a package"})
    patent_ids = ma.fields.List(Id(), validate=validate.Length(min=2, max=50),
                                metadata={"description": "a package (打包) of patents of one owner, sold as one"})
    starting_price_fen = Fen(required=True, validate=MONEY)
    reserve_price_fen = Fen(allow_none=True, validate=MONEY,
                            metadata={"description": "保留价, never shown to bidders; null: no reserve (无保留)"})
    increment_fen = Fen(validate=validate.Range(min=1, max=10**12), metadata={"description": "a fixed increment"})
    increment_bands = ma.fields.List(ma.fields.Nested(BandIn), validate=validate.Length(min=1, max=20),
                                     metadata={"description": "increments by price band, the first from 0"})
    deposit_fen = Fen(load_default=0, validate=validate.Range(min=0, max=10**14), metadata={"description": "保证金"})
    ends_at = Moment(allow_none=True, metadata={"description": "default: the session's end"})
    license_term_months = Integer(allow_none=True, validate=validate.Range(min=1, max=600),
                                  metadata={"description": "a licence listing's lot: the term sold"})


class LotOut(Schema):
    id = Id()
    auction_id = Id()
    listing_id = Id(allow_none=True)
    patent_ids = ma.fields.List(Id())
    title = Text()
    deal_kind = Text(metadata={"enum": list(LOT_DEAL_KINDS)})
    license_term_months = Integer(allow_none=True)
    status = ma.fields.Function(lambda lot: lot.shown_status(clock.now()), metadata={"enum": list(LOT_STATUSES)})
    starting_price_fen = Fen()
    increment_bands = ma.fields.Function(
        lambda lot: [{"from_fen": low, "increment_fen": step} for low, step in lot.increment_bands],
        metadata={"type": "array", "items": {"type": "object"}})
    deposit_fen = Fen()
    has_reserve = ma.fields.Function(lambda lot: lot.reserve_price_fen is not None, metadata={
        "type": "boolean", "description": "false: sold to the highest bid whatever it is (无保留)"})
    reserve_met = ma.fields.Boolean()
    reserve_price_fen = staff_only("reserve_price_fen", Fen(metadata={"description": "保留价"}))
    current_price_fen = Fen(allow_none=True)
    bid_count = Integer()
    leading_bidder_number = Text(allow_none=True, metadata={"description": "竞买号 of the highest bid"})
    min_next_bid_fen = ma.fields.Function(lambda lot: lot.min_next_bid_fen(clock.now()),
                                          metadata={"type": "integer", "description": "null once closed"})
    opens_at = ma.fields.DateTime()
    scheduled_ends_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime(metadata={"description": "the current end, moved by anti-sniping"})
    server_time = ma.fields.Function(lambda lot: clock.now().isoformat(), metadata={
        "type": "string", "format": "date-time", "description": "count down from this, not the client's clock"})
    closed_at = ma.fields.DateTime(allow_none=True)
    final_price_fen = Fen(allow_none=True)
    winner_bidder_number = Text(allow_none=True)
    deal_id = staff_only("deal_id", Id(allow_none=True, metadata={"description": "the sale's deal"}))


class WithdrawLotIn(Schema):
    reason = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))


class BidIn(Schema):
    amount_fen = Fen(required=True, validate=MONEY)


class BidOut(Schema):
    id = Id()
    amount_fen = Fen()
    bidder_number = Text(metadata={"description": "竞买号"})
    bidder_name = staff_only("bidder_name", Text())
    automatic = ma.fields.Boolean(metadata={"description": "placed by the bidder's proxy maximum (代理出价)"})
    created_at = ma.fields.DateTime()


class BidPlacedOut(Schema):
    bid = ma.fields.Nested(BidOut, allow_none=True, metadata={
        "description": "the bid placed (for a proxy: its own first bid, if it had to bid)"})
    proxy_bids = ma.fields.List(ma.fields.Nested(BidOut), metadata={
        "description": "bids that standing proxies placed in answer, in order"})
    lot = ma.fields.Nested(LotOut)


class ProxyIn(Schema):
    max_amount_fen = Fen(required=True, validate=MONEY)


class ProxyOut(Schema):
    lot_id = Id()
    max_amount_fen = Fen(metadata={"description": "seen by its owner (and staff) only"})
    updated_at = ma.fields.DateTime()


class ProxySetOut(BidPlacedOut):
    proxy = ma.fields.Nested(ProxyOut)


class RegistrationIn(Schema):
    note = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))


class RegistrationOut(Schema):
    id = Id()
    auction_id = Id()
    organization_id = Id()
    status = Text(metadata={"enum": list(REGISTRATION_STATUSES)})
    bidder_number = Text(allow_none=True, metadata={"description": "竞买号, issued on confirmation"})
    deposit_status = Text(metadata={"enum": list(DEPOSIT_STATUSES)})
    deposit_paid_fen = Fen(allow_none=True)
    confirmed_at = ma.fields.DateTime(allow_none=True)
    note = Text(multiline=True, allow_none=True)
    created_at = ma.fields.DateTime()


class ConfirmIn(Schema):
    deposit_paid_fen = Fen(allow_none=True, validate=validate.Range(min=0, max=10**14), metadata={
        "description": "the deposit received; it covers lots whose deposit is at most this. Default: the "
                       "session's highest"})


class ResultOut(Schema):
    lot_id = Id(attribute="id")
    listing_id = Id(allow_none=True)
    title = Text()
    status = ma.fields.Function(lambda lot: lot.shown_status(clock.now()), metadata={"enum": list(LOT_STATUSES)})
    bid_count = Integer()
    final_price_fen = Fen(allow_none=True)
    winner_bidder_number = Text(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
