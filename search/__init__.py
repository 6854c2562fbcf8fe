"""The search engine layer. It never imports `app`: it is given settings and plain documents.

Documents (one per listing) carry: id (the listing id), patent_id, title, abstract, claims,
application_number, publication_number, ipc_codes, ipc_levels (every level of every code),
ipc_section, ipc_class, ipc_subclass, field, patent_type, legal_status, mode, status, price_fen,
negotiable, outlet_codes, owner_id, owner_name, inventors, listed_at (ISO), expires_on (ISO).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .base import Query, Result, SearchBackend, SearchUnavailable, Suggestion

__all__ = ["Query", "Result", "SearchBackend", "SearchUnavailable", "Suggestion", "make_backend"]


def make_backend(settings: Mapping[str, Any]) -> SearchBackend:
    """Elasticsearch when ELASTICSEARCH_URL is set, otherwise the embedded SQLite FTS5 engine."""
    if settings.get("ELASTICSEARCH_URL"):
        from .elastic import ElasticBackend

        node_class = settings.get("ELASTICSEARCH_NODE_CLASS")
        if isinstance(node_class, str):
            module, _, name = node_class.partition(":")
            node_class = getattr(importlib.import_module(module), name)
        return ElasticBackend(
            settings["ELASTICSEARCH_URL"],
            prefix=settings.get("ELASTICSEARCH_INDEX_PREFIX", "patent-supermarket"),
            analyzer=settings.get("ELASTICSEARCH_ANALYZER", "cjk"),
            node_class=node_class,
            refresh=bool(settings.get("ELASTICSEARCH_REFRESH", False)),
        )
    from .embedded import EmbeddedBackend

    return EmbeddedBackend(settings["SEARCH_PATH"])
