"""`flask worker`: runs due jobs, keeps the schedules queued and prunes old rows, until stopped."""

from __future__ import annotations

import logging
import signal
import time

from app import clock
from app.extensions import db

from . import queue

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 60.0


class Worker:
    def __init__(self, *, interval: float = 1.0, kinds: list[str] | None = None,
                 skip_kinds: list[str] | None = None):
        self.interval = interval
        self.kinds = kinds
        self.skip_kinds = skip_kinds
        self.stopping = False
        self._housekeeping_due = 0.0

    def stop(self, *_args) -> None:
        """Finish the job in hand, then leave (SIGTERM, SIGINT)."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def housekeeping(self) -> None:
        if time.monotonic() < self._housekeeping_due:
            return
        self._housekeeping_due = time.monotonic() + HOUSEKEEPING_SECONDS
        try:
            queue.ensure_schedules()
            queue.prune()
        except Exception:  # noqa: BLE001 - a database hiccup must not stop the worker
            db.session.rollback()
            log.exception("worker housekeeping failed")

    def run(self, *, once: bool = False) -> int:
        """Run jobs until stopped; with `once`, until nothing is due. Returns the number run."""
        ran = 0
        worker = queue.worker_name()
        while not self.stopping:
            self.housekeeping()
            try:
                claimed = queue.claim(1, kinds=self.kinds, skip_kinds=self.skip_kinds, worker=worker)
            except Exception:  # noqa: BLE001 - the database may be restarting; try again shortly
                db.session.rollback()
                log.exception("claiming a job failed")
                claimed = []
                if once:
                    raise
            if claimed:
                status = queue.execute(claimed[0], worker)
                log.info("job %s %s at %s", claimed[0], status, clock.now().isoformat())
                ran += 1
                continue
            db.session.remove()  # no connection is held while idle
            if once:
                return ran
            time.sleep(self.interval)
        return ran
