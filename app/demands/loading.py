"""Which matching model the app uses: loaded at start-up, reloaded by any process when `flask matching train`
has written a newer one."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import current_app

from .model import TextModel

logger = logging.getLogger(__name__)


def model_dir(app=None) -> Path | None:
    configured = (app or current_app).config.get("MATCHING_MODEL_DIR")
    return Path(configured) if configured else None


def load_model(app) -> None:
    """Called at start-up; a newer model written by `flask matching train` is picked up on next use."""
    directory = model_dir(app)
    model = None
    if directory is not None:
        try:
            model = TextModel.load(directory)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("matching model in %s could not be loaded: %s", directory, exc)
    app.extensions["matching_model"] = model
    app.extensions["matching_model_stamp"] = _stamp(directory)


def _stamp(directory: Path | None) -> float | None:
    try:
        return (directory / "model.json").stat().st_mtime if directory else None
    except OSError:
        return None


def current_model() -> TextModel | None:
    app = current_app._get_current_object()
    if _stamp(model_dir(app)) != app.extensions.get("matching_model_stamp"):
        load_model(app)
    return app.extensions.get("matching_model")
