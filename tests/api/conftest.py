import pytest

from app.extensions import limiter
from search.embedded import EmbeddedBackend

ENGINES = ("embedded", "elasticsearch")


@pytest.fixture(params=ENGINES)
def engine(request, app, tmp_path):
    """Each test that asks for it runs once per engine, against a fresh index."""
    if request.param == "embedded":
        backend = EmbeddedBackend(str(tmp_path / "search.sqlite3"))
    else:
        from ..search.osmem_transport import elastic_backend

        backend = elastic_backend(request.getfixturevalue("osmem").url)
    backend.ensure_ready()
    original = app.extensions["search_backend"]
    app.extensions["search_backend"] = backend
    yield backend
    app.extensions["search_backend"] = original


@pytest.fixture
def limits_on(app):
    """The production abuse limits, and a fresh count (the suite runs with the limits out of its way)."""
    from app.config import Config

    keys = ("LOGIN_RATE_LIMIT", "REGISTER_RATE_LIMIT", "PASSWORD_RATE_LIMIT", "LOGIN_FAILURES_BEFORE_SLOWDOWN")
    saved = {key: app.config[key] for key in keys}
    app.config.update({key: getattr(Config, key) for key in keys})
    limiter.reset()
    yield app.config
    app.config.update(saved)
    limiter.reset()
