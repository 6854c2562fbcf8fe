"""One-time codes (password resets, invitations): random, shown once, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets

# No 0/O, 1/I/L: a code is read aloud or typed from a screen.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 16  # ~79 bits: beyond guessing, even without the throttling in front of it


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, LENGTH, 4))


def hash_code(code: str) -> str:
    """Dashes, spaces and case do not matter, so a code typed as read still matches."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()
