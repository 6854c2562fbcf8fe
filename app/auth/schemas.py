import marshmallow as ma
from marshmallow import validate, validates_schema

from app.api import PageArgs, PatchSchema, Schema
from app.fields import Email, Id, Integer, Password, Text

from .models import ORGANIZATION_KINDS, ROLES

CODE = validate.Length(min=4, max=64)


class RegisterIn(Schema):
    email = Email(required=True)
    password = Password(required=True)
    organization_name = Text(validate=validate.Length(min=2, max=200),
                             metadata={"description": "a new enterprise; or give invitation_code instead"})
    invitation_code = Text(validate=CODE, metadata={"description": "join the inviting organisation instead"})
    region = Text(validate=validate.Length(max=100))

    @validates_schema
    def _one_way_in(self, data, **kwargs):
        if ("organization_name" in data) == ("invitation_code" in data):
            raise ma.ValidationError("give organization_name (a new enterprise) or invitation_code, not both",
                                     "organization_name")
        if "invitation_code" in data and "region" in data:
            raise ma.ValidationError("the inviting organisation's region stands", "region")


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
    is_active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()


class UserPatch(PatchSchema):
    role = Text(validate=validate.OneOf(ROLES), metadata={"description": "admin only"})
    is_active = ma.fields.Boolean(metadata={"description": "false: the account is deactivated, its sessions end"})


class UserQueryArgs(PageArgs):
    role = Text(validate=validate.OneOf(ROLES))
    organization_id = Id()
    is_active = ma.fields.Boolean()
    email = Text(validate=validate.Length(max=254), metadata={"description": "part of the e-mail"})


class PasswordChangeIn(Schema):
    current_password = Password(required=True)
    new_password = Password(required=True)


class PasswordResetIn(Schema):
    email = Text(required=True, validate=validate.Length(min=1, max=254))
    code = Text(required=True, validate=CODE)
    new_password = Password(required=True)


class CodeOut(Schema):
    code = Text(metadata={"description": "shown once: only its hash is kept"})
    expires_at = ma.fields.DateTime()


class TokenInfoOut(Schema):
    id = Id()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    expires_at = ma.fields.DateTime()
    user_agent = Text(allow_none=True)
    current = ma.fields.Boolean(metadata={"description": "the session this call was made with"})


class InvitationIn(Schema):
    email = Email(allow_none=True, metadata={"description": "only this address may use the code"})


class InvitationOut(Schema):
    id = Id()
    organization_id = Id()
    role = Text()
    email = Text(allow_none=True)
    status = Text(metadata={"enum": ["open", "used", "revoked", "expired"]})
    created_by_user_id = Id(allow_none=True)
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    used_at = ma.fields.DateTime(allow_none=True)
    used_by_user_id = Id(allow_none=True)


class InvitationCreatedOut(InvitationOut):
    code = Text(metadata={"description": "shown once: only its hash is kept"})


class InvitationQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(["open", "used", "revoked", "expired"]))


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
