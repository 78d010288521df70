"""Fixtures: two workspaces (A and B), each with an owner, a manager, a viewer and an
advocate with a portal login, plus an outsider who belongs to neither; API clients with
each workspace's key. Celery runs tasks eagerly; the cache (Redis) is emptied per test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from advocacy.celery import app as celery_app
from advocacy.models import Advocate, ApiKey, Role, User, Workspace
from advocacy.scoping import scopes_disabled
from advocacy.services.workspaces import create_api_key

from .factories import AdvocateFactory, MembershipFactory, UserFactory, WorkspaceFactory


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """The tenant fixtures create eight users; a real hasher would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield


@dataclass
class Tenant:
    workspace: Workspace
    owner: User
    manager: User
    viewer: User
    advocate: Advocate
    advocate_user: User
    api_key: ApiKey
    api_secret: str

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_secret}")
        return client


def make_tenant(slug: str) -> Tenant:
    workspace = WorkspaceFactory(slug=slug, name=f"Company {slug.upper()}")
    owner = MembershipFactory(workspace=workspace, role=Role.OWNER, user__email=f"owner@{slug}.example").user
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email=f"manager@{slug}.example").user
    viewer = MembershipFactory(workspace=workspace, role=Role.VIEWER, user__email=f"viewer@{slug}.example").user
    advocate_user = UserFactory(email=f"advocate@{slug}.example")
    advocate = AdvocateFactory(workspace=workspace, email=advocate_user.email, user=advocate_user, name=f"Advocate of {slug}")
    new_key = create_api_key(workspace=workspace, name=f"{slug} key")
    return Tenant(workspace, owner, manager, viewer, advocate, advocate_user, new_key.api_key, new_key.secret)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("beta")


@pytest.fixture
def outsider(db) -> User:
    return UserFactory(email="outsider@example.com")


@pytest.fixture
def api_a(tenant_a) -> APIClient:
    return tenant_a.api()


@pytest.fixture
def no_scopes():
    """Read tenant tables from a test without opening a workspace scope."""
    with scopes_disabled():
        yield
