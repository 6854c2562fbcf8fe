"""`flask worker` and `flask jobs status | retry`."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask.cli import AppGroup, with_appcontext

from app.extensions import db

jobs_cli = AppGroup("jobs", help="Background jobs.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run what is due, then exit (cron, tests).")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls when idle.")
@click.option("--kind", "kinds", multiple=True, help="Only these job kinds (repeatable).")
@click.option("--skip-kind", "skip_kinds", multiple=True,
              help="Never these job kinds (repeatable): long ones left to a worker of their own.")
@with_appcontext
def worker_command(once: bool, interval: float, kinds: tuple[str, ...], skip_kinds: tuple[str, ...]) -> None:
    """Run background jobs: search indexing, notifications, imports, schedules. Run one or more."""
    from .worker import Worker

    worker = Worker(interval=interval, kinds=list(kinds) or None, skip_kinds=list(skip_kinds) or None)
    worker.install_signal_handlers()
    if not once:
        click.echo("worker started; Ctrl-C to stop")
    ran = worker.run(once=once)
    click.echo(f"{ran} job(s) run")


@jobs_cli.command("status")
@click.option("--failed", "show_failed", default=10, show_default=True, help="How many failed jobs to list.")
def status_command(show_failed: int) -> None:
    """The backlog by kind and status, and the latest failures with their errors."""
    from .models import Job
    from .queue import backlog

    click.echo(json.dumps(backlog(), indent=2))
    rows = db.session.execute(sa.select(Job.kind, Job.status, sa.func.count()).group_by(Job.kind, Job.status)
                              .order_by(Job.kind, Job.status)).all()
    for job_kind, status, count in rows:
        click.echo(f"  {job_kind:<32} {status:<8} {count}")
    failed = db.session.scalars(sa.select(Job).where(Job.status == "failed").order_by(Job.id.desc())
                                .limit(show_failed)).all()
    for job in failed:
        click.echo(f"failed job {job.id} ({job.kind}, {job.attempts} attempts): {job.last_error}")


@jobs_cli.command("retry")
@click.argument("job_id", type=int, required=False)
def retry_command(job_id: int | None) -> None:
    """Queue a failed job again (or every failed job)."""
    from .queue import requeue_failed

    click.echo(f"{requeue_failed(job_id)} job(s) queued again")
