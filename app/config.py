"""Configuration read from the environment (see .env.example for every variable)."""

from __future__ import annotations

import os
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent.parent / "instance"))


def database_url(raw: str | None) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and choose the driver ourselves."""
    if not raw:
        return f"sqlite:///{INSTANCE_DIR / 'patent_supermarket.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    # No `pool_pre_ping`: on PostgreSQL a pooled connection is checked by a look at its socket instead of a
    # round trip per request (app/__init__.py); SQLite's file connections do not go away.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL") or None
    ELASTICSEARCH_INDEX_PREFIX = os.environ.get("ELASTICSEARCH_INDEX_PREFIX", "patent-supermarket")
    ELASTICSEARCH_ANALYZER = os.environ.get("ELASTICSEARCH_ANALYZER", "cjk")
    # "module:Class" of an elastic_transport node class; only for servers that need one (osmem in tests/bench).
    ELASTICSEARCH_NODE_CLASS = os.environ.get("ELASTICSEARCH_NODE_CLASS") or None
    ELASTICSEARCH_REFRESH = os.environ.get("ELASTICSEARCH_REFRESH", "false").lower() == "true"
    SEARCH_PATH = os.environ.get("SEARCH_PATH") or str(INSTANCE_DIR / "search.sqlite3")
    # Where `flask matching train` writes the matching model and the app loads it from.
    MATCHING_MODEL_DIR = os.environ.get("MATCHING_MODEL_DIR") or str(INSTANCE_DIR / "matching-model")
    # The model ranks matches while it has seen this share of the catalogue (else the engine's ranking
    # does), and a retrain is scheduled once the catalogue has grown or changed by this share since it.
    MATCHING_MIN_COVERAGE = float(os.environ.get("MATCHING_MIN_COVERAGE") or 0.8)
    MATCHING_RETRAIN_SHARE = float(os.environ.get("MATCHING_RETRAIN_SHARE") or 0.10)
    MATCHING_MIN_DOCUMENTS = 20  # fewer patents teach a model nothing
    # A match's score is the estimated probability that the listing is the one the demand needs (other
    # fitting listings count against it, so it is modest: one candidate in a hundred is the answer). From
    # this score on, ten times that rate, a match is strong (`strong_match`) and notifies its enterprise.
    MATCHING_STRONG_SCORE = float(os.environ.get("MATCHING_STRONG_SCORE") or 0.1)
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Abuse limits (flask-limiter syntax), counted per client address in memory, or in Redis when
    # REDIS_URL is set (shared by every worker and host).
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    # Redis down: count in memory meanwhile rather than refuse every login.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Retry-After on a 429 is the app's own (app/api.py); X-RateLimit-* headers would tell an attacker the budget.
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;100 per hour")
    REGISTER_RATE_LIMIT = os.environ.get("REGISTER_RATE_LIMIT", "5 per minute;50 per day")
    PASSWORD_RATE_LIMIT = os.environ.get("PASSWORD_RATE_LIMIT", "5 per minute;30 per hour")
    # Failed logins for one account from one address before each further attempt must wait (doubling).
    LOGIN_FAILURES_BEFORE_SLOWDOWN = _int("LOGIN_FAILURES_BEFORE_SLOWDOWN", 5)
    # Proxies in front of the app that set X-Forwarded-For (0: the client connects directly).
    PROXY_COUNT = _int("PROXY_COUNT", 0)
    # Forked processes that read and prepare batches while `flask search reindex` writes (0: in-process).
    SEARCH_REINDEX_PROCESSES = _int("SEARCH_REINDEX_PROCESSES", 1)
    TOKEN_TTL_SECONDS = _int("TOKEN_TTL_SECONDS", 12 * 3600)
    # A session's "last used" is recorded at most this often (seconds; 0: never).
    TOKEN_TOUCH_SECONDS = _int("TOKEN_TOUCH_SECONDS", 60)
    # argon2id parameters; the defaults follow RFC 9106's second recommendation.
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST_KIB = _int("ARGON2_MEMORY_COST_KIB", 65536)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 20 * 1024 * 1024)
    # Browser origins allowed to call the API (CORS), comma-separated; none by default.
    CORS_ORIGINS = tuple(o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip())
    # One JSON object per log line (request id, user, route, status, duration); false: plain text.
    JSON_LOGS = os.environ.get("JSON_LOGS", "true").lower() == "true"
    # Business dates (expiry, deadlines, report months) are dates of this zone; timestamps stay UTC.
    BUSINESS_TIMEZONE = os.environ.get("BUSINESS_TIMEZONE") or "Asia/Shanghai"
    # Background jobs: done rows are kept this long for `flask jobs status`, then pruned by the worker.
    JOB_RETENTION_HOURS = _int("JOB_RETENTION_HOURS", 48)
    # Run the jobs a request wrote right after its commit (best effort; the worker runs the rest).
    JOBS_RUN_AFTER_REQUEST = os.environ.get("JOBS_RUN_AFTER_REQUEST", "true").lower() == "true"
    # Imports: the largest upload, the most data rows, and the most bytes an XLSX may inflate to.
    # An inventory of 100,000 patents with abstracts is ~45 MB as CSV, ~10 MB as XLSX.
    IMPORT_MAX_BYTES = _int("IMPORT_MAX_BYTES", 100 * 1024 * 1024)
    IMPORT_MAX_ROWS = _int("IMPORT_MAX_ROWS", 200_000)
    IMPORT_MAX_INFLATED_BYTES = _int("IMPORT_MAX_INFLATED_BYTES", 512 * 1024 * 1024)
    IMPORT_BATCH_ROWS = _int("IMPORT_BATCH_ROWS", 500)
    # Deals and open-licence acceptances: an Idempotency-Key answers its first response this long (at least 24).
    IDEMPOTENCY_KEY_HOURS = max(24, _int("IDEMPOTENCY_KEY_HOURS", 72))

    API_TITLE = "Patent Supermarket API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Served from the package's own files: nothing may be fetched from a CDN at run time.
    OPENAPI_SWAGGER_UI_URL = "/swagger-ui/"


class TestingConfig(Config):
    TESTING = True
    # The suite's requests share one transaction, which a second connection's write would wait for;
    # tests/concurrency (requests that really commit) turn it on.
    TOKEN_TOUCH_SECONDS = 0
    # Cheap hashing keeps the suite fast; production keeps the defaults above.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST_KIB = 1024
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    # Abuse limits stay on, set out of the suite's way; tests/api/test_abuse.py lowers them.
    LOGIN_RATE_LIMIT = REGISTER_RATE_LIMIT = PASSWORD_RATE_LIMIT = "100000 per minute"
    LOGIN_FAILURES_BEFORE_SLOWDOWN = 100000
    # Tests write inside a transaction that is never committed: a forked reader could not see it.
    SEARCH_REINDEX_PROCESSES = 0
    # No model unless a test trains one: a developer's own model must not change the suite's results.
    MATCHING_MODEL_DIR = None
