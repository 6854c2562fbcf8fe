import pytest

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
