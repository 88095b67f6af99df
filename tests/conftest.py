"""Shared fixtures: users per role, API clients, and committed-data support for concurrency tests."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from stockledger.catalog.models import WarehouseAssignment
from stockledger.core.dbguards import APPEND_ONLY_TABLES, drop_append_only, install_append_only
from stockledger.core.roles import Role

_seq = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(role: Role | str = Role.ADMIN, *, warehouses=(), username: str | None = None):
        User = get_user_model()
        user = User.objects.create_user(username or f"{str(role).lower()}_{next(_seq)}", password="pass-word-1")
        user.groups.add(Group.objects.get(name=str(role)))
        if role == Role.ADMIN:
            user.is_superuser = user.is_staff = True
            user.save()
        for w in warehouses:
            WarehouseAssignment.objects.create(user=user, warehouse=w)
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, username="boss")


@pytest.fixture
def api_as(make_user):
    """api_as(role_or_user) -> an APIClient authenticated with a token."""
    from rest_framework.authtoken.models import Token

    def make(who=Role.ADMIN, **kw):
        user = who if hasattr(who, "pk") else make_user(who, **kw)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        client.user = user
        return client

    return make


@pytest.fixture
def committed_db(django_db_serialized_rollback, transactional_db, django_db_blocker):
    """Data that is really committed (for tests with several threads or connections).

    pytest-django runs these tests after all others; each starts from the migrated database
    (serialized rollback) and is flushed at its end. The flush deletes every row, which the
    append-only guards refuse, so the guards are lifted for it and put back when the next such
    test starts. Use this fixture, not transactional_db, for every test that commits.
    """
    with django_db_blocker.unblock():
        install_append_only(connection, APPEND_ONLY_TABLES)
    yield
    with django_db_blocker.unblock():
        drop_append_only(connection, APPEND_ONLY_TABLES)
