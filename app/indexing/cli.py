"""`flask search drain [--follow]`, `flask search reindex`, `flask search status`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from search import SearchUnavailable

search_cli = AppGroup("search", help="The search index.")


@search_cli.command("drain")
@click.option("--follow", is_flag=True, help="Keep draining (the search part of `flask worker`, which "
                                              "production runs instead).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls with --follow.")
def drain_command(follow: bool, interval: float) -> None:
    """Index what the outbox names now."""
    from .indexer import drain

    if follow:
        from app.jobs.worker import Worker

        click.echo("`flask worker` runs the search.drain job beside the others; running it for search only")
        worker = Worker(interval=interval, kinds=["search.drain"])
        worker.install_signal_handlers()
        worker.run()
        return
    try:
        click.echo(f"{drain(wait_seconds=5.0)} outbox row(s) indexed")
    except SearchUnavailable as exc:
        raise click.ClickException(f"search engine unavailable: {exc}") from None


@search_cli.command("reindex")
@click.option("--batch", default=1000, show_default=True)
def reindex_command(batch: int) -> None:
    """Build a fresh index and switch to it with no downtime."""
    from app.patents.models import Listing

    from .indexer import reindex

    total = db.session.query(Listing).count()
    with click.progressbar(length=total, label="Reindexing listings") as bar:
        count = reindex(batch, progress=bar.update)
    click.echo(f"{count} listing(s) indexed; the new index is live")


@search_cli.command("ensure")
def ensure_command() -> None:
    """Build the index if it is empty while the database has listings (a first start, a new engine)."""
    from app.patents.models import Listing

    from .indexer import backend, drain, reindex

    if backend().count() == 0 and db.session.query(Listing).count() > 0:
        click.echo(f"{reindex()} listing(s) indexed")
    else:
        click.echo(f"{drain(wait_seconds=5.0)} outbox row(s) indexed")


@search_cli.command("status")
def status_command() -> None:
    """Engine health, document count and outbox backlog."""
    from .indexer import backend, backlog

    try:
        health = backend().health()
    except SearchUnavailable as exc:
        health = {"engine": backend().name, "ok": False, "error": str(exc)}
    for key, value in {**health, **{f"backlog_{k}": v for k, v in backlog().items()}}.items():
        click.echo(f"{key}: {value}")
