import marshmallow as ma
from marshmallow import validate

from app.api import PageArgs, Schema

from .models import ORGANIZATION_KINDS, ROLES


class RegisterIn(Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    organization_name = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    region = ma.fields.String(validate=validate.Length(max=100))


class LoginIn(Schema):
    email = ma.fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class TokenOut(Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class UserOut(Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    role = ma.fields.String()
    organization_id = ma.fields.Integer(allow_none=True)


class UserIn(Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=validate.Length(max=200))
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    organization_id = ma.fields.Integer(allow_none=True, load_default=None)


class OrganizationOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    region = ma.fields.String(allow_none=True)


class OrganizationIn(Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = ma.fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    region = ma.fields.String(allow_none=True, validate=validate.Length(max=100))


class OrganizationPatch(Schema):
    name = ma.fields.String(validate=validate.Length(min=2, max=200))
    kind = ma.fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))
    region = ma.fields.String(allow_none=True, validate=validate.Length(max=100))


class OrganizationQueryArgs(PageArgs):
    kind = ma.fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))
    q = ma.fields.String(validate=validate.Length(max=100), metadata={"description": "part of the name"})


class RegisterOut(Schema):
    user = ma.fields.Nested(UserOut)
    organization = ma.fields.Nested(OrganizationOut)
