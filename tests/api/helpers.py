"""Small assertions shared by the API tests."""

from __future__ import annotations

import json
from typing import Any


def error_of(response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is a JSON error with ``status`` (and ``code``); return its ``error``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], error
    assert isinstance(error.get("message"), str) and error["message"], error
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"], error
    if code is not None:
        assert error["code"] == code, error
    return error


def post_json(client, url: str, payload: Any, **extra):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **extra)


def patch_json(client, url: str, payload: Any, **extra):
    return client.patch(url, data=json.dumps(payload), content_type="application/json", **extra)
