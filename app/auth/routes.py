from flask import current_app
from flask.views import MethodView

from app.api import Blueprint, PageArgs, page_schema, paginate
from app.auth.permissions import allow_anonymous, current_token, current_user, require_role
from app.errors import DomainError, Unauthorized
from app.extensions import limiter

from . import administration, services, sessions, throttle
from .schemas import (
    CodeOut,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    InvitationQueryArgs,
    LoginIn,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    OrganizationQueryArgs,
    PasswordChangeIn,
    PasswordResetIn,
    RegisterIn,
    RegisterOut,
    TokenInfoOut,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
    UserQueryArgs,
)

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign-up, login and tokens")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User administration")
invitations_blp = Blueprint("invitations", __name__, url_prefix="/api/v1/invitations",
                            description="Invitations of colleagues into an organisation")
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
        """Sign up an enterprise and its first user, or join an organisation with an invitation code."""
        if "invitation_code" in data:
            user, org = administration.register_with_invitation(data["email"], data["password"],
                                                                data["invitation_code"])
        else:
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
            token, ttl = services.login(data["email"], data["password"], sessions.user_agent())
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


@auth_blp.route("/password")
class Password(MethodView):
    @_limit("PASSWORD_RATE_LIMIT")
    @auth_blp.arguments(PasswordChangeIn)
    @auth_blp.response(204)
    @auth_blp.errors(401, 429)
    @require_role()
    def post(self, data):
        """Change your password; your other sessions end (throttled like login)."""
        user = current_user()
        throttle.check(user.email)
        try:
            administration.change_password(user, data["current_password"], data["new_password"],
                                           keep_token=current_token())
        except Unauthorized:
            throttle.failed(user.email)
            raise
        throttle.succeeded(user.email)


@auth_blp.route("/reset")
class PasswordReset(MethodView):
    @_limit("PASSWORD_RATE_LIMIT")
    @auth_blp.arguments(PasswordResetIn)
    @auth_blp.response(204)
    @auth_blp.errors(429)
    @allow_anonymous
    def post(self, data):
        """Set a new password with a reset code from staff; every session ends (throttled like login)."""
        throttle.check(data["email"])
        try:
            administration.reset_password(data["email"], data["code"], data["new_password"])
        except DomainError as exc:
            if exc.reason == "invalid_reset_code":
                throttle.failed(data["email"])
            raise
        throttle.succeeded(data["email"])


@auth_blp.route("/tokens")
class Tokens(MethodView):
    @auth_blp.arguments(PageArgs, location="query")
    @auth_blp.response(200, page_schema(TokenInfoOut, "TokenInfoPage"))
    @require_role()
    def get(self, args):
        """Your sessions (never the tokens themselves)."""
        return sessions.sessions_page(current_user(), current_token(), args["page"], args["page_size"])


@auth_blp.route("/tokens/<int:token_id>")
class TokenItem(MethodView):
    @auth_blp.response(204)
    @auth_blp.errors(404)
    @require_role()
    def delete(self, token_id):
        """End one of your sessions."""
        sessions.revoke_token(current_user(), token_id)


@users_blp.route("")
class Users(MethodView):
    @users_blp.arguments(UserQueryArgs, location="query")
    @users_blp.response(200, page_schema(UserOut, "UserPage"))
    @require_role("staff")
    def get(self, args):
        """List users (filter by role, organisation, active)."""
        page, size = args.pop("page"), args.pop("page_size")
        return paginate(administration.users_query(args), page, size)

    @users_blp.arguments(UserIn)
    @users_blp.response(201, UserOut)
    @users_blp.errors(409)
    @require_role("staff")
    def post(self, data):
        """Create a university, enterprise, staff or admin user."""
        return services.create_user(current_user(), data["email"], data["password"], data["role"],
                                    data["organization_id"])


@users_blp.route("/<int:user_id>")
class UserItem(MethodView):
    @users_blp.response(200, UserOut)
    @users_blp.errors(404)
    @require_role("staff")
    def get(self, user_id):
        """One user."""
        return administration.get_user(user_id)

    @users_blp.arguments(UserPatch)
    @users_blp.response(200, UserOut)
    @users_blp.errors(404, 409)
    @require_role("staff")
    def patch(self, data, user_id):
        """Change a user's role (admin) or deactivate / reactivate the account (its sessions end at once)."""
        return administration.update_user(current_user(), user_id, data)


@users_blp.route("/<int:user_id>/reset-code")
class UserResetCode(MethodView):
    @users_blp.response(201, CodeOut)
    @users_blp.errors(404, 409)
    @require_role("staff")
    def post(self, user_id):
        """Issue a one-time password reset code for the user (shown once, valid 24 hours)."""
        code, row = administration.issue_reset_code(current_user(), user_id)
        return {"code": code, "expires_at": row.expires_at}


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


@orgs_blp.route("/<int:org_id>/invitations")
class OrganizationInvitations(MethodView):
    @orgs_blp.arguments(InvitationQueryArgs, location="query")
    @orgs_blp.response(200, page_schema(InvitationOut, "InvitationPage"))
    @orgs_blp.errors(404)
    @require_role("university", "enterprise", "staff")
    def get(self, args, org_id):
        """The organisation's invitations (its members and staff)."""
        return paginate(administration.invitations_query(current_user(), org_id, args.get("status")),
                        args["page"], args["page_size"])

    @orgs_blp.arguments(InvitationIn)
    @orgs_blp.response(201, InvitationCreatedOut)
    @orgs_blp.errors(404, 409)
    @require_role("university", "enterprise", "staff")
    def post(self, data, org_id):
        """Invite a colleague into your organisation: a one-time code (shown once, valid 7 days)."""
        code, invitation = administration.create_invitation(current_user(), org_id, data.get("email"))
        return {**{name: getattr(invitation, name) for name in InvitationOut._declared_fields}, "code": code}


@invitations_blp.route("")
class Invitations(MethodView):
    @invitations_blp.arguments(InvitationQueryArgs, location="query")
    @invitations_blp.response(200, page_schema(InvitationOut, "AllInvitationPage"))
    @require_role("staff")
    def get(self, args):
        """Every organisation's invitations."""
        return paginate(administration.invitations_query(current_user(), None, args.get("status")),
                        args["page"], args["page_size"])


@invitations_blp.route("/<int:invitation_id>")
class InvitationItem(MethodView):
    @invitations_blp.response(204)
    @invitations_blp.errors(404, 409)
    @require_role("university", "enterprise", "staff")
    def delete(self, invitation_id):
        """Revoke an invitation that has not been used (staff, or the organisation's members)."""
        administration.revoke_invitation(current_user(), invitation_id)


# A session's last use, recorded after each request made with a token.
auth_blp.after_app_request(sessions.touch)
