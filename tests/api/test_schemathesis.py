"""Requests generated from the OpenAPI schema: no 5xx, and every answer matches the schema.

``SCHEMATHESIS_MAX_EXAMPLES`` sets the examples per operation (default 20, for CI; a few
hundred for a thorough run). Creating or changing datasources and storage locations is left
out: those requests test a connection to whatever host the generator invents, and the tests
talk to loopback only; their validation is covered by the tests of those endpoints. For the
same reason notification channels are not created, changed or tested here: a test sends to
the channel's address (tests/notifications covers them against loopback receivers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))

schema = (
    schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    .exclude(
        path_regex=r"^/api/(datasources|storage-locations|notification-channels)/(\{id\}/)?$",
        method=["POST", "PUT", "PATCH"],
    )
    .exclude(path_regex=r"^/api/notification-channels/\{id\}/test/?$")
)
APP = get_wsgi_application()
#: No 5xx, and status, content type and body as the schema documents them. (The "positive data
#: accepted" check does not apply: a well-formed request may still name a row that is missing.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def same_connection() -> Iterator[None]:
    """Keep the test's database connection across requests, as Django's test client does: the
    WSGI handler would otherwise close it inside the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_every_generated_request_as_its_schema_says(
    case, token, job, same_connection
):
    case.call_and_validate(app=APP, headers={"Authorization": f"Token {token}"}, checks=CHECKS)
