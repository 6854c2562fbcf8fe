"""`flask stats refresh` (what the worker's job does after each change and every minute) and `flask stats
rebuild` (every day and month worked out again: after loading rows by SQL, past the app)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

stats_cli = AppGroup("stats", help="The statistics' cells.")


@stats_cli.command("refresh")
def refresh_command() -> None:
    """Work out the cells of the days and months changed since the last refresh."""
    from . import cells

    click.echo(f"{cells.refresh_all()} day(s) and month(s) refreshed")


@stats_cli.command("rebuild")
def rebuild_command() -> None:
    """Work out the cells of every day and month again from the rows."""
    from . import cells

    click.echo(f"{cells.rebuild()} day(s) and month(s) rebuilt")
