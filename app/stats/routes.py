import marshmallow as ma
from flask import Response, stream_with_context
from flask.views import MethodView
from marshmallow import validate, validates_schema

from app.api import Blueprint, Schema
from app.auth.permissions import allow_anonymous, current_user, require_role
from app.fields import Date, Id, Integer, Text
from app.patents.fields import known_fields

from . import exports, queries, rollup

blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="Statistics (统计) and exports: what the "
                "network achieved, by outlet, university, field, mode and month")
DEFINITIONS = (queries.__doc__ or "").split("Definitions (the API's schema repeats them):")[-1].strip()


class StatsArgs(Schema):
    start = Date(data_key="from", metadata={"description": "first business day (Asia/Shanghai), inclusive"})
    end = Date(data_key="to", metadata={"description": "last business day, inclusive"})
    outlet = Text(validate=validate.Length(max=40), metadata={"description": "an outlet's code"})
    field = Text(validate=validate.OneOf(known_fields()), metadata={"description": "an industry field (领域)"})
    organization = Id(metadata={"description": "staff: any organisation; a university: its own only"})

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ma.ValidationError("`from` is after `to`", "from")


class OverviewArgs(StatsArgs):
    top = Integer(load_default=10, validate=validate.Range(min=1, max=100),
                  metadata={"description": "how many universities to rank"})


class ExportArgs(StatsArgs):
    report = Text(required=True, validate=validate.OneOf(sorted(exports.REPORTS)))
    format = Text(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class OverviewOut(Schema):
    period = ma.fields.Dict(metadata={"description": "the period asked for ({from, to}; null: unbounded)"})
    totals = ma.fields.Dict(metadata={"description": "the network's figures in the period:\n\n" + DEFINITIONS})
    by_outlet = ma.fields.List(ma.fields.Dict())
    by_university = ma.fields.List(ma.fields.Dict(), metadata={"description": "top sellers by amount"})
    by_field = ma.fields.List(ma.fields.Dict())
    by_mode = ma.fields.List(ma.fields.Dict())
    by_month = ma.fields.List(ma.fields.Dict(), metadata={"description": "business months (YYYY-MM)"})


class PublicOut(Schema):
    outlets = Integer()
    patents_on_offer = Integer()
    patents_converted = Integer()
    amount_fen = Integer(metadata={"description": "all deals not cancelled, in fen"})


@blp.route("/stats/overview")
class Overview(MethodView):
    @blp.arguments(OverviewArgs, location="query")
    @blp.response(200, OverviewOut)
    @require_role("staff", "university")
    def get(self, args):
        """The network's figures in a period, with breakdowns (staff; a university its own)."""
        return rollup.overview(queries.filters_for(current_user(), args), args["top"])


@blp.route("/stats/public")
@blp.etag
class Public(MethodView):
    @blp.response(200, PublicOut, headers={"Cache-Control": {"description": "public, max-age=300",
                                                            "schema": {"type": "string"}}})
    @allow_anonymous
    def get(self):
        """The headline figures of the public page (cacheable)."""
        return rollup.public_figures(), 200, {"Cache-Control": "public, max-age=300"}


@blp.route("/stats/export")
class Export(MethodView):
    @blp.arguments(ExportArgs, location="query")
    @blp.response(200, content_type="application/octet-stream", description="text/csv (UTF-8 with BOM) or XLSX")
    @require_role("staff")
    def get(self, args):
        """Download a report as CSV or XLSX, streamed (staff)."""
        report = exports.REPORTS[args["report"]]
        filters = queries.filters_for(current_user(), args)
        stem = f"{report.name}-{args.get('start') or 'all'}-{args.get('end') or 'today'}"
        if args["format"] == "csv":
            body, mimetype = exports.csv_chunks(report, filters), "text/csv; charset=utf-8"
        else:
            body = exports.file_chunks(exports.xlsx_file(report, filters))
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(stream_with_context(body), mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{stem}.{args["format"]}"'})
