"""Job kinds: what runs for each, how often it may be tried, and schedules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from app import clock


@dataclass(frozen=True)
class Every:
    """Run every `seconds`."""

    seconds: int

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class DailyAt:
    """Run once a business day at this time of the business timezone."""

    hour: int
    minute: int = 0

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(clock.zone())
        candidate = datetime.combine(local.date(), time(self.hour, self.minute), tzinfo=clock.zone())
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate.astimezone(moment.tzinfo)


@dataclass(frozen=True)
class JobKind:
    name: str
    func: Callable[[dict, JobContext], None]
    max_attempts: int = 5
    # Seconds a claim holds before another worker may take the job over (a crashed worker's job);
    # long jobs renew it with ctx.heartbeat().
    lease_seconds: int = 300
    # Run by the request that wrote it, right after its commit (cheap work only: the client waits).
    eager: bool = False
    # Claiming one job of this kind completes every other due one: the work is "catch up", not per row.
    coalesce: bool = False
    schedule: Every | DailyAt | None = None


class JobContext:
    """What a running job may tell the queue: its progress, and that it is still alive."""

    def __init__(self, job_id: int, worker: str, heartbeat: Callable[[int | None, int | None], None], *,
                 attempt: int = 1, max_attempts: int = 1):
        self.job_id = job_id
        self.worker = worker
        self.attempt = attempt
        self.max_attempts = max_attempts
        self._heartbeat = heartbeat

    def progress(self, done: int | None, total: int | None = None) -> None:
        """Record progress and renew the claim; written in the job's current transaction."""
        self._heartbeat(done, total)

    def heartbeat(self) -> None:
        self._heartbeat(None, None)


class Retry(Exception):  # noqa: N818 - a signal, not an error
    """Raise from a job to try again later without counting it as a failure of the code."""

    def __init__(self, message: str, delay_seconds: float = 5.0):
        super().__init__(message)
        self.delay_seconds = delay_seconds


KINDS: dict[str, JobKind] = {}


def job(name: str, **options) -> Callable:
    """Register `func(payload, ctx)` as the job kind `name`."""

    def decorator(func):
        KINDS[name] = JobKind(name=name, func=func, **options)
        return func

    return decorator


def kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} is registered") from None
