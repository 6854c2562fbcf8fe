"""`flask matching train | status`: the matching model is built from the catalogue in the database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.db import read_only
from app.extensions import db

from .training import PSEUDO_QUERIES

matching_cli = AppGroup("matching", help="The supply-demand matching model.")


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
    from app import clock

    from . import encoder
    from .models import PassageVector

    with read_only():
        read_at = clock.now().isoformat()
        docs = list(catalogue_docs())
        known = {}
        for row in db.session.execute(sa.select(PassageVector.text_hash, PassageVector.vector,
                                                PassageVector.encoder)):
            vector = encoder.from_bytes(row.vector, row.encoder)
            if vector is not None:
                known[int(row.text_hash)] = vector
        db.session.commit()
    if len(docs) < 20:
        raise click.ClickException(f"{len(docs)} patents are too few to learn from; import the inventory first")
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


@matching_cli.command("train")
@click.option("--dimensions", default=160, show_default=True, help="Latent dimensions.")
@click.option("--pseudo-queries", default=PSEUDO_QUERIES, show_default=True, help="Queries the re-ranker is fitted on.")
@click.option("--if-missing", is_flag=True, help="Do nothing when a model is already in place (make run).")
def train_command(dimensions: int, pseudo_queries: int, if_missing: bool) -> None:
    """Build the matching model from every patent in the database and write it where the app loads it."""
    from .loading import current_model, model_dir

    directory = model_dir() or Path(current_app.instance_path) / "matching-model"
    if if_missing and current_model() is not None:
        click.echo(f"a matching model is in place in {directory}; not retrained (run without --if-missing to)")
        return
    started = time.perf_counter()
    summary = train_from_database(directory, dimensions=dimensions, pseudo_queries=pseudo_queries,
                                  progress=lambda message: click.echo(f"  {message}"))
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    click.echo(f"trained in {time.perf_counter() - started:.1f}s; running workers pick it up on their next match")


@matching_cli.command("status")
def status_command() -> None:
    """Which model is loaded, from where, how old, how much of the catalogue it has seen, and the
    background work (passages waiting to be encoded, a retrain)."""
    from app.jobs.models import Job

    from .freshness import measure, passages_to_encode
    from .loading import current_model, model_dir

    model = current_model()
    fresh = measure(model).as_dict()
    jobs = {row.kind: {"status": row.status, "progress": [row.progress_done, row.progress_total]}
            for row in db.session.scalars(sa.select(Job).where(
                Job.kind.in_(["matching.train", "matching.encode_passages"])).order_by(Job.id))}
    out = {"directory": str(model_dir()), "freshness": fresh,
           "passages_to_encode": len(passages_to_encode(model)), "jobs": jobs}
    if model is None:
        out["model"] = None
        out["note"] = "no model: matching keeps the engine's ranking; run `flask matching train` (or let the job)"
    else:
        meta = model.meta
        out["model"] = {"version": meta["version"], "documents": meta["documents"], "dimensions": meta["dimensions"],
                        "ranker": meta["ranker"], "fit": meta.get("fit"),
                        "calibration": (meta.get("calibration_report") or {}).get("cross_fitted", {}) and
                        {"ece": meta["calibration_report"]["cross_fitted"]["ece"]}}
    click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))


@matching_cli.command("calibrate")
@click.option("--pseudo-queries", default=600, show_default=True)
def calibrate_command(pseudo_queries: int) -> None:
    """Fit the model's score calibration again on fresh pseudo-queries (a model trained before
    calibration existed, or a check of one) and print its reliability."""
    from .loading import current_model, model_dir
    from .training import recalibrate

    if current_model() is None:
        raise click.ClickException("no model to calibrate; run `flask matching train`")
    docs, _, _ = read_catalogue()
    try:
        report = recalibrate(docs, model_dir(), pseudo_queries=pseudo_queries,
                             progress=lambda m: click.echo(f"  {m}"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
