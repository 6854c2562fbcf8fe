import marshmallow as ma
from flask.views import MethodView

from app.api import Blueprint, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import require_role

from . import services as audit

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit log of state changes")


class AuditQueryArgs(PageArgs):
    entity = ma.fields.String(metadata={"description": "listing, patent, outlet, organization, user"})
    id = ma.fields.Integer()


class AuditOut(Schema):
    id = ma.fields.Integer()
    entity = ma.fields.String()
    entity_id = ma.fields.Integer()
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    changes = ma.fields.Dict(allow_none=True)
    actor_user_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()


@blp.route("")
class AuditList(MethodView):
    @blp.arguments(AuditQueryArgs, location="query")
    @blp.response(200, page_schema(AuditOut, "AuditPage"))
    @require_role("staff")
    def get(self, args):
        """List audit entries, newest first."""
        stmt = audit.entries_query(args.get("entity"), args.get("id"))
        return paginate(stmt, args["page"], args["page_size"])
