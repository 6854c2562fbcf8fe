import marshmallow as ma
from marshmallow import validate

from app.api import Fen, PageArgs, Schema

from .models import LEGAL_STATUSES, LISTING_MODES, LISTING_STATUSES, PATENT_TYPES, PAYMENT_METHODS


class OwnerOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class PatentOut(Schema):
    id = ma.fields.Integer()
    application_number = ma.fields.String()
    publication_number = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    abstract = ma.fields.String(allow_none=True)
    claims = ma.fields.String(allow_none=True)
    ipc_codes = ma.fields.List(ma.fields.String(), metadata={"description": "main code first"})
    patent_type = ma.fields.String()
    legal_status = ma.fields.String()
    filing_date = ma.fields.Date(allow_none=True)
    grant_date = ma.fields.Date(allow_none=True)
    owner_organization_id = ma.fields.Integer()
    owner = ma.fields.Nested(OwnerOut)
    inventors = ma.fields.List(ma.fields.String())
    field = ma.fields.String(allow_none=True)
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
    publication_number = ma.fields.String(allow_none=True, validate=validate.Length(max=20))
    title = ma.fields.String(validate=validate.Length(min=2, max=500))
    abstract = ma.fields.String(allow_none=True, validate=validate.Length(max=20000))
    claims = ma.fields.String(allow_none=True, validate=validate.Length(max=200000))
    ipc_codes = ma.fields.List(ma.fields.String(validate=validate.Length(max=32)),
                               validate=validate.Length(min=1, max=50))
    legal_status = ma.fields.String(validate=validate.OneOf(LEGAL_STATUSES))
    filing_date = ma.fields.Date(allow_none=True)
    grant_date = ma.fields.Date(allow_none=True)
    expires_on = ma.fields.Date(allow_none=True, metadata={"description": "override, e.g. term compensation"})
    inventors = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=100)),
                               validate=validate.Length(max=100))
    field = ma.fields.String(allow_none=True, validate=validate.Length(max=40),
                             metadata={"description": "override of the field derived from IPC"})
    owner_organization_id = ma.fields.Integer()
    preserved = ma.fields.Boolean()
    evaluation_report = ma.fields.Boolean(metadata={"description": "专利权评价报告 on file"})


class PatentIn(_PatentFields):
    application_number = ma.fields.String(required=True, validate=validate.Length(max=40))
    title = ma.fields.String(required=True, validate=validate.Length(min=2, max=500))
    ipc_codes = ma.fields.List(ma.fields.String(validate=validate.Length(max=32)), required=True,
                               validate=validate.Length(min=1, max=50))
    patent_type = ma.fields.String(validate=validate.OneOf(PATENT_TYPES),
                                   metadata={"description": "derived from the number; must agree if given"})


class PatentPatch(_PatentFields):
    pass


class PatentQueryArgs(PageArgs):
    owner_organization_id = ma.fields.Integer()
    legal_status = ma.fields.String(validate=validate.OneOf(LEGAL_STATUSES))
    patent_type = ma.fields.String(validate=validate.OneOf(PATENT_TYPES))
    field = ma.fields.String()
    ipc = ma.fields.String(metadata={"description": "any level: H, H01, H01M, H01M 10/00"})
    application_number = ma.fields.String()
    q = ma.fields.String(validate=validate.Length(max=100), metadata={"description": "part of the title"})


class OpenLicenseTerms(Schema):
    payment_method = ma.fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    fee_fen = Fen(allow_none=True, validate=validate.Range(min=0))
    royalty_rate = ma.fields.Decimal(allow_none=True, as_string=False, places=4,
                                     validate=validate.Range(min=0, max=1, min_inclusive=False),
                                     metadata={"description": "share of sales, e.g. 0.03 for 3%"})
    term_months = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=600))


class OpenLicenseOut(Schema):
    payment_method = ma.fields.String()
    fee_fen = Fen(allow_none=True)
    royalty_rate = ma.fields.Float(allow_none=True)
    term_months = ma.fields.Integer()


class ListingOut(Schema):
    id = ma.fields.Integer()
    patent_id = ma.fields.Integer()
    mode = ma.fields.String()
    price_fen = Fen(allow_none=True)
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(ma.fields.String())
    description = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    open_license = ma.fields.Nested(OpenLicenseOut, allow_none=True)
    owner_organization_id = ma.fields.Integer()
    application_number = ma.fields.String(attribute="patent.application_number")
    title = ma.fields.String(attribute="patent.title")
    listed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class _ListingFields(Schema):
    mode = ma.fields.String(validate=validate.OneOf(LISTING_MODES))
    price_fen = Fen(allow_none=True, validate=validate.Range(min=1, max=10**13))
    negotiable = ma.fields.Boolean()
    outlet_codes = ma.fields.List(ma.fields.String(validate=validate.Length(max=40)),
                                  validate=validate.Length(max=20))
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=5000))
    open_license = ma.fields.Nested(OpenLicenseTerms, allow_none=True)


class ListingIn(_ListingFields):
    patent_id = ma.fields.Integer(required=True)
    mode = ma.fields.String(required=True, validate=validate.OneOf(LISTING_MODES))


class ListingPatch(_ListingFields):
    pass


class ListingQueryArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(LISTING_STATUSES))
    mode = ma.fields.String(validate=validate.OneOf(LISTING_MODES))
    outlet = ma.fields.String()
    patent_id = ma.fields.Integer()
    owner_organization_id = ma.fields.Integer()


class RejectIn(Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=2, max=2000))


class WithdrawIn(Schema):
    reason = ma.fields.String(validate=validate.Length(max=2000))
