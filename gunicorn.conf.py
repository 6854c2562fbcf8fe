"""gunicorn settings, chosen on purpose (`gunicorn --config gunicorn.conf.py wsgi:app`); the command line
(PORT, WORKERS in `make run`) and GUNICORN_CMD_ARGS override them."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WORKERS", "2"))
# Threads serve requests that wait on the database or the search engine; the GIL still bounds CPU work.
threads = int(os.environ.get("THREADS", "4"))
# THREADS=1 serves with the sync worker: one request at a time per process, the connection closed after
# each answer. Where CPU is the limit (an auction's last minutes on few cores) it answers more requests,
# and sooner, than gthread with one thread, which hands every request from its accepting thread to its
# serving one (docs/benchmarks.md, auctions); it needs a buffering reverse proxy (nginx) in front, as a
# slow client holds its process. More threads: gthread (keep-alive, requests that wait overlap).
worker_class = "gthread" if threads > 1 else "sync"
# No request does long work (imports, training and reindexing are jobs), so a request past 30 s is stuck.
timeout = 30
graceful_timeout = 30
keepalive = 5
# gunicorn answers requests past its own limits with an HTML page; these are set past the app's own
# (8 KB per header, app/guards.py), so that an oversized header gets the API's JSON 431 instead. Past
# these (a 1 MB header), gunicorn refuses it before any Python runs.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 262144
# No access log of gunicorn's own: the app writes one line per request already (app/guards.py: request id,
# user, route, status, duration), and formatting a second one costs every request.
accesslog = None
