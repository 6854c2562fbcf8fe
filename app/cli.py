"""Operator commands: `flask seed demo`, `flask users create-admin`, `flask patents import`, ..."""

from __future__ import annotations

import os
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db


def register(app: Flask) -> None:
    seed = AppGroup("seed", help="Demo data.")
    users = AppGroup("users", help="User administration.")
    patents = AppGroup("patents", help="Patent inventory.")
    listings = AppGroup("listings", help="Listing maintenance.")

    @seed.command("demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when the database already has data.")
    @click.option("--patents", "patent_count", default=200, show_default=True)
    def seed_demo(if_empty: bool, patent_count: int) -> None:
        """Outlets, organisations, one user per role, generated patents and listings."""
        from app.demo.seed import DEMO_PASSWORD, USERS, database_is_empty, seed_demo

        if not database_is_empty():
            if if_empty:
                click.echo("The database already has data; demo seed skipped.")
                return
            raise click.ClickException("the database is not empty; the demo seed needs an empty one")
        counts = seed_demo(patent_count)
        db.session.commit()
        click.echo("Demo data: " + ", ".join(f"{value} {key}" for key, value in counts.items()))
        click.echo(f"Users (password for all: {DEMO_PASSWORD}):")
        for email, role, org in USERS:
            click.echo(f"  {role:<11} {email:<26} {org or ''}")
        _run_jobs_after_cli()

    @users.command("create-admin")
    @click.argument("email")
    def create_admin(email: str) -> None:
        """Create the first admin; the password comes from ADMIN_PASSWORD or a prompt."""
        from app.auth.models import SYSTEM
        from app.auth.services import create_user
        from app.errors import DomainError

        password = os.environ.get("ADMIN_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        try:
            user = create_user(SYSTEM, email, password, "admin", None)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"Admin {user.email} created (id {user.id}).")

    @users.command("list")
    @click.option("--role", type=click.Choice(["university", "enterprise", "staff", "admin"]))
    @click.option("--inactive", is_flag=True, help="Only deactivated accounts.")
    def list_users(role: str | None, inactive: bool) -> None:
        """Every user: id, e-mail, role, organisation, active."""
        from app.auth.administration import users_query

        filters = {"role": role, "is_active": False if inactive else None}
        for user in db.session.scalars(users_query(filters)):
            org = user.organization.name if user.organization else ""
            click.echo(f"{user.id:>6}  {user.email:<32} {user.role:<11} {'active' if user.is_active else 'inactive':<9}"
                       f"{org}")

    def _operator_user(email: str):
        from app.auth.services import get_user_by_email

        user = get_user_by_email(email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        return user

    @users.command("deactivate")
    @click.argument("email")
    def deactivate_user(email: str) -> None:
        """Deactivate an account: its sessions end at once and it can no longer sign in."""
        from app.auth.administration import update_user
        from app.auth.models import SYSTEM
        from app.errors import DomainError

        try:
            update_user(SYSTEM, _operator_user(email).id, {"is_active": False})
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"{email} is deactivated; its sessions have ended.")

    @users.command("reset-code")
    @click.argument("email")
    def reset_code(email: str) -> None:
        """Issue a one-time password reset code (valid 24 hours) to hand to the user."""
        from app.auth.administration import issue_reset_code
        from app.auth.models import SYSTEM
        from app.errors import DomainError

        try:
            code, row = issue_reset_code(SYSTEM, _operator_user(email).id)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"Reset code for {email}: {code} (valid until {row.expires_at:%Y-%m-%d %H:%M} UTC; "
                   "POST /api/v1/auth/reset with it)")

    @patents.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--owner", required=True, help="The owner organisation: its id or its exact name.")
    @click.option("--outlet", "outlets", multiple=True, help="Shelve the listings at this outlet (repeatable).")
    @click.option("--list", "list_mode", help="Also create a listing per patent in this mode.")
    @click.option("--publish", is_flag=True, help="Put the listings straight into listed (reviewed inventory).")
    def import_patents(file: Path, owner: str, outlets: tuple[str, ...], list_mode: str | None,
                       publish: bool) -> None:
        """Import an inventory from CSV, XLSX or JSONL (upserts by application number); runs in this process
        and exits non-zero when any row failed (the good rows stay)."""
        from app.auth.models import SYSTEM, Organization
        from app.errors import DomainError
        from app.imports.jobs import run_import
        from app.imports.models import ImportRowError
        from app.imports.services import create_import
        from app.patents.models import LISTING_MODES

        if list_mode and list_mode not in LISTING_MODES:
            raise click.BadParameter(f"one of {', '.join(LISTING_MODES)}", param_hint="--list")
        org = db.session.get(Organization, int(owner)) if owner.isdigit() else db.session.scalar(
            sa.select(Organization).where(Organization.name == owner))
        if org is None:
            raise click.ClickException(f"no organisation '{owner}'")
        try:
            record = create_import(SYSTEM, file.name, file.read_bytes(),
                                   {"owner_organization_id": org.id, "outlet_codes": list(outlets),
                                    "list_mode": list_mode, "publish": publish}, queue=False)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        with click.progressbar(length=record.total_rows or 0, label=f"Importing {file.name}") as bar:
            shown = [0]

            def progress(done: int, total: int | None) -> None:
                bar.update(done - shown[0])
                shown[0] = done

            record = run_import(record.id, progress=progress)
        click.echo(f"import {record.id} {record.status}: created {record.created}, updated {record.updated}, "
                   f"unchanged {record.unchanged}, listings {record.listed}, errors {record.failed}")
        if record.error:
            click.echo(f"  {record.error}", err=True)
        errors = db.session.scalars(sa.select(ImportRowError).where(ImportRowError.import_id == record.id)
                                    .order_by(ImportRowError.row).limit(50)).all()
        for error in errors:
            click.echo(f"  row {error.row}: {error.field or '-'}: {error.reason}: {error.message}")
        if record.failed > 50:
            click.echo(f"  ... and {record.failed - 50} more (GET /api/v1/imports/{record.id}/errors)")
        _run_jobs_after_cli()
        if record.status != "done" or record.failed:
            raise SystemExit(1)

    @listings.command("expire")
    def expire() -> None:
        """Expire active listings whose patent has lapsed or run out of term (run daily)."""
        from app.auth.models import SYSTEM
        from app.patents.listings import expire_lapsed_listings

        count = expire_lapsed_listings(SYSTEM)
        db.session.commit()
        click.echo(f"{count} listing(s) expired")
        _run_jobs_after_cli()

    for group in (seed, users, patents, listings):
        app.cli.add_command(group)
    from app.jobs.cli import jobs_cli, worker_command

    app.cli.add_command(jobs_cli)
    app.cli.add_command(worker_command)
    from app.indexing.cli import search_cli

    app.cli.add_command(search_cli)
    from app.auctions.cli import auctions_cli
    from app.demands.cli import matching_cli
    from app.stats.cli import stats_cli

    app.cli.add_command(auctions_cli)
    app.cli.add_command(matching_cli)
    app.cli.add_command(stats_cli)


def _run_jobs_after_cli() -> None:
    """Run what the command's commits asked for right away (the search index); the worker runs the rest,
    and keeps what failed (an engine that is down) for later."""
    from app.jobs import backlog, run_after_commit

    run_after_commit()
    waiting = backlog()
    if waiting["due"]:
        click.echo(f"{waiting['due']} background job(s) wait for the worker (`flask worker`)")
