"""A per-account slowdown after repeated failed logins, keyed by account *and* client address.

After LOGIN_FAILURES_BEFORE_SLOWDOWN failures within 15 minutes for one e-mail from one address, each
further attempt from that address must wait 2, 4, 8, ... seconds (at most 15 minutes) after the last
failure, answered 429 with Retry-After before any password is hashed. The real owner, at another
address, is never slowed by an attacker's failures, so the slowdown cannot be turned into a lockout;
the per-address limits on the login route (LOGIN_RATE_LIMIT) bound what one address can try across
accounts. A success clears the count."""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import current_app, request

from app.errors import DomainError
from app.extensions import limiter

log = logging.getLogger(__name__)
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


def _storage():
    """The limiter's storage, or None when limits are off or the storage (Redis) is unreachable: the
    slowdown is then skipped rather than turning every login into an error (the per-address limits fall
    back to memory on their own)."""
    if not limiter.enabled:
        return None
    try:
        storage = limiter.storage
        return storage if storage.check() else None
    except Exception:  # noqa: BLE001 - any storage failure
        log.warning("login throttle storage unavailable; the per-account slowdown is skipped")
        return None


def check(email: str) -> None:
    """Refuse (429) an attempt that comes before the slowdown's wait has passed."""
    storage = _storage()
    key = _key("wait", email)
    if storage is not None and storage.get(key) > 0:
        raise TooManyAttempts(max(1, math.ceil(storage.get_expiry(key) - time.time())))


def failed(email: str) -> None:
    storage = _storage()
    if storage is None:
        return
    failures = storage.incr(_key("failures", email), WINDOW_SECONDS)
    over = failures - current_app.config["LOGIN_FAILURES_BEFORE_SLOWDOWN"]
    if over >= 0:
        storage.incr(_key("wait", email), min(2 ** (over + 1), MAX_DELAY_SECONDS))


def succeeded(email: str) -> None:
    storage = _storage()
    if storage is not None:
        storage.clear(_key("failures", email))
        storage.clear(_key("wait", email))
