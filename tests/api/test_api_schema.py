"""Schemathesis: requests generated from the live OpenAPI document, signed in as each role.

Every answer must be no server error, a documented status, JSON, and match the schema.
Examples are bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from isv.api.app import create_app
from tests.api.conftest import ROLES

pytestmark = pytest.mark.postgres
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def tokens(api) -> dict[str, dict[str, str]]:
    return {role: api.headers(role) for role in ROLES}


# Loaded at import from an app of its own: the document needs no database, and the calls
# reach whichever database the module's `api` fixture configured (the app reads the settings
# on every request). Schemathesis's lazy loader (from_fixture) fails under pytest 9.
_turns = itertools.cycle(ROLES)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app())


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_generated_requests_get_no_server_error_and_answers_that_match_the_schema(
        case, api, tokens):
    # The roles take turns, so every operation is called as several roles and the run stays
    # short (a parametrised role is not possible: the schema's tests take no parameters).
    role = next(_turns)
    # Logging out would end the role's shared sign-in for the cases after it.
    headers = api.headers(role) if case.path.endswith("/auth/logout") else tokens[role]
    case.call_and_validate(headers=headers, checks=CHECKS)
