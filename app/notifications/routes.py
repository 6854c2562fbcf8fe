import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from app.api import Blueprint, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import current_user, require_role
from app.fields import Id, Integer, Text

from . import services
from .models import NOTIFICATION_KINDS

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications",
                description="Notifications: matches for demands, inquiries, and auction and deal events")


class NotificationOut(Schema):
    id = Id()
    kind = Text(metadata={"enum": list(NOTIFICATION_KINDS)})
    title = Text()
    body = Text(multiline=True, allow_none=True)
    data = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)
    read = ma.fields.Function(lambda n: n.read_at is not None)


class NotificationArgs(PageArgs):
    unread = ma.fields.Boolean()
    kind = Text(validate=validate.OneOf(NOTIFICATION_KINDS))


_Page = page_schema(NotificationOut, "NotificationPage")


class NotificationPage(_Page):
    unread_count = Integer(required=True)


@blp.route("")
class Notifications(MethodView):
    @blp.arguments(NotificationArgs, location="query")
    @blp.response(200, NotificationPage)
    @require_role()
    def get(self, args):
        """Your notifications, newest first, with the number still unread."""
        user = current_user()
        page = paginate(services.notifications_query(user, args.get("unread"), args.get("kind")), args["page"],
                        args["page_size"])
        return {**page, "unread_count": services.unread_count(user)}


@blp.route("/<int:notification_id>/read")
class NotificationRead(MethodView):
    @blp.response(200, NotificationOut)
    @blp.errors(404)
    @require_role()
    def post(self, notification_id):
        """Mark one of your notifications read."""
        return services.mark_read(current_user(), notification_id)
