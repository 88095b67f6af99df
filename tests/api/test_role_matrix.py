"""The API-wide role matrix: every /api/v1/ route × every method it allows × every role and anonymous.

Why: who may do what is one table (core/roles.py PERMISSIONS), but it is enforced by many services,
each calling authorize() with its own action after its own parsing. A route that forgets to authorise
or names the wrong action shows up here as a failing case. TABLE below is the specification, written
out from PERMISSIONS, DESIGN §4 and the views: `401` (anonymous), `403` (the role may not: the error
code must be "forbidden", the role check, not a warehouse or CSRF refusal), `ok` (the role may; every
write sends a valid body for a real object, so `ok` is asserted as a 2xx). A 5xx always fails. The
routes are read from Django's URL resolver: a route missing from the table, or a row for a route that
is gone, fails with its name.

The world (role_matrix_world.py) is built once per module inside a transaction; each case runs in a
savepoint rolled back after it, so every case starts from the same world.

Also here: which of 403/404 a forbidden role gets for an unknown object; warehouse scoping (403
warehouse_not_assigned where a scoped user is not assigned); CSRF on session-authenticated writes
(API and a web form); and that no response leaks a token key, a password hash or a field named
password/token (except the caller's own token from POST /api/v1/auth/token/).
"""

import json
import re
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stockledger.core.roles import Role

from .role_matrix_world import ANON, BODIES, HASHERS, PASSWORD, PATHS, World, request

pytestmark = pytest.mark.django_db

