"""Property-based API fuzzing with schemathesis: every operation of /api/v1/schema/, as an admin.

The schema the app serves at /api/v1/schema/ (drf-spectacular) is loaded through the app's own WSGI
handler, in-process, so every request runs inside pytest-django's test transaction on SQLite,
PostgreSQL and MariaDB alike. For each operation schemathesis generates requests from the schema:
valid ones (positive mode) and invalid ones the API must refuse (negative mode). Each is sent with an
admin's token, and every response must

* not be a 5xx (a 5xx is a product bug, never an answer);
* have a status code the operation documents;
* have a body matching the documented schema for that status (errors: core's shared Error body);
* have the documented Content-Type.

The demo data set is loaded first, and half of the cases of an operation with an {id} in its path
use the id of an object that exists, so detail and action endpoints reach their real code rather
than only answering 404.

Budget: STOCKLEDGER_FUZZ_EXAMPLES examples per operation and mode. The small default keeps
`make test` cheap and is derandomized, so a CI failure reproduces; `make torture` runs it with a
large budget and STOCKLEDGER_FUZZ_RANDOM=1 (a fresh seed each run, printed on failure).
"""

import os
from collections import Counter

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stockledger.core.demo import load_all
from stockledger.core.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("STOCKLEDGER_FUZZ_EXAMPLES", "3"))
RANDOM = os.environ.get("STOCKLEDGER_FUZZ_RANDOM", "") not in ("", "0")
SCHEMA_URL = "/api/v1/schema/"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
METHODS = {"get", "post", "put", "patch", "delete"}

_django = WSGIHandler()


def wsgi_app(environ, start_response):
    """Django's WSGI handler without its per-request connection closing (Django's test Client does the
    same): the request_started/finished signals would otherwise close the connection that holds the
    test's open transaction, and with it the seeded data."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = _django(environ, start_response)
        try:
            body = b"".join(response)
        finally:
            response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return [body]


@pytest.fixture
def admin_token(make_user):
    """An admin's token, over the demo data set and a few more catalog rows from the factories."""
    admin = make_user(Role.ADMIN)
    load_all(admin)
    f.item(f.product_type(), can_expire=True)
    f.warehouse()
    f.customer()
    return Token.objects.get_or_create(user=admin)[0].key


def existing_ids(token, operations) -> dict[str, list[int]]:
    """Ids of objects that exist, per collection ("/api/v1/items/"), read from its list operation."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    collections = {op.path.split("{id}")[0] for op in operations if "{id}" in op.path}
    ids = {}
    for op in operations:
        if op.method == "get" and op.path in collections:
            body = client.get(op.path).json()
            rows = body["results"] if isinstance(body, dict) else body
            ids[op.path] = [row["id"] for row in rows if isinstance(row.get("id"), int)]
    return ids


def cases(operation, mode, ids: list[int]):
    """Cases for one operation; with an {id} in its path, half of them name an existing object."""
    generated = operation.as_strategy(generation_mode=mode)
    if "{id}" not in operation.path or not ids:
        return generated
    existing = [operation.as_strategy(generation_mode=mode, path_parameters={"id": i}) for i in ids]
    return st.one_of(generated, st.one_of(existing))


def test_every_operation_answers_as_its_schema_says(admin_token, subtests):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app)
    schema.config.update(headers={"Authorization": f"Token {admin_token}"})
    # The admin token is the credential under test: generation must not replace or drop it.
    schema.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = [(m, p) for p, item in schema.raw_schema["paths"].items() for m in item if m in METHODS]
    ids = existing_ids(admin_token, operations)
    any_id = sorted({i for found in ids.values() for i in found})

    sent, succeeded = Counter(), Counter()
    for operation in operations:
        for mode in MODES:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=not RANDOM,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=cases(operation, mode, ids.get(operation.path.split("{id}")[0]) or any_id))
            def fuzz(case):
                # A savepoint per request, as each request has its own transaction in production: a
                # database error then fails its own case, not (on PostgreSQL) every later one too.
                with transaction.atomic():
                    response = case.call_and_validate(checks=CHECKS)
                sent[case.operation.label] += 1
                succeeded[case.operation.label] += response.status_code < 300

            with subtests.test(operation=operation.label, mode=mode.value):
                fuzz()

    # Not vacuous: every documented operation was exercised, most reads and some writes succeeded.
    assert len(operations) == len(documented) > 50
    assert sorted(sent) == sorted(op.label for op in operations)
    succeeded = {label for label, n in succeeded.items() if n}
    reads = {op.label for op in operations if op.method == "get"}
    assert len(reads & succeeded) > len(reads) / 2, sorted(reads - succeeded)
    assert succeeded - reads, "no write ever succeeded"
