import marshmallow as ma
from flask.views import MethodView

from app.api import Blueprint, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import require_role
from app.fields import Id, Text

from . import services as audit

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit log of state changes")


class AuditQueryArgs(PageArgs):
    entity = Text(metadata={"description": "listing, patent, outlet, organization, user"})
    id = Id()


class AuditOut(Schema):
    id = Id()
    entity = Text()
    entity_id = Id()
    action = Text()
    from_status = Text(allow_none=True)
    to_status = Text(allow_none=True)
    reason = Text(multiline=True, allow_none=True)
    changes = ma.fields.Dict(allow_none=True)
    actor_user_id = Id(allow_none=True)
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