# Anonymous may use only the token endpoint, the OpenAPI schema and the Swagger UI (drf-spectacular
# serves them with AllowAny: they describe the API, they hold no data). Every other route needs a
# role (core.api.CanRead); writes are authorised again by their service with the action in brackets.
COLUMNS = ("ADMIN", "LOGISTICS_MANAGER", "LOGISTICS_OFFICER", "INVENTORY_CLERK", "SALES", "READER", ANON)
TABLE = """
route                           method  ADMIN LM   LO   CLERK SALES READER anon
api-root                        GET     ok    ok   ok   ok    ok    ok     401
auth-token                      POST    ok    ok   ok   ok    ok    ok     ok
schema                          GET     ok    ok   ok   ok    ok    ok     ok
swagger                         GET     ok    ok   ok   ok    ok    ok     ok
product-type-list               GET     ok    ok   ok   ok    ok    ok     401
product-type-list               POST    ok    ok   403  403   403   403    401   [catalog.write]
product-type-detail             GET     ok    ok   ok   ok    ok    ok     401
item-list                       GET     ok    ok   ok   ok    ok    ok     401
item-list                       POST    ok    ok   403  403   403   403    401   [catalog.write]
item-detail                     GET     ok    ok   ok   ok    ok    ok     401
item-detail                     PATCH   ok    ok   403  403   403   403    401   [catalog.write]
warehouse-list                  GET     ok    ok   ok   ok    ok    ok     401
warehouse-list                  POST    ok    ok   403  403   403   403    401   [catalog.write]
warehouse-detail                GET     ok    ok   ok   ok    ok    ok     401
warehouse-detail                PATCH   ok    ok   403  403   403   403    401   [catalog.write]
customer-list                   GET     ok    ok   ok   ok    ok    ok     401
customer-list                   POST    ok    ok   403  403   403   403    401   [catalog.write]
customer-detail                 GET     ok    ok   ok   ok    ok    ok     401
customer-detail                 PATCH   ok    ok   403  403   403   403    401   [catalog.write]
batch-list                      GET     ok    ok   ok   ok    ok    ok     401
batch-detail                    GET     ok    ok   ok   ok    ok    ok     401
inventory-list                  GET     ok    ok   ok   ok    ok    ok     401
receipts                        POST    ok    ok   403  ok    403   403    401   [stock.receive]
transfers                       POST    ok    ok   403  ok    403   403    401   [stock.transfer]
adjustments                     GET     ok    ok   ok   ok    ok    ok     401
adjustments                     POST    ok    ok   403  ok    403   403    401   [stock.adjust.request]
adjustment-approve              POST    ok    ok   403  403   403   403    401   [stock.adjust.approve]
adjustment-reject               POST    ok    ok   403  403   403   403    401   [stock.adjust.approve]
pipe-production                 POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-returns                    GET     ok    ok   ok   ok    ok    ok     401
pipe-returns                    POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-return                     GET     ok    ok   ok   ok    ok    ok     401
pipe-return-revert              POST    ok    ok   403  403   403   403    401   [pipes.revert_privileged]
pipe-stock-cut                  POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-stock-split                POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-stock-combine              POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-dispatches                 GET     ok    ok   ok   ok    ok    ok     401
pipe-dispatches                 POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-dispatch                   GET     ok    ok   ok   ok    ok    ok     401
pipe-dispatch-revert            POST    ok    ok   403  ok    403   403    401   [pipes.revert_dispatch]
pipe-dispatch-close             POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-scraps                     GET     ok    ok   ok   ok    ok    ok     401
pipe-scraps                     POST    ok    ok   403  ok    403   403    401   [pipes.operate]
pipe-scrap                      GET     ok    ok   ok   ok    ok    ok     401
pipe-scrap-revert               POST    ok    ok   403  403   403   403    401   [pipes.revert_privileged]
pipe-batches                    GET     ok    ok   ok   ok    ok    ok     401
pipe-batch                      GET     ok    ok   ok   ok    ok    ok     401
pipe-variants                   GET     ok    ok   ok   ok    ok    ok     401
pipe-dispatch-selection         GET     ok    ok   ok   ok    ok    ok     401
item-batches-drawer             GET     ok    ok   ok   ok    ok    ok     401
relief-request-list             GET     ok    ok   ok   ok    ok    ok     401
relief-request-list             POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-request-detail           GET     ok    ok   ok   ok    ok    ok     401
relief-request-submit           POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-request-cancel           POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-list             GET     ok    ok   ok   ok    ok    ok     401
relief-package-list             POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-detail           GET     ok    ok   ok   ok    ok    ok     401
relief-package-draft            PUT     ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-submit           POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-cancel           POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-approve-dispatch POST    ok    ok   403  403   403   403    401   [relief.approve]
relief-package-send-to-dispatch POST    ok    ok   403  403   403   403    401   [relief.approve]
relief-package-handover         POST    ok    ok   403  ok    403   403    401   [relief.handover]
relief-package-receive          POST    ok    ok   ok   403   403   403    401   [relief.prepare]
relief-package-waybill          GET     ok    ok   ok   ok    ok    ok     401
relief-package-pdf              GET     ok    ok   ok   ok    ok    ok     401
ledger-post                     GET     ok    ok   ok   ok    ok    ok     401
ledger-post                     POST    ok    ok   403  403   ok    403    401   [ledger.post]
depot-stock                     GET     ok    ok   ok   ok    ok    ok     401
lpg-product-list                GET     ok    ok   ok   ok    ok    ok     401
lpg-product-list                POST    ok    ok   403  403   403   403    401   [catalog.write]
lpg-product-detail              GET     ok    ok   ok   ok    ok    ok     401
sale-list                       GET     ok    ok   ok   ok    ok    ok     401
sale-list                       POST    ok    ok   403  403   ok    403    401   [sales.write]
sale-detail                     GET     ok    ok   ok   ok    ok    ok     401
invoice-list                    GET     ok    ok   ok   ok    ok    ok     401
invoice-detail                  GET     ok    ok   ok   ok    ok    ok     401
invoice-print-page              GET     ok    ok   ok   ok    ok    ok     401
invoice-pdf                     GET     ok    ok   ok   ok    ok    ok     401
invoice-send                    POST    ok    ok   403  403   ok    403    401   [sales.write]
invoice-pay                     POST    ok    ok   403  403   ok    403    401   [sales.write]
invoice-void                    POST    ok    ok   403  403   ok    403    401   [sales.write]
verify                          GET     ok    ok   ok   ok    ok    ok     401
recompute                       POST    ok    ok   403  403   403   403    401   [reconcile.run]
recompute-run-list              GET     ok    ok   ok   ok    ok    ok     401
recompute-run-detail            GET     ok    ok   ok   ok    ok    ok     401
"""


def _parse(table: str) -> dict[tuple[str, str], dict[str, str]]:
    rows = [line.split() for line in table.strip().splitlines()[1:]]
    return {(r[0], r[1]): dict(zip(COLUMNS, r[2 : 2 + len(COLUMNS)], strict=True)) for r in rows}


MATRIX = _parse(TABLE)

# --- the routes, from Django's URL resolver --------------------------------------------------------


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _methods(callback) -> set[str]:
    """The HTTP methods a DRF view answers (a viewset: its router actions; either way only those in
    http_method_names). OPTIONS and HEAD are left out."""
    cls = getattr(callback, "cls", None)
    if cls is None:
        return {"<not a DRF view>"}
    actions = getattr(callback, "actions", None)
    names = set(actions) if actions else {m for m in cls.http_method_names if hasattr(cls, m)}
    return {m.upper() for m in names & set(cls.http_method_names)} - {"HEAD", "OPTIONS"}


