import marshmallow as ma
from marshmallow import validate

from app.api import PageArgs, Schema
from app.fields import Email, Id, Integer, Password, Text

from .models import ORGANIZATION_KINDS, ROLES


class RegisterIn(Schema):
    email = Email(required=True)
    password = Password(required=True)
    organization_name = Text(required=True, validate=validate.Length(min=2, max=200))
    region = Text(validate=validate.Length(max=100))


class LoginIn(Schema):
    email = Text(required=True, validate=validate.Length(min=1, max=254))
    password = Password(required=True)


class TokenOut(Schema):
    access_token = Text(required=True)
    token_type = Text(required=True)
    expires_in = Integer(required=True, metadata={"description": "seconds"})


class UserOut(Schema):
    id = Id()
    email = Text()
    role = Text()
    organization_id = Id(allow_none=True)


class UserIn(Schema):
    email = Email(required=True)
    password = Password(required=True)
    role = Text(required=True, validate=validate.OneOf(ROLES))
    organization_id = Id(allow_none=True, load_default=None)


class OrganizationOut(Schema):
    id = Id()
    name = Text()
    kind = Text()
    region = Text(allow_none=True)


class OrganizationIn(Schema):
    name = Text(required=True, validate=validate.Length(min=2, max=200))
    kind = Text(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    region = Text(allow_none=True, validate=validate.Length(max=100))


class OrganizationPatch(Schema):
    name = Text(validate=validate.Length(min=2, max=200))
    kind = Text(validate=validate.OneOf(ORGANIZATION_KINDS))
    region = Text(allow_none=True, validate=validate.Length(max=100))


class OrganizationQueryArgs(PageArgs):
    kind = Text(validate=validate.OneOf(ORGANIZATION_KINDS))
    q = Text(validate=validate.Length(max=100), metadata={"description": "part of the name"})


class RegisterOut(Schema):
    user = ma.fields.Nested(UserOut)
    organization = ma.fields.Nested(OrganizationOut)
