"""What matching reads of a demand: its weighted words, related words, latent and encoder vectors and IPC
guess; kept per process, since a demand only changes when it is edited (or the model is retrained)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from math import log

import numpy as np

from . import encoder, matching
from .model import TextModel
from .models import Demand
from .text import DEMAND_BOILERPLATE, bigrams, words

CLAIMS_PREFIX = 400  # the claims' opening: what is claimed, before the dependent details


def doc_body(abstract: str | None, claims: str | None) -> str:
    return " ".join(filter(None, [abstract, (claims or "")[:CLAIMS_PREFIX]]))


@dataclass
class Analysis:
    weights: dict[str, float]
    related: dict[str, float]
    vector: np.ndarray | None
    ipc: dict[str, float]
    bigrams: dict[str, float]
    dense: np.ndarray | None = None  # the pretrained encoder's vector of the demand (with a model)


def analyse(text: str, model: TextModel | None, dense: np.ndarray | None = None) -> Analysis:
    """What matching reads of a demand's text; `dense`: its encoder vector when one is stored."""
    if model is None:
        # Without the catalogue's statistics a lone character (的, 是) cannot be judged: left out.
        counts = Counter(w for w in words(text) if len(w) > 1 and w not in DEMAND_BOILERPLATE)
        grams = Counter(g for g in bigrams(text) if g not in DEMAND_BOILERPLATE)
        return Analysis({w: 1.0 + log(c) for w, c in counts.items()}, {}, None, {},
                        {g: float(c) for g, c in grams.items()})
    weights = model.term_weights(text)
    related = model.related_terms(weights)
    vector = model.vector({**weights, **related})
    return Analysis(weights, related, vector, model.ipc_probabilities(vector), model.bigram_weights(text),
                    encoder.queries([text])[0] if dense is None else dense)


def stored_vector(demand: Demand) -> np.ndarray | None:
    return encoder.from_bytes(demand.text_vector, demand.text_encoder)


def store_vector(demand: Demand) -> None:
    """Encode the demand's text now (when it is written), for stored_vector to read at every match."""
    demand.text_vector = encoder.to_bytes(encoder.queries([demand_text(demand)])[0])
    demand.text_encoder = encoder.NAME


def demand_text(demand: Demand) -> str:
    return f"{demand.title}。{demand.description}"


def structured(demand: Demand) -> matching.Structured:
    return matching.Structured(budget_min_fen=demand.budget_min_fen, budget_max_fen=demand.budget_max_fen,
                               modes=list(demand.modes or []), region=demand.region,
                               ipc_hints=list(demand.ipc_hints or []))


_ANALYSES: OrderedDict = OrderedDict()
_ANALYSES_KEPT = 4096
_ANALYSES_LOCK = threading.Lock()


def demand_analysis(demand: Demand, model: TextModel | None) -> Analysis:
    """A demand's analysis, kept per process: its owner comes back to the same matches, every listing
    published and every reverse match reads all open demands, and a demand only changes when it is
    edited (or the model is retrained). An unsaved demand (no id) is analysed and not kept."""
    text = demand_text(demand)
    if not demand.id:
        return analyse(text, model, stored_vector(demand))
    # The text is part of the key: an edit within one clock tick would otherwise keep the old analysis.
    key = (demand.id, demand.updated_at, model.version if model else None, text)
    with _ANALYSES_LOCK:  # gthread workers share the cache
        analysis = _ANALYSES.get(key)
        if analysis is not None:
            _ANALYSES.move_to_end(key)
            return analysis
    analysis = analyse(text, model, stored_vector(demand))
    with _ANALYSES_LOCK:
        _ANALYSES[key] = analysis
        while len(_ANALYSES) > _ANALYSES_KEPT:
            _ANALYSES.popitem(last=False)
    return analysis
