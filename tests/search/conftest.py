"""Engines for the contract suite: the embedded engine on a temporary file, Elasticsearch on osmem."""

from __future__ import annotations

import pytest

from search.embedded import EmbeddedBackend

from .osmem_transport import elastic_backend

ENGINES = ("embedded", "elasticsearch")


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    if request.param == "embedded":
        backend = EmbeddedBackend(str(tmp_path / "search.sqlite3"))
        backend.ensure_ready()
        yield backend
        return
    server = request.getfixturevalue("osmem")
    backend = elastic_backend(server.url)
    backend.ensure_ready()
    yield backend
    for index in backend.client.indices.get(index=backend.pattern).body:
        backend.client.indices.delete(index=index)
