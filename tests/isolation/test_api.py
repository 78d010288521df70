"""Every resource of /api/v1/, walked from the router's registry: with workspace A's key,
B's ids answer 404 exactly like ids that do not exist, on every method of every detail
route, and no list shows B's rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.urls import reverse

from advocacy.api.urls import router

from .helpers import assert_unchanged, db_fingerprint
from .routes import API_OBJECTS

pytestmark = pytest.mark.django_db

METHODS_TO_TRY = ("get", "put", "patch", "delete")
HOSTILE_BODY = {"name": "Hijacked", "email": "hijacked@example.com", "stage": "opted_out", "tags": ["hijacked"]}


@dataclass(frozen=True)
class ApiRoute:
    basename: str
    viewset: type
    name: str
    detail: bool
    mapping: dict[str, str]

    @property
    def lookup(self) -> str:
        return getattr(self.viewset, "lookup_url_kwarg", None) or getattr(self.viewset, "lookup_field", "pk")

    def url(self, pk=None) -> str:
        return reverse(self.name, kwargs={self.lookup: pk} if self.detail else {})

    def build(self, tenant) -> int:
        if self.basename not in API_OBJECTS:
            pytest.fail(
                f"register how to build pk for the API basename {self.basename!r} ({self.viewset.__name__}) "
                "in tests/isolation/routes.py API_OBJECTS",
                pytrace=False,
            )
        return API_OBJECTS[self.basename](tenant)


def api_routes() -> list[ApiRoute]:
    found = []
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            mapping = router.get_method_map(viewset, route.mapping)
            if mapping:
                found.append(ApiRoute(basename, viewset, route.name.format(basename=basename), route.detail, mapping))
    return found


DETAIL_CASES = [
    (route, method)
    for route in api_routes() if route.detail
    for method in sorted(set(METHODS_TO_TRY) | set(route.mapping))
]
# A viewset answering one report rather than a list of rows (``reports_not_rows``, e.g.
# /api/v1/metrics/) tests its isolation in its own tests.
LIST_ROUTES = [r for r in api_routes() if not r.detail and "get" in r.mapping and not getattr(r.viewset, "reports_not_rows", False)]


def _call(client, method: str, url: str):
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(HOSTILE_BODY), content_type="application/json")


def test_the_router_walk_finds_the_resources():
    names = {r.name for r in api_routes()}
    assert {"advocate-list", "advocate-detail", "event-list"} <= names


@pytest.mark.parametrize(("route", "method"), DETAIL_CASES, ids=lambda v: v.name if isinstance(v, ApiRoute) else v.upper())
def test_a_key_of_a_gets_404_for_ids_of_b(tenant_a, tenant_b, route, method):
    """Rule 3: A's key, B's object ids: 404 with the same body as an id that does not exist."""
    client = tenant_a.api()
    foreign_pk = route.build(tenant_b)
    before = db_fingerprint()

    response = _call(client, method, route.url(foreign_pk))
    missing = _call(client, method, route.url(2_000_000_000))

    expected = 404 if method in route.mapping else 405
    assert response.status_code == expected, (method, route.url(foreign_pk), response.status_code, response.content[:300])
    assert missing.status_code == response.status_code
    assert response.json() == missing.json(), "another workspace's id must answer like an id that does not exist"
    assert_unchanged(before, f"{method.upper()} {route.url(foreign_pk)} with A's key")


@pytest.mark.parametrize("route", [r for r in api_routes() if r.detail and "get" in r.mapping], ids=lambda r: r.name)
def test_a_key_of_a_reads_its_own_objects(tenant_a, route):
    """The control: the same route answers A's own ids, so the 404s above are isolation."""
    response = tenant_a.api().get(route.url(route.build(tenant_a)))
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: r.name)
def test_lists_never_show_rows_of_another_workspace(tenant_a, tenant_b, route):
    own = route.build(tenant_a)
    foreign = route.build(tenant_b)

    response = tenant_a.api().get(route.url(), {"page_size": 200})

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    ids = {row["id"] for row in rows}
    assert own in ids
    assert foreign not in ids
