"""The staff dashboard page (/dashboard): one HTML file with its own script and styles, no external
assets and no build step. It signs in with the API's login and reads the JSON API like any client."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response

PAGE = Path(__file__).with_name("dashboard.html")
blp = Blueprint("dashboard", __name__)


@lru_cache(maxsize=1)
def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


@blp.get("/dashboard")
def dashboard() -> Response:
    # A fresh nonce per answer: only the page's own script and styles run, nothing injected.
    nonce = secrets.token_urlsafe(16)
    html = _page().replace("<script>", f'<script nonce="{nonce}">').replace("<style>", f'<style nonce="{nonce}">')
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
        "img-src 'self' data: blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-cache"
    return response
