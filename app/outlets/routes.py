from flask.views import MethodView
from marshmallow import validate

from app.api import Blueprint, PageArgs, Schema, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_user, require_role
from app.fields import Id, Text

from . import services
from .models import OUTLET_KINDS

blp = Blueprint("outlets", __name__, url_prefix="/api/v1/outlets",
                description="Outlets of the patent supermarket network (超市网点)")

CODE = validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", error="lower-case letters, digits and hyphens")


class OutletOut(Schema):
    id = Id()
    code = Text()
    name = Text()
    city = Text()
    province = Text()
    kind = Text()
    operator = Text(allow_none=True)


class OutletIn(Schema):
    code = Text(required=True, validate=[validate.Length(min=2, max=40), CODE])
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    city = Text(required=True, validate=validate.Length(min=1, max=60))
    province = Text(required=True, validate=validate.Length(min=1, max=60))
    kind = Text(required=True, validate=validate.OneOf(OUTLET_KINDS))
    operator = Text(allow_none=True, validate=validate.Length(max=200))


class OutletPatch(Schema):
    name = Text(validate=validate.Length(min=1, max=200))
    city = Text(validate=validate.Length(min=1, max=60))
    province = Text(validate=validate.Length(min=1, max=60))
    kind = Text(validate=validate.OneOf(OUTLET_KINDS))
    operator = Text(allow_none=True, validate=validate.Length(max=200))


class OutletQueryArgs(PageArgs):
    kind = Text(validate=validate.OneOf(OUTLET_KINDS))
    province = Text()


@blp.route("")
class Outlets(MethodView):
    @blp.arguments(OutletQueryArgs, location="query")
    @blp.response(200, page_schema(OutletOut, "OutletPage"))
    @allow_anonymous
    def get(self, args):
        """List outlets."""
        return paginate(services.outlets_query(args.get("kind"), args.get("province")), args["page"],
                        args["page_size"])

    @blp.arguments(OutletIn)
    @blp.response(201, OutletOut)
    @blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Open an outlet."""
        return services.create_outlet(current_user(), data)


@blp.route("/<code>")
class OutletItem(MethodView):
    @blp.response(200, OutletOut)
    @blp.errors(404)
    @allow_anonymous
    def get(self, code):
        """One outlet, by its code."""
        return services.get_outlet(code)

    @blp.arguments(OutletPatch)
    @blp.response(200, OutletOut)
    @blp.errors(404)
    @require_role("staff")
    def patch(self, data, code):
        """Change an outlet (its code is permanent)."""
        return services.update_outlet(current_user(), code, data)
