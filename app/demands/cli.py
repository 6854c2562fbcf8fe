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


def train_from_database(directory: Path, *, dimensions: int, pseudo_queries: int, progress=None) -> dict:
    from .training import train

    with read_only():
        docs = list(catalogue_docs())
        db.session.commit()
    if len(docs) < 20:
        raise click.ClickException(f"{len(docs)} patents are too few to learn from; import the inventory first")
    return train(docs, directory, dimensions=dimensions, pseudo_queries=pseudo_queries, progress=progress)


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
    """Which model is loaded, from where."""
    from .loading import current_model, model_dir

    model = current_model()
    if model is None:
        click.echo(f"no model in {model_dir()}: matching uses the engine and default weights; "
                   "run `flask matching train`")
        return
    meta = model.meta
    click.echo(json.dumps({"directory": str(model.directory), "version": meta["version"],
                           "documents": meta["documents"], "dimensions": meta["dimensions"],
                           "temperature": meta["temperature"], "ranker": meta["ranker"], "fit": meta.get("fit")},
                          ensure_ascii=False, indent=2))
