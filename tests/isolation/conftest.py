"""Fixtures of the isolation suite. Every test builds two workspaces with ten users, so
passwords are hashed with a fast hasher here."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
