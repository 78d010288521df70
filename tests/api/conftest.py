"""API-suite fixtures. The shared ones (tenant_a, tenant_b, api_a, no_scopes) live in
tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The tenant fixtures create eight users; a real hasher would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
