"""The engine contract: plain documents in, Query objects in, Results out. No Flask, no SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

SORTS = ("relevance", "newest", "price_asc", "price_desc", "remaining_life")
FACETS = ("ipc_section", "ipc_class", "ipc_subclass", "field", "patent_type", "mode", "outlet", "owner",
          "price_band")
# Price bands in fen, as the exchange reports them; listings without a price are 面议.
PRICE_BANDS = (
    ("<10万", None, 10_000_000),
    ("10万-50万", 10_000_000, 50_000_000),
    ("50万-100万", 50_000_000, 100_000_000),
    ("100万-500万", 100_000_000, 500_000_000),
    ("≥500万", 500_000_000, None),
)
NEGOTIABLE_BAND = "面议"
# Keyword filters: Query.filters key -> document field.
KEYWORD_FILTERS = {
    "field": "field",
    "patent_type": "patent_type",
    "legal_status": "legal_status",
    "mode": "mode",
    "outlet": "outlet_codes",
    "owner": "owner_id",
    "status": "status",
}


class SearchUnavailable(RuntimeError):
    """The engine cannot be reached or answered with an error it cannot recover from."""


@dataclass
class Query:
    text: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    # Visibility: documents whose status is in `statuses`, or whose owner is `also_owner_id`.
    statuses: tuple[str, ...] | None = None
    also_owner_id: int | None = None
    sort: str = "relevance"
    offset: int = 0
    size: int = 20
    facets: bool = True
    facet_size: int = 10
    highlight: bool = True


@dataclass
class Hit:
    id: int
    score: float
    source: dict
    highlight: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FacetValue:
    value: str
    count: int
    label: str | None = None


@dataclass
class Result:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    took_ms: float = 0.0


@dataclass
class Suggestion:
    text: str
    kind: str  # title | owner | ipc


class SearchBackend(Protocol):
    name: str

    def ensure_ready(self) -> None: ...
    def index(self, documents: Iterable[dict]) -> int: ...
    def delete(self, ids: Iterable[int]) -> int: ...
    def search(self, query: Query) -> Result: ...
    def suggest(self, prefix: str, limit: int = 10, statuses: tuple[str, ...] | None = None) -> list[Suggestion]: ...
    def match(self, terms: list[tuple[str, float]], statuses: tuple[str, ...] | None = None,
              size: int = 100) -> list[tuple[int, float]]: ...
    def rank_text(self, text: str, statuses: tuple[str, ...] | None = None,
                  size: int = 50) -> list[tuple[int, float]]: ...
    def count(self) -> int: ...
    def health(self) -> dict: ...
    # Rebuild without downtime: while a rebuild runs, index()/delete() write to both generations.
    def begin_rebuild(self) -> str: ...
    def prepare(self, documents: Iterable[dict]) -> Any: ...
    def write_prepared(self, target: str, prepared: Any) -> int: ...
    def index_into(self, target: str, documents: Iterable[dict]) -> int: ...
    def finish_rebuild(self, target: str) -> None: ...
    def abort_rebuild(self, target: str) -> None: ...
    def reset(self) -> None: ...


def price_band(price_fen: int | None, negotiable: bool) -> str:
    if price_fen is None:
        return NEGOTIABLE_BAND
    for label, low, high in PRICE_BANDS:
        if (low is None or price_fen >= low) and (high is None or price_fen < high):
            return label
    return NEGOTIABLE_BAND


def validate_document(doc: dict) -> dict:
    required = ("id", "title", "status", "mode", "owner_id", "ipc_levels")
    missing = [key for key in required if key not in doc]
    if missing:
        raise ValueError(f"document lacks {missing}")
    return doc
