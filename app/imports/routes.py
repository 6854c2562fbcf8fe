from flask import current_app, request
from flask.views import MethodView

from app.api import Blueprint, PageArgs, page_schema, paginate
from app.auth.permissions import current_user, require_role

from . import services
from .files import FileTooLarge
from .schemas import ImportFile, ImportForm, ImportOut, ImportQueryArgs, ImportRowErrorOut

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports",
                description="Bulk imports of patent inventories, run as background jobs")


UPLOAD_RULES = frozenset({"/api/v1/imports", "/api/v1/patents/import"})
# Room beside the file for the form's other fields and the multipart framing.
FORM_OVERHEAD = 64 * 1024


@blp.before_app_request
def allow_inventory_uploads() -> None:
    """An inventory of 100,000 patents with abstracts is ~45 MB of CSV: uploads get IMPORT_MAX_BYTES, every
    other request keeps MAX_CONTENT_LENGTH."""
    if request.method == "POST" and request.url_rule is not None and request.url_rule.rule in UPLOAD_RULES:
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + FORM_OVERHEAD


def read_upload(upload) -> bytes:
    limit = current_app.config["IMPORT_MAX_BYTES"]
    raw = upload.stream.read(limit + 1)
    if len(raw) > limit:
        raise FileTooLarge("file_too_large", f"the file is larger than {limit} bytes", field="file")
    return raw


def start_import(form: dict, files: dict):
    upload = files["file"]
    return services.create_import(current_user(), upload.filename or "", read_upload(upload), form)


@blp.route("")
class Imports(MethodView):
    @blp.arguments(ImportForm, location="form")
    @blp.arguments(ImportFile, location="files")
    @blp.response(202, ImportOut)
    @blp.errors(413, 422)
    @require_role("university", "staff")
    def post(self, form, files):
        """Upload an inventory (CSV, XLSX or JSONL): the import runs as a job; follow it at /imports/<id>."""
        return start_import(form, files)

    @blp.arguments(ImportQueryArgs, location="query")
    @blp.response(200, page_schema(ImportOut, "ImportPage"))
    @require_role("university", "staff")
    def get(self, args):
        """Imports of your organisation (staff: all)."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(services.imports_query(current_user(), args), page, size)


@blp.route("/<int:import_id>")
class ImportItem(MethodView):
    @blp.response(200, ImportOut)
    @blp.errors(404)
    @require_role("university", "staff")
    def get(self, import_id):
        """An import's status and progress."""
        return services.get_import(current_user(), import_id)


@blp.route("/<int:import_id>/errors")
class ImportErrors(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ImportRowErrorOut, "ImportRowErrorPage"))
    @blp.errors(404)
    @require_role("university", "staff")
    def get(self, args, import_id):
        """The rows an import refused, page by page."""
        return paginate(services.errors_query(current_user(), import_id), args["page"], args["page_size"])
