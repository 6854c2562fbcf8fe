"""Application factory."""

from __future__ import annotations

import functools
import logging
import select
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import IntegerConverter

from app import clock
from app.config import INSTANCE_DIR, Config, TestingConfig
from app.db import WRITE_INTENT
from app.extensions import api, db, limiter, migrate
from app.fields import INT_MAX

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` path segments are ids: 1 to the primary keys' INTEGER maximum. A larger number matches no
    route (404) instead of overflowing the database's integer."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NoCookieSession(SecureCookieSessionInterface):
    """Callers authenticate with bearer tokens and nothing uses Flask's cookie session: it is not decoded
    and verified on every request (a null session, which Flask never saves)."""

    def open_session(self, app, request):
        return self.make_null_session(app)


def create_app(config: type[Config] | dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    if isinstance(config, dict):
        if config.get("TESTING"):
            app.config.from_object(TestingConfig)
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    clock.configure(app.config["BUSINESS_TIMEZONE"])
    app.json.sort_keys = False
    app.json.ensure_ascii = False  # Chinese titles stay readable in responses
    if app.config.get("JSON_LOGS", True) and not app.testing:
        from app.guards import configure_logging

        configure_logging()
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.url_map.converters["int"] = BoundedIntConverter
    app.session_interface = NoCookieSession()

    register_extensions(app)
    register_blueprints(app)
    register_swagger_assets(app)
    from app.errors import register_error_handlers

    register_error_handlers(app)
    from app import guards

    guards.register(app)
    wrap_views_in_transactions(app)
    register_jobs()
    register_commands(app)
    return app


def register_jobs() -> None:
    """Job kinds, event subscriptions and encumbrance checks: the worker and every request know them all."""
    from app.jobs import install_session_hooks

    install_session_hooks()
    import app.auctions.jobs  # noqa: F401
    import app.deals.jobs  # noqa: F401
    import app.deals.licences  # noqa: F401
    import app.demands.freshness  # noqa: F401
    import app.demands.jobs  # noqa: F401
    import app.idempotency.services  # noqa: F401
    import app.imports.jobs  # noqa: F401
    import app.indexing.jobs  # noqa: F401
    import app.patents.jobs  # noqa: F401
    import app.pledges.services  # noqa: F401
    from app.stats import cells

    cells.install_session_hooks()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    limiter.init_app(app)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (rate limits, logs) is the one the trusted proxies saw.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)
    api.init_app(app, spec_kwargs={"info": {"description": (
        "Backend of a patent supermarket (专利超市): listings, search, matching, auctions and deals. "
        "Money is integer fen; times are UTC. Every error has the shape of ErrorSchema.")}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    from search import make_backend

    app.extensions["search_backend"] = make_backend(app.config)
    from app.demands.loading import load_model

    load_model(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            _check_connections_on_checkout(db.engine)


def _check_connections_on_checkout(engine: sa.Engine) -> None:
    """A pooled connection the server has closed (a restart, `pg_terminate_backend`, an idle timeout) is
    replaced before a request uses it. The server says so on the socket (an error message, then the close),
    so a look at the socket finds it without the round trip a `SELECT 1` ping costs every request. A
    connection that died silently (a host gone, no close) fails its first statement instead, as a ping would
    have hung on it; that error invalidates the whole pool."""

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, _record, _proxy):
        if dbapi_connection.closed or dbapi_connection.broken or _socket_has_news(dbapi_connection.fileno()):
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError("the server closed this pooled connection")


def _socket_has_news(fd: int) -> bool:
    """Anything readable on an idle connection between transactions: the server's goodbye and the end of
    the stream, or (rarely, after a configuration reload) a setting's new value, for which replacing a
    healthy connection costs one connect."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _tune_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Several gunicorn workers share the file: WAL lets readers run beside the one writer.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer takes the write lock when it begins, so concurrent writers queue on busy_timeout
        # instead of failing when a deferred transaction tries to upgrade its lock. Reads stay deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")


def register_blueprints(app: Flask) -> None:
    from app.auctions.routes import blp as auctions_blp
    from app.audit.routes import blp as audit_blp
    from app.auth.routes import auth_blp, invitations_blp, orgs_blp, users_blp
    from app.deals.routes import blp as deals_blp
    from app.demands.routes import blp as demands_blp
    from app.health import blp as health_blp
    from app.imports.routes import blp as imports_blp
    from app.indexing.routes import blp as search_blp
    from app.inquiries.routes import blp as inquiries_blp
    from app.notifications.routes import blp as notifications_blp
    from app.outlets.routes import blp as outlets_blp
    from app.patents.routes import listings_blp, patents_blp
    from app.pledges.routes import blp as pledges_blp
    from app.stats.dashboard import blp as dashboard_blp
    from app.stats.routes import blp as stats_blp

    app.register_blueprint(dashboard_blp)
    for blueprint in (health_blp, auth_blp, users_blp, orgs_blp, invitations_blp, outlets_blp, patents_blp,
                      listings_blp, imports_blp, search_blp, demands_blp, inquiries_blp, deals_blp, pledges_blp,
                      auctions_blp, stats_blp, notifications_blp, audit_blp):
        api.register_blueprint(blueprint)


def register_swagger_assets(app: Flask) -> None:
    from swagger_ui_bundle import swagger_ui_path

    @app.route("/swagger-ui/<path:filename>")
    def swagger_ui_assets(filename: str):
        return send_from_directory(str(swagger_ui_path), filename)


def wrap_views_in_transactions(app: Flask) -> None:
    """One commit per request, after the view succeeded; errors roll back in their handlers. The jobs the
    transaction wrote run after its commit (eager kinds here, the rest in the worker)."""
    from app import jobs

    def declare_intent():
        # First of all the request's hooks: authentication (guards) reads the database before the view runs,
        # and on SQLite the transaction it opens must be a reader's (BEGIN), not a writer's (BEGIN IMMEDIATE,
        # which would queue every GET behind every write).
        request.environ["app.write_intent"] = WRITE_INTENT.set(request.method not in READ_METHODS)

    def end_intent(_exc=None):
        intent = request.environ.pop("app.write_intent", None)
        if intent is not None:
            WRITE_INTENT.reset(intent)

    app.before_request_funcs.setdefault(None, []).insert(0, declare_intent)
    app.teardown_request(end_intent)

    def transactional(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            reading = request.method in READ_METHODS
            intent = WRITE_INTENT.set(not reading)
            try:
                response = view(*args, **kwargs)
                if not reading:
                    status = getattr(response, "status_code", 200)
                    if status < 400:
                        db.session.commit()
                        jobs.run_after_commit()
                    else:
                        db.session.rollback()
                return response
            finally:
                WRITE_INTENT.reset(intent)

        return wrapper

    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = transactional(view)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
