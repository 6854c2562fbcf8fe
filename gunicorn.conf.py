"""gunicorn settings, chosen on purpose (`gunicorn --config gunicorn.conf.py wsgi:app`); the command line
(PORT, WORKERS in `make run`) and GUNICORN_CMD_ARGS override them."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WORKERS", "2"))
# Threads serve requests that wait on the database or the search engine; the GIL still bounds CPU work.
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "4"))
# No request does long work (imports, training and reindexing are jobs), so a request past 30 s is stuck.
timeout = 30
graceful_timeout = 30
keepalive = 5
# Bounded request lines and headers: a 100 KB header is refused by gunicorn before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
accesslog = "-"
