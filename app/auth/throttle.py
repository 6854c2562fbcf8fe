"""A per-account slowdown after repeated failed logins, keyed by account *and* client address.

After LOGIN_FAILURES_BEFORE_SLOWDOWN failures within 15 minutes for one e-mail from one address, each
further attempt from that address must wait 2, 4, 8, ... seconds (at most 15 minutes) after the last
failure, answered 429 with Retry-After before any password is hashed. The real owner, at another
address, is never slowed by an attacker's failures, so the slowdown cannot be turned into a lockout;
the per-address limits on the login route (LOGIN_RATE_LIMIT) bound what one address can try across
accounts. A success clears the count."""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app, request

from app.errors import DomainError
from app.extensions import limiter

WINDOW_SECONDS = 15 * 60
MAX_DELAY_SECONDS = 15 * 60


class TooManyAttempts(DomainError):
    status_code = 429

    def __init__(self, retry_after: int):
        super().__init__("too_many_attempts", f"too many failed attempts; retry in {retry_after} s")
        self.retry_after = retry_after


def _key(kind: str, email: str) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{request.remote_addr}".encode()).hexdigest()[:32]
    return f"login-{kind}:{digest}"


def check(email: str) -> None:
    """Refuse (429) an attempt that comes before the slowdown's wait has passed."""
    if not limiter.enabled:
        return
    storage = limiter.storage
    key = _key("wait", email)
    if storage.get(key) > 0:
        raise TooManyAttempts(max(1, math.ceil(storage.get_expiry(key) - time.time())))


def failed(email: str) -> None:
    if not limiter.enabled:
        return
    storage = limiter.storage
    failures = storage.incr(_key("failures", email), WINDOW_SECONDS)
    over = failures - current_app.config["LOGIN_FAILURES_BEFORE_SLOWDOWN"]
    if over >= 0:
        storage.incr(_key("wait", email), min(2 ** (over + 1), MAX_DELAY_SECONDS))


def succeeded(email: str) -> None:
    if not limiter.enabled:
        return
    limiter.storage.clear(_key("failures", email))
    limiter.storage.clear(_key("wait", email))