def api_routes() -> set[tuple[str, str]]:
    """(url name, method) of every route under /api/v1/; the router's format-suffix variants share
    their route's name and view, so they collapse into it."""
    out = set()
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/"):
            out |= {(pattern.name or f"<unnamed {route}>", m) for m in _methods(pattern.callback)}
    return out


ROUTES = api_routes()
WHO = (*(str(r) for r in Role), ANON)


def test_the_table_has_a_column_per_role_and_only_known_outcomes():
    assert [str(r) for r in Role] == list(COLUMNS[:-1])
    assert {v for row in MATRIX.values() for v in row.values()} <= {"ok", "401", "403"}


# --- secrets -------------------------------------------------------------------------------------

HASH_PREFIX = re.compile(rb"(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|md5|sha1)\$")


def secrets() -> list[bytes]:
    """Every token key and every stored password (hash) in the database."""
    keys = list(Token.objects.values_list("key", flat=True))
    passwords = [p for p in get_user_model().objects.values_list("password", flat=True) if len(p) > 8]
    return [s.encode() for s in keys + passwords]


def _keys(data):
    if isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from _keys(v)
    elif isinstance(data, list):
        for v in data:
            yield from _keys(v)


def assert_no_secrets(response, known: list[bytes], *, field_names: bool = True) -> None:
    """No token key or stored password of any user, nothing shaped like a password hash, and (in a
    JSON body) no field whose name contains "password" or "token"."""
    body = response.content
    where = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']}"
    assert not HASH_PREFIX.search(body), f"{where} shows a password hash"
    leaked = [s.decode()[:12] for s in known if s in body]
    assert not leaked, f"{where} shows a token key or password hash: {leaked}"
    if field_names and response.get("Content-Type", "").startswith("application/json") and body:
        names = {str(k).lower() for k in _keys(json.loads(body))}
        bad = sorted(n for n in names if "password" in n or "token" in n)
        assert not bad, f"{where} has fields named {bad}"


