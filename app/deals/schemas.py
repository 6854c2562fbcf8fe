import marshmallow as ma
from marshmallow import validate, validates_schema

from app.api import Fen, PageArgs, PatchSchema, Schema
from app.fields import Date, Id, Integer, Text
from app.patents.schemas import OwnerOut

from .rules import KINDS, PAYMENT_STATUSES, SOURCES, STATUSES

NUMBER = validate.Length(min=1, max=64)


class DealPatentOut(Schema):
    id = Id()
    application_number = Text()
    title = Text()


class DealOut(Schema):
    id = Id()
    kind = Text(metadata={"enum": list(KINDS)})
    status = Text(metadata={"enum": list(STATUSES)})
    source = Text(metadata={"enum": list(SOURCES)})
    patent_ids = ma.fields.List(Id())
    patents = ma.fields.List(ma.fields.Nested(DealPatentOut))
    listing_id = Id(allow_none=True)
    outlet_code = Text(allow_none=True)
    seller_organization_id = Id()
    buyer_organization_id = Id()
    seller = ma.fields.Nested(OwnerOut)
    buyer = ma.fields.Nested(OwnerOut)
    amount_fen = Fen()
    contract_number = Text(allow_none=True)
    signed_on = ma.fields.Date()
    after_event = ma.fields.Boolean(metadata={"description": "拟成交: agreed after the auction or negotiation ended"})
    license_starts_on = ma.fields.Date(allow_none=True)
    license_ends_on = ma.fields.Date(allow_none=True)
    filing_due_on = ma.fields.Date(allow_none=True, metadata={"description": "licences: 实施许可合同备案 due"})
    filing_overdue = ma.fields.Boolean()
    payment_status = Text(metadata={"enum": list(PAYMENT_STATUSES)})
    amount_received_fen = Fen()
    registration_number = Text(allow_none=True, metadata={"description": "CNIPA: 著录项目变更 or 备案 number"})
    registered_on = ma.fields.Date(allow_none=True)
    note = Text(multiline=True, allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = Text(multiline=True, allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class DealIn(Schema):
    kind = Text(required=True, validate=validate.OneOf(KINDS))
    patent_ids = ma.fields.List(Id(), validate=validate.Length(min=1, max=200),
                                metadata={"description": "a package of one or more patents; default: the listing's"})
    listing_id = Id(allow_none=True)
    seller_organization_id = Id(required=True, metadata={"description": "the owner on record (licensor)"})
    buyer_organization_id = Id(required=True)
    amount_fen = Fen(required=True, validate=validate.Range(min=0, max=10**14))
    amount_received_fen = Fen(validate=validate.Range(min=0, max=10**14))
    contract_number = Text(allow_none=True, validate=NUMBER)
    signed_on = Date(required=True)
    source = Text(required=True, validate=validate.OneOf(SOURCES))
    after_event = ma.fields.Boolean(metadata={"description": "拟成交: agreed after the event"})
    outlet_code = Text(allow_none=True, validate=validate.Length(max=40),
                       metadata={"description": "default: the listing's first outlet"})
    license_starts_on = Date(allow_none=True, metadata={"description": "licences; default signed_on"})
    license_ends_on = Date(allow_none=True)
    license_term_months = Integer(allow_none=True, validate=validate.Range(min=1, max=600))
    note = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000))


class DealPatch(PatchSchema):
    payment_status = Text(validate=validate.OneOf(PAYMENT_STATUSES))
    amount_received_fen = Fen(validate=validate.Range(min=0, max=10**14))
    registration_number = Text(allow_none=True, validate=NUMBER)
    registered_on = Date(allow_none=True)
    contract_number = Text(allow_none=True, validate=NUMBER)
    note = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000))


class CancelIn(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=2, max=2000))


class DealQueryArgs(PageArgs):
    kind = Text(validate=validate.OneOf(KINDS))
    status = Text(validate=validate.OneOf(STATUSES))
    source = Text(validate=validate.OneOf(SOURCES))
    payment_status = Text(validate=validate.OneOf(PAYMENT_STATUSES))
    outlet = Text(validate=validate.Length(max=40))
    organization_id = Id(metadata={"description": "either party"})
    patent_id = Id()
    listing_id = Id()
    signed_from = Date(data_key="from")
    signed_to = Date(data_key="to")
    after_event = ma.fields.Boolean()
    filing_overdue = ma.fields.Boolean()

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("signed_from") and data.get("signed_to") and data["signed_from"] > data["signed_to"]:
            raise ma.ValidationError("from is after to", "from")


class OpenLicenseAcceptOut(Schema):
    deal = ma.fields.Nested(DealOut)


class OpenLicenseWithdrawIn(Schema):
    reason = Text(multiline=True, validate=validate.Length(max=2000))
