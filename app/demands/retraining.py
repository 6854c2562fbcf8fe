"""Building the matching model from the database: the catalogue as training reads it, with the passage
vectors already encoded, and the retrain that runs in a child process at a lower CPU priority. Used by
`flask matching train`, the `matching.train` job (freshness.py) and the benchmarks."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from app import clock
from app.db import read_only
from app.extensions import db

from .models import stored_vectors
from .training import PSEUDO_QUERIES


class TooFewPatents(ValueError):
    pass


def catalogue_docs(batch: int = 5000):
    """Every patent as the model reads it (main IPC code first), streamed in id order."""
    from app.indexing.documents import ipc_codes_by_patent
    from app.patents.models import Patent

    from .analysis import doc_body
    from .text import Doc

    patent = Patent.__table__
    last = 0
    while True:
        rows = db.session.execute(sa.select(patent.c.id, patent.c.title, patent.c.abstract, patent.c.claims)
                                  .where(patent.c.id > last).order_by(patent.c.id).limit(batch)).all()
        if not rows:
            return
        codes = ipc_codes_by_patent(r.id for r in rows)
        for r in rows:
            yield Doc(r.id, r.title or "", doc_body(r.abstract, r.claims), codes.get(r.id, []))
        last = rows[-1].id


def read_catalogue() -> tuple[list, dict, str]:
    """Every patent as the model reads it, the passage vectors the background job stored (hash ->
    vector), and when they were read (what a model trained on them is as fresh as)."""
    with read_only():
        read_at = clock.now().isoformat()
        docs = list(catalogue_docs())
        known = {digest: vector for _, digest, vector in stored_vectors()}
        db.session.commit()
    if len(docs) < 20:
        raise TooFewPatents(f"{len(docs)} patents are too few to learn from; import the inventory first")
    return docs, known, read_at


def train_from_database(directory: Path, *, dimensions: int, pseudo_queries: int, progress=None) -> dict:
    from .training import train

    docs, known, read_at = read_catalogue()
    return train(docs, directory, dimensions=dimensions, pseudo_queries=pseudo_queries, progress=progress,
                 known_passages=known, trained_at=read_at)


TRAIN_STEPS = 12  # the stage messages train() says, for a job's progress


def train_in_background(directory: Path, *, progress, dimensions: int = 160,
                        pseudo_queries: int = PSEUDO_QUERIES, niceness: int = 10) -> dict:
    """Train in a child process at a lower CPU priority, so that the API's matches keep their latency
    while a retrain runs; the database is read here, the child only computes and writes the files.
    `progress(done, total)` is called at each stage (and every passage batch, as a heartbeat)."""
    import multiprocessing

    docs, known, read_at = read_catalogue()
    context = multiprocessing.get_context("spawn")  # not fork: the encoder's OpenMP threads do not survive one
    messages = context.Queue()
    child = context.Process(target=_train_child, args=(docs, str(directory), dimensions, pseudo_queries, known,
                                                       read_at, niceness, messages), daemon=True)
    child.start()
    done, summary = 0, None
    beat = time.monotonic()
    while True:
        try:
            kind, value = messages.get(timeout=5)
        except Exception:  # noqa: BLE001 - queue.Empty: check the child is still alive
            if not child.is_alive():
                break
            if time.monotonic() - beat > 60:  # a long stage says nothing for many minutes: keep the claim
                beat = time.monotonic()
                progress(done, TRAIN_STEPS)
            continue
        if kind == "stage":
            done = min(done + 1, TRAIN_STEPS - 1)
            progress(done, TRAIN_STEPS)
        elif kind == "tick":
            progress(done, TRAIN_STEPS)
        elif kind == "done":
            summary = value
            break
        elif kind == "error":
            child.join(5)
            raise RuntimeError(f"training failed: {value}")
    child.join(30)
    if summary is None:
        raise RuntimeError(f"training stopped without a model (exit code {child.exitcode})")
    progress(TRAIN_STEPS, TRAIN_STEPS)
    return summary


def _train_child(docs, directory, dimensions, pseudo_queries, known, read_at, niceness, messages) -> None:
    import os

    from .training import train

    try:
        os.nice(niceness)
        summary = train(docs, directory, dimensions=dimensions, pseudo_queries=pseudo_queries, known_passages=known,
                        trained_at=read_at,
                        progress=lambda m: messages.put(("tick" if m.startswith("  ") else "stage", m)))
        messages.put(("done", summary))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the job
        messages.put(("error", f"{type(exc).__name__}: {exc}"))