# --- the matrix ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world, built once for the module inside a transaction that is rolled back at its end. Each
    test's own transaction (pytest-django's django_db) is a savepoint inside it, rolled back after the
    test: every test starts from the same world."""
    with override_settings(PASSWORD_HASHERS=HASHERS), django_db_blocker.unblock(), transaction.atomic():
        w = World.build()
        w.secrets = secrets()
        # Fire the world's deferred constraint checks (PostgreSQL) now, once: left pending, they would
        # run again at the end of every test (TestCase checks constraints before its rollback).
        if connection.features.can_defer_constraint_checks:
            connection.check_constraints()
        yield w
        transaction.set_rollback(True)


@pytest.fixture(scope="module", autouse=True)
def schema_generated_once():
    """The schema is the same whoever asks (drf-spectacular's SERVE_PUBLIC): generate it once, not once
    per role (~0.5 s each). Authentication and permissions still run for every schema request."""
    generate, made = SchemaGenerator.get_schema, {}

    def get_schema(self, request=None, public=False):
        if public not in made:
            made[public] = generate(self, request=request, public=public)
        return made[public]

    with mock.patch.object(SchemaGenerator, "get_schema", get_schema):
        yield


def outcome(status: int) -> str:
    return {401: "401", 403: "403"}.get(status, "ok")


@pytest.mark.parametrize(
    ("route", "method", "who"),
    [(route, method, who) for route, method in sorted(ROUTES | set(MATRIX)) for who in WHO],
    ids=lambda v: str(v),
)
def test_role_matrix(world, route, method, who):
    assert (route, method) in ROUTES, f"the table has {method} {route}, which the API no longer has: remove the row"
    assert (route, method) in MATRIX, f"{method} {route} is not in the role matrix: add a row to TABLE"
    assert method == "GET" or (route, method) in BODIES, f"give {method} {route} a valid body in BODIES"
    r = request(world.client(who), method, route, world)
    shown = f"{method} {r.request['PATH_INFO']} as {who}: {r.status_code} {r.content[:400]!r}"
    assert r.status_code < 500, shown
    expected = MATRIX[(route, method)][who]
    assert outcome(r.status_code) == expected, shown
    if expected == "403":
        assert r.json()["code"] == "forbidden", shown  # the role check, not a warehouse scope or CSRF
    elif expected == "ok":
        assert 200 <= r.status_code < 300, shown  # the body is valid: the allowed role really succeeds
    if route != "auth-token":  # its purpose is to give a token: test_the_token_endpoint_gives_only_the_callers
        # The schema describes the token endpoint's fields (username, password, token): names, no values.
        assert_no_secrets(r, world.secrets, field_names=route != "schema")


# Which comes first for a role that may not act on an object that does not exist: the role check
# (403) or the lookup (404). Services authorise the role before anything else, except where the role
# check needs the object's warehouse and the service looks the object up first (adjustment decisions),
# and the catalog updates, whose view loads the object (get_object) before calling the service. Any
# role may read every object, so a 404 tells a forbidden role nothing it could not read anyway.
UNKNOWN_ID_AS_READER = {
    "adjustment-approve": 404,
    "adjustment-reject": 404,
    "item-detail": 404,
    "warehouse-detail": 404,
    "customer-detail": 404,
}


@pytest.mark.parametrize(
    ("route", "method"), sorted(k for k in MATRIX if k[1] != "GET" and k[0] in PATHS), ids=lambda v: str(v)
)
def test_a_forbidden_role_on_an_unknown_object(world, route, method):
    r = request(world.client(Role.READER), method, route, world, pk="unknown")
    assert MATRIX[(route, method)]["READER"] == "403"
    assert r.status_code == UNKNOWN_ID_AS_READER.get(route, 403), r.content


# --- warehouse scoping ---------------------------------------------------------------------------

# Every non-admin user is assigned to MAIN, NORTH and DEPOT; OTHER is nobody's. DESIGN §4: "a user
# acts only where assigned (ADMIN everywhere)"; core.roles.authorize answers 403 warehouse_not_assigned.
# A user with no assignment at all (free_clerk) acts everywhere.
OTHER_ROLL = [{"stock_id": "<other_roll>", "quantity": 1}]
SCOPED = [
    # who, method, route, object of the path, body changes (ids of the world in <>), expected status
    ("INVENTORY_CLERK", "POST", "receipts", None, {"warehouse_id": "<other>"}, 403),
    ("free_clerk", "POST", "receipts", None, {"warehouse_id": "<other>"}, 201),
    ("ADMIN", "POST", "receipts", None, {"warehouse_id": "<other>"}, 201),
    ("INVENTORY_CLERK", "POST", "transfers", None, {"to_warehouse_id": "<other>"}, 403),
    ("INVENTORY_CLERK", "POST", "transfers", None, {"lines": [{"batch_id": "<other_batch>", "qty": "1"}]}, 403),
    ("INVENTORY_CLERK", "POST", "adjustments", None, {"batch_id": "<other_batch>"}, 403),
    ("LOGISTICS_MANAGER", "POST", "adjustment-approve", "other_adjustment", {}, 403),
    ("ADMIN", "POST", "adjustment-approve", "other_adjustment", {}, 200),
    ("INVENTORY_CLERK", "POST", "pipe-production", None, {"warehouse_id": "<other>"}, 403),
    ("INVENTORY_CLERK", "POST", "pipe-stock-cut", "other_roll", {}, 403),
    ("INVENTORY_CLERK", "POST", "pipe-dispatches", None, {"lines": OTHER_ROLL}, 403),
    ("free_clerk", "POST", "pipe-dispatches", None, {"lines": OTHER_ROLL}, 201),
    (
        "LOGISTICS_OFFICER",
        "PUT",
        "relief-package-draft",
        None,
        {"allocations": [{"batch_id": "<other_batch>", "qty": 1}]},
        403,
    ),
    (
        "LOGISTICS_OFFICER",
        "POST",
        "relief-package-submit",
        "package_other_prepared",
        {"version": "<v:package_other_prepared>"},
        403,
    ),
    (
        "LOGISTICS_MANAGER",
        "POST",
        "relief-package-cancel",
        "package_other_prepared",
        {"version": "<v:package_other_prepared>"},
        403,
    ),
    ("SALES", "POST", "sale-list", None, {"depot_id": "<other>"}, 403),
    (
        "SALES",
        "POST",
        "ledger-post",
        None,
        {"legs": [{"item_id": "<lpg_full>", "warehouse_id": "<other>", "qty_delta": 1}]},
        403,
    ),
]


def _resolve(value, w: World):
    """Replace "<name>" by the world's id of that name, "<v:name>" by its version."""
    if isinstance(value, dict):
        return {k: _resolve(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, w) for v in value]
    if isinstance(value, str) and value.startswith("<v:"):
        return w.versions[value[3:-1]]
    if isinstance(value, str) and value.startswith("<"):
        return w.ids[value[1:-1]]
    return value


@pytest.mark.parametrize(
    ("who", "method", "route", "pk", "change", "status"),
    [pytest.param(*case, id=f"{case[2]}-{case[0]}-{n}") for n, case in enumerate(SCOPED)],
)
def test_a_scoped_role_acts_only_in_its_assigned_warehouses(world, who, method, route, pk, change, status):
    body = {**BODIES[(route, method)](world), **_resolve(change, world)}
    r = request(world.client(who), method, route, world, pk=pk, body=body)
    assert r.status_code == status, r.content
    if status == 403:
        assert r.json()["code"] == "warehouse_not_assigned", r.content
        assert MATRIX[(route, method)][who] == "ok"  # the role itself may: only the warehouse is refused


# --- CSRF ----------------------------------------------------------------------------------------

CSRF_CASES = [
    ("INVENTORY_CLERK", "POST", "receipts"),
    ("INVENTORY_CLERK", "POST", "pipe-dispatches"),
    ("LOGISTICS_MANAGER", "PATCH", "warehouse-detail"),
    ("LOGISTICS_OFFICER", "PUT", "relief-package-draft"),
    ("SALES", "POST", "sale-list"),
    ("ADMIN", "POST", "recompute"),
]


def csrf_token(client) -> str:
    """The CSRF token a browser would hold: the cookie set by a page with a form (the login page)."""
    client.get(reverse("login"))
    return client.cookies[settings.CSRF_COOKIE_NAME].value


@pytest.mark.parametrize(("who", "method", "route"), CSRF_CASES, ids=lambda v: str(v))
def test_a_session_authenticated_write_needs_the_csrf_token(world, who, method, route):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.users[who])
    refused = request(client, method, route, world)
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "forbidden" and "CSRF" in refused.json()["message"], refused.content
    done = request(client, method, route, world, HTTP_X_CSRFTOKEN=csrf_token(client))
    assert 200 <= done.status_code < 300, done.content


