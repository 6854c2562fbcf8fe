"""`flask matching train | status`: the matching model is built from the catalogue in the database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from .retraining import TooFewPatents, read_catalogue, train_from_database
from .training import PSEUDO_QUERIES

matching_cli = AppGroup("matching", help="The supply-demand matching model.")


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
    try:
        summary = train_from_database(directory, dimensions=dimensions, pseudo_queries=pseudo_queries,
                                      progress=lambda message: click.echo(f"  {message}"))
    except TooFewPatents as exc:
        raise click.ClickException(str(exc)) from exc
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
                        "calibration": (meta.get("calibration_report") or {}).get("cross_fitted")}
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
    try:
        docs, _, _ = read_catalogue()
        report = recalibrate(docs, model_dir(), pseudo_queries=pseudo_queries,
                             progress=lambda m: click.echo(f"  {m}"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
