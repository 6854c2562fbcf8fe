import marshmallow as ma
from marshmallow import validate, validates_schema

from app.api import PageArgs, Schema
from app.patents.models import LISTING_MODES

from .models import IMPORT_STATUSES


class ImportForm(Schema):
    owner_organization_id = ma.fields.Integer(validate=validate.Range(min=1),
                                              metadata={"description": "staff: whose inventory this is"})
    outlet_codes = ma.fields.List(ma.fields.String(validate=validate.Length(max=40)), validate=validate.Length(max=20),
                                  metadata={"description": "shelve the listings here"})
    list_mode = ma.fields.String(validate=validate.OneOf(LISTING_MODES),
                                 metadata={"description": "also create a listing per patent in this mode"})
    publish = ma.fields.Boolean(load_default=False,
                                metadata={"description": "staff: put the listings straight into listed"})

    @validates_schema
    def _publish_needs_mode(self, data, **kwargs):
        if data.get("publish") and not data.get("list_mode"):
            raise ma.ValidationError("publish needs list_mode", "publish")


class ImportFile(Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportOut(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": " | ".join(IMPORT_STATUSES)})
    file_name = ma.fields.String()
    file_format = ma.fields.String()
    file_size = ma.fields.Integer()
    owner_organization_id = ma.fields.Integer()
    outlet_codes = ma.fields.List(ma.fields.String())
    list_mode = ma.fields.String(allow_none=True)
    publish = ma.fields.Boolean()
    total_rows = ma.fields.Integer(allow_none=True, metadata={"description": "data rows in the file (an estimate "
                                                                             "for XLSX until done)"})
    processed_rows = ma.fields.Integer()
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    listed = ma.fields.Integer()
    failed = ma.fields.Integer(metadata={"description": "rows refused; see /imports/<id>/errors"})
    error = ma.fields.String(allow_none=True, metadata={"description": "why the whole import failed"})
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class ImportQueryArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(IMPORT_STATUSES))
    owner_organization_id = ma.fields.Integer(validate=validate.Range(min=1))


class ImportRowErrorOut(Schema):
    row = ma.fields.Integer()
    field = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    message = ma.fields.String()
