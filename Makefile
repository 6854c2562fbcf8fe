# Two commands for a fresh machine: `make run` serves the API with demo data, `make test` runs the suite.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8000
WORKERS ?= 2
export FLASK_APP := wsgi.py

.PHONY: run test lint bench-search clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# The API (gunicorn) and the background worker (`flask worker`: indexing, notifications, imports,
# schedules) together, as a deployment runs them; Ctrl-C stops both.
run: $(VENV)/.installed
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask seed demo --if-empty
	$(VENV)/bin/flask search ensure
	$(VENV)/bin/flask matching train --if-missing
	PORT=$(PORT) WORKERS=$(WORKERS) $(VENV)/bin/python -m app.serve

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) instance .pytest_cache
