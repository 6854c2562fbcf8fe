import marshmallow as ma
from marshmallow import validate

from app.api import Fen, PageArgs, Schema
from app.fields import Date, Decimal, Id, Integer, Text

from .models import LEGAL_STATUSES, LISTING_MODES, LISTING_STATUSES, PATENT_TYPES, PAYMENT_METHODS


class OwnerOut(Schema):
    id = Id()
    name = Text()


class PatentOut(Schema):
    id = Id()
    application_number = Text()
    publication_number = Text(allow_none=True)
    title = Text()
    abstract = Text(multiline=True, allow_none=True)
    claims = Text(multiline=True, allow_none=True)
    ipc_codes = ma.fields.List(Text(), metadata={"description": "main code first"})
    patent_type = Text()
    legal_status = Text()
    filing_date = ma.fields.Date(allow_none=True)
    grant_date = ma.fields.Date(allow_none=True)
    owner_organization_id = Id()
    owner = ma.fields.Nested(OwnerOut)
    inventors = ma.fields.List(Text())
    field = Text(allow_none=True)
    field_overridden = ma.fields.Boolean()
    expires_on = ma.fields.Date(allow_none=True, metadata={"description": "derived from filing date and type, "
                                                                          "unless overridden"})
    remaining_years = ma.fields.Float(allow_none=True, metadata={"description": "derived, in years"})
    in_force = ma.fields.Boolean()
    pledged = ma.fields.Boolean()
    preserved = ma.fields.Boolean()
    evaluation_report = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class _PatentFields(Schema):
    publication_number = Text(allow_none=True, validate=validate.Length(max=20))
    title = Text(validate=validate.Length(min=2, max=500))
    abstract = Text(multiline=True, allow_none=True, validate=validate.Length(max=20000))
    claims = Text(multiline=True, allow_none=True, validate=validate.Length(max=200000))
    ipc_codes = ma.fields.List(Text(validate=validate.Length(max=32)),
                               validate=validate.Length(min=1, max=50))
    legal_status = Text(validate=validate.OneOf(LEGAL_STATUSES))
    filing_date = Date(allow_none=True)
    grant_date = Date(allow_none=True)
    expires_on = Date(allow_none=True, metadata={"description": "override, e.g. term compensation"})
    inventors = ma.fields.List(Text(validate=validate.Length(min=1, max=100)),
                               validate=validate.Length(max=100))
    field = Text(allow_none=True, validate=validate.Length(max=40),
                             metadata={"description": "override of the field derived from IPC"})
    owner_organization_id = Id()
    preserved = ma.fields.Boolean()
    evaluation_report = ma.fields.Boolean(metadata={"description": "专利权评价报告 on file"})


class PatentIn(_PatentFields):
    application_number = Text(required=True, validate=validate.Length(max=40))
    title = Text(required=True, validate=validate.Length(min=2, max=500))
    ipc_codes = ma.fields.List(Text(validate=validate.Length(max=32)), required=True,
                               validate=validate.Length(min=1, max=50))
    patent_type = Text(validate=validate.OneOf(PATENT_TYPES),
                                   metadata={"description": "derived from the number; must agree if given"})


class PatentPatch(_PatentFields):
    pass


class PatentQueryArgs(PageArgs):
    owner_organization_id = Id()
    legal_status = Text(validate=validate.OneOf(LEGAL_STATUSES))
    patent_type = Text(validate=validate.OneOf(PATENT_TYPES))
    field = Text()
    ipc = Text(metadata={"description": "any level: H, H01, H01M, H01M 10/00"})
    application_number = Text()
    q = Text(validate=validate.Length(max=100), metadata={"description": "part of the title"})


class OpenLicenseTerms(Schema):
    payment_method = Text(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    fee_fen = Fen(allow_none=True, validate=validate.Range(min=0))
    royalty_rate = Decimal(allow_none=True, as_string=False, places=4,
                                     validate=validate.Range(min=0, max=1, min_inclusive=False),
                                     metadata={"description": "share of sales, e.g. 0.03 for 3%"})
    term_months = Integer(required=True, validate=validate.Range(min=1, max=600))


class OpenLicenseOut(Schema):
    payment_method = Text()
    fee_fen = Fen(allow_none=True)
    royalty_rate = ma.fields.Float(allow_none=True)
    term_months = Integer()


class ListingOut(Schema):
    id = Id()
    patent_id = Id()
    mode = Text()
    price_fen = Fen(allow_none=True)
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(Text())
    description = Text(multiline=True, allow_none=True)
    status = Text()
    open_license = ma.fields.Nested(OpenLicenseOut, allow_none=True)
    owner_organization_id = Id()
    application_number = Text(attribute="patent.application_number")
    title = Text(attribute="patent.title")
    pledged = ma.fields.Boolean(attribute="patent.pledged", metadata={"description": "the patent is pledged (质押)"})
    listed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class _ListingFields(Schema):
    mode = Text(validate=validate.OneOf(LISTING_MODES))
    price_fen = Fen(allow_none=True, validate=validate.Range(min=1, max=10**13))
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(Text(validate=validate.Length(max=40)),
                                  validate=validate.Length(max=20))
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000))
    open_license = ma.fields.Nested(OpenLicenseTerms, allow_none=True)


class ListingIn(_ListingFields):
    patent_id = Id(required=True)
    mode = Text(required=True, validate=validate.OneOf(LISTING_MODES))


class ListingPatch(_ListingFields):
    pass


class ListingQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(LISTING_STATUSES))
    mode = Text(validate=validate.OneOf(LISTING_MODES))
    outlet = Text()
    patent_id = Id()
    owner_organization_id = Id()


class RejectIn(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=2, max=2000))


class WithdrawIn(Schema):
    reason = Text(multiline=True, validate=validate.Length(max=2000))
