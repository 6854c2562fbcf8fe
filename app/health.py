import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView

from app import clock
from app.api import Blueprint, Schema
from app.extensions import db
from app.fields import Text

blp = Blueprint("health", __name__, url_prefix="", description="Liveness and readiness probes")


class HealthOut(Schema):
    status = Text()
    server_time = ma.fields.DateTime()


class ReadyOut(Schema):
    status = Text(metadata={"description": "ready, degraded (search down: 200) or not_ready (503)"})
    checks = ma.fields.Dict()


def readiness() -> tuple[dict, bool]:
    checks: dict = {}
    ready = True
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        ready = False
    if ready:
        # The search engine is reported but does not make the instance unready: writes still work while
        # it is down (the outbox keeps the changes), and taking every instance out would stop them too.
        from app.indexing.indexer import backend, backlog
        from search import SearchUnavailable

        try:
            checks["search"] = backend().health()
        except SearchUnavailable as exc:
            checks["search"] = {"engine": backend().name, "ok": False, "error": str(exc)}
        checks["search"]["backlog"] = backlog()
        from app.jobs import backlog as job_backlog

        checks["jobs"] = job_backlog()
        checks["matching"] = matching_check()
        from app.stats.cells import backlog as stats_backlog

        checks["statistics"] = stats_backlog()
    return checks, ready


def matching_check() -> dict:
    """The model's age and how much of the catalogue it has seen; informative only (matching works
    without a model, on the engine's ranking)."""
    from app.demands.freshness import state
    from app.demands.loading import current_model

    fresh = state(current_model()).as_dict()
    return {"ok": True, "model": fresh["model"], "trained_at": fresh["trained_at"], "age_seconds": fresh["age_seconds"],
            "coverage": fresh["coverage"], "change_share": fresh["change_share"],
            "ranked_by": "model" if fresh["serving"] else "engine", "retrain_due": fresh["retrain_due"]}


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthOut)
    def get(self):
        """The process is alive."""
        return {"status": "ok", "server_time": clock.now()}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, ReadyOut)
    @blp.alt_response(503, schema=ReadyOut, description="Not ready")
    def get(self):
        """The database (and the search engine) can serve requests."""
        checks, ready = readiness()
        status = "not_ready" if not ready else ("ready" if checks["search"].get("ok") else "degraded")
        return {"status": status, "checks": checks}, (200 if ready else 503)
