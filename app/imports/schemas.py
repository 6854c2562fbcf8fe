import marshmallow as ma
from marshmallow import validate, validates_schema

from app.api import PageArgs, Schema
from app.fields import Id, Integer, Text
from app.patents.models import LISTING_MODES

from .models import IMPORT_STATUSES


class ImportForm(Schema):
    owner_organization_id = Id(validate=validate.Range(min=1),
                                              metadata={"description": "staff: whose inventory this is"})
    outlet_codes = ma.fields.List(Text(validate=validate.Length(max=40)), validate=validate.Length(max=20),
                                  metadata={"description": "shelve the listings here"})
    list_mode = Text(validate=validate.OneOf(LISTING_MODES),
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
    id = Id()
    status = Text(metadata={"description": " | ".join(IMPORT_STATUSES)})
    file_name = Text()
    file_format = Text()
    file_size = Integer()
    owner_organization_id = Id()
    outlet_codes = ma.fields.List(Text())
    list_mode = Text(allow_none=True)
    publish = ma.fields.Boolean()
    total_rows = Integer(allow_none=True, metadata={"description": "data rows in the file (an estimate "
                                                                             "for XLSX until done)"})
    processed_rows = Integer()
    created = Integer()
    updated = Integer()
    unchanged = Integer()
    listed = Integer()
    failed = Integer(metadata={"description": "rows refused; see /imports/<id>/errors"})
    error = Text(allow_none=True, metadata={"description": "why the whole import failed"})
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class ImportQueryArgs(PageArgs):
    status = Text(validate=validate.OneOf(IMPORT_STATUSES))
    owner_organization_id = Id(validate=validate.Range(min=1))


class ImportRowErrorOut(Schema):
    row = Integer()
    field = Text(allow_none=True)
    reason = Text(multiline=True)
    message = Text(multiline=True)
