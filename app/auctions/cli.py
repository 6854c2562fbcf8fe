"""`flask auctions close-due`: close every lot past its end now (what the worker's sweep does each minute)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

auctions_cli = AppGroup("auctions", help="Auction sessions and lots.")


@auctions_cli.command("close-due")
def close_due_command() -> None:
    """Close every lot past its (extended) end, each once, and the sessions they leave with no live lot."""
    from app.jobs import run_after_commit

    from .jobs import close_everything_due

    closed = close_everything_due()
    run_after_commit()
    click.echo(f"{closed} lot(s) closed")
