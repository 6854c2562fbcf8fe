"""The `imports.run` job."""

from __future__ import annotations

from app.jobs import job

from .services import mark_failed, run_import


@job("imports.run", max_attempts=3, lease_seconds=300)
def run(payload: dict, ctx) -> None:
    import_id = payload["import_id"]
    try:
        # Each committed batch renews the lease, so a long file is not taken over while it runs.
        run_import(import_id, progress=lambda done, total: _beat(ctx, done, total))
    except Exception as exc:
        from app.extensions import db

        db.session.rollback()
        if ctx.attempt >= ctx.max_attempts:
            mark_failed(import_id, f"the import job failed: {type(exc).__name__}")
        raise


def _beat(ctx, done: int, total: int | None) -> None:
    from app.extensions import db

    ctx.progress(done, total)
    db.session.commit()
