"""`python -m app.serve`: what a deployment runs, in one command for `make run`: the API under gunicorn
and the background workers (`flask worker`: one for everything but the long jobs, one for those). If
any stops, the others are stopped too, so a supervisor (or the person at the terminal) sees the failure
instead of an API whose jobs silently never run.

Production runs them as separate services (see docs/operations.md), scaling each on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LONG_JOBS = ("matching.train",)


def main() -> int:
    port = os.environ.get("PORT", "8000")
    workers = os.environ.get("WORKERS", "2")
    api = [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", f"0.0.0.0:{port}",
           "--workers", workers, "wsgi:app"]
    flask_worker = [str(BIN / "flask"), "--app", "wsgi.py", "worker"]
    # A retrain runs for many minutes: a worker of its own keeps indexing and notifications flowing.
    long_kinds = [arg for kind in LONG_JOBS for arg in ("--kind", kind)]
    general = flask_worker + [arg for kind in LONG_JOBS for arg in ("--skip-kind", kind)]
    # Below the API's priority: an import's encoding or a retrain must not take the cores from requests.
    niceness = int(os.environ.get("WORKER_NICENESS", "5"))
    children = [subprocess.Popen(api)] + [subprocess.Popen(cmd, preexec_fn=lambda: os.nice(niceness))
                                          for cmd in (general, flask_worker + long_kinds)]

    def stop(*_args):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()
        deadline = time.monotonic() + 30
        for child in children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
    return max((child.returncode or 0) for child in children)


if __name__ == "__main__":
    sys.exit(main())
