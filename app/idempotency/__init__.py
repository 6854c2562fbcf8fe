"""Idempotency keys: a client retries a money-moving POST with the same `Idempotency-Key` and gets the
original answer, never a second deal."""

from .services import idempotent

__all__ = ["idempotent"]
