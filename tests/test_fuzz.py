"""Fuzzing from the app's own OpenAPI document (schemathesis): every operation, as anonymous and as each
role, with generated valid and invalid inputs. Nothing may answer 5xx; every answer must be one the
document describes, in its schema, and every error in the one format.

More examples than CI's default (FUZZ_EXAMPLES, 8 per operation):

    FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_fuzz.py
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
ROLES = ("anonymous", "university", "enterprise", "staff", "admin")
ERROR_KEYS = {"code", "status", "message", "reason", "request_id"}


class _SuiteApp:
    """The WSGI app schemathesis calls: a throwaway app serves the document while the module loads, the
    suite's own app (its scratch database, each test's rolled-back transaction) serves the cases.
    (schemathesis' lazy fixture loader reads a pytest internal that pytest 9 removed.)"""

    target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


_SUITE_APP = _SuiteApp()
_SUITE_APP.target = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "MATCHING_MODEL_DIR": None})
schema = schemathesis.openapi.from_wsgi("/openapi.json", _SUITE_APP)


@pytest.fixture(autouse=True)
def _serve_the_suite_app(app):
    _SUITE_APP.target = app


@pytest.fixture
def tokens(world):
    return {role: world.by_role(role) for role in ROLES}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_input_reaches_a_5xx(case, tokens, session):
    for role in ROLES:
        headers = {**(case.headers or {}), **tokens[role]}
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                 content_type_conformance, response_schema_conformance])
        if response.status_code >= 400:
            body = response.json()
            assert ERROR_KEYS <= set(body), (role, case.method, case.path, body)
            assert isinstance(body.get("errors", {}), dict)
            assert all(isinstance(v, list) for v in body.get("errors", {}).values())
        session.rollback()