@pytest.mark.parametrize(("who", "method", "route"), CSRF_CASES[:2], ids=lambda v: str(v))
def test_a_token_authenticated_write_needs_no_csrf_token(world, who, method, route):
    r = request(world.client(who, enforce_csrf_checks=True), method, route, world)
    assert 200 <= r.status_code < 300, r.content


def test_a_web_form_post_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["INVENTORY_CLERK"])
    url = reverse("web:pipe-production")
    form = {
        "item": world.hdpe,
        "warehouse": world.main,
        "line-0-stock_type": "FULL_ROLL",
        "line-0-count": "1",
        "line-0-size": "500",
    }
    assert client.post(url, form).status_code == 403
    client.get(url)  # the form page sets the CSRF cookie
    done = client.post(url, {**form, "csrfmiddlewaretoken": client.cookies[settings.CSRF_COOKIE_NAME].value})
    assert done.status_code == 302, done.content[:300]  # recorded, redirected to the new batch
    assert (
        Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"}).status_code == 403
    )


# --- leaks ---------------------------------------------------------------------------------------
# Every response of the matrix (every GET and every write, as every role and anonymous) went through
# assert_no_secrets above; here: the one endpoint that gives a token, and the check itself.


def test_the_token_endpoint_gives_only_the_callers_own_token(world):
    user = world.users["INVENTORY_CLERK"]
    url = reverse("auth-token")
    r = APIClient().post(url, {"username": user.username, "password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json() == {"token": user.auth_token.key}
    assert_no_secrets(r, [s for s in world.secrets if s != user.auth_token.key.encode()], field_names=False)
    for who in (ANON, "ADMIN"):  # a wrong password gives no token, whoever asks
        wrong = world.client(who).post(url, {"username": user.username, "password": "not-it-1"}, format="json")
        assert wrong.status_code == 400, wrong.content
        assert_no_secrets(wrong, world.secrets)


def test_the_leak_check_catches_a_token_a_password_hash_and_a_password_field(world):
    def response(content: bytes, content_type="application/json"):
        r = HttpResponse(content, content_type=content_type)
        r.request = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/x/"}
        return r

    token = world.users["READER"].auth_token.key
    stored = get_user_model().objects.get(username="m_reader").password
    for body, content_type in (
        (f'{{"note": "{token}"}}', "application/json"),
        (f"<p>{stored}</p>", "text/html"),
        ('{"hash": "pbkdf2_sha256$1000000$salt$abc"}', "application/json"),
        ('{"rows": [{"user": {"password": "!"}}]}', "application/json"),
        ('{"auth_token": null}', "application/json"),
    ):
        with pytest.raises(AssertionError):
            assert_no_secrets(response(body.encode(), content_type), world.secrets)
    assert_no_secrets(response(b'{"id": 1, "key": "item=1|warehouse=2"}'), world.secrets)
