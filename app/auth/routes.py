from flask import current_app
from flask.views import MethodView

from app.api import Blueprint, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_token, current_user, require_role
from app.errors import Unauthorized
from app.extensions import limiter

from . import services, throttle
from .schemas import (
    LoginIn,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    OrganizationQueryArgs,
    RegisterIn,
    RegisterOut,
    TokenOut,
    UserIn,
    UserOut,
)

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-up, login and tokens")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User administration")
orgs_blp = Blueprint("organizations", __name__, url_prefix="/api/v1/organizations",
                     description="Universities, institutes, enterprises, the exchange and banks")


def _limit(setting: str):
    """A per-address limit read from the configuration when the request comes (see .env.example)."""
    return limiter.limit(lambda: current_app.config[setting])


@auth_blp.route("/register")
class Register(MethodView):
    @_limit("REGISTER_RATE_LIMIT")
    @auth_blp.arguments(RegisterIn)
    @auth_blp.response(201, RegisterOut)
    @auth_blp.errors(409, 429)
    @allow_anonymous
    def post(self, data):
        """Sign up an enterprise and its first user."""
        user, org = services.register_enterprise(data["email"], data["password"], data["organization_name"],
                                                  data.get("region"))
        return {"user": user, "organization": org}


@auth_blp.route("/login")
class Login(MethodView):
    @_limit("LOGIN_RATE_LIMIT")
    @auth_blp.arguments(LoginIn)
    @auth_blp.response(200, TokenOut)
    @auth_blp.errors(401, 429)
    @allow_anonymous
    def post(self, data):
        """Exchange email and password for a bearer token (throttled per address and per account)."""
        throttle.check(data["email"])  # before any password is hashed
        try:
            token, ttl = services.login(data["email"], data["password"])
        except Unauthorized:
            throttle.failed(data["email"])
            raise
        throttle.succeeded(data["email"])
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


@auth_blp.route("/logout")
class Logout(MethodView):
    @auth_blp.response(204)
    @require_role()
    def post(self):
        """Revoke the token used for this call."""
        services.logout(current_token())


@auth_blp.route("/me")
class Me(MethodView):
    @auth_blp.response(200, UserOut)
    @require_role()
    def get(self):
        """The calling user."""
        return current_user()


@users_blp.route("")
class Users(MethodView):
    @users_blp.arguments(UserIn)
    @users_blp.response(201, UserOut)
    @users_blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Create a university, enterprise, staff or admin user."""
        return services.create_user(current_user(), data["email"], data["password"], data["role"],
                                    data["organization_id"])


@orgs_blp.route("")
class Organizations(MethodView):
    @orgs_blp.arguments(OrganizationQueryArgs, location="query")
    @orgs_blp.response(200, page_schema(OrganizationOut, "OrganizationPage"))
    @allow_anonymous
    def get(self, args):
        """List organisations."""
        return paginate(services.organizations_query(args.get("kind"), args.get("q")), args["page"],
                        args["page_size"])

    @orgs_blp.arguments(OrganizationIn)
    @orgs_blp.response(201, OrganizationOut)
    @orgs_blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Create an organisation."""
        return services.create_organization(current_user(), data["name"], data["kind"], data.get("region"))


@orgs_blp.route("/<int:org_id>")
class OrganizationItem(MethodView):
    @orgs_blp.response(200, OrganizationOut)
    @orgs_blp.errors(404)
    @allow_anonymous
    def get(self, org_id):
        """One organisation."""
        return services.get_organization(org_id)

    @orgs_blp.arguments(OrganizationPatch)
    @orgs_blp.response(200, OrganizationOut)
    @orgs_blp.errors(404, 409)
    @require_role("staff")
    def patch(self, data, org_id):
        """Change an organisation."""
        return services.update_organization(current_user(), org_id, data)
