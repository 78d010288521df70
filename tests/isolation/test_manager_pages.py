"""Every manager page (/w/<slug>/…), walked from the URL resolver: another workspace's
pages and ids answer 404, advocates and anonymous users cannot reach staff pages, and a
viewer changes nothing (PRODUCT.md "Isolation is absolute", "Who uses it")."""

from __future__ import annotations

import pytest

from .helpers import assert_unchanged, db_fingerprint, hostile_form
from .routes import build_kwargs, param_id, path_for, routes_in, takes_object_ids

pytestmark = pytest.mark.django_db

MANAGER = routes_in("manager")
WITH_IDS = [r for r in MANAGER if takes_object_ids(r)]
METHODS = ["GET", "POST"]


def _request(client, method: str, url: str, tenant):
    if method == "GET":
        return client.get(url)
    return client.post(url, hostile_form(tenant))


def _expected_refusal(route, method: str) -> int:
    """404 where the page answers the method; 405 (also for a missing id) where it does not."""
    return 404 if route.handles(method) else 405


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", WITH_IDS, ids=param_id)
def test_staff_of_a_get_404_for_ids_of_b_on_their_own_pages(client, tenant_a, tenant_b, route, method):
    """Rule 1: A's owner, A's slug, B's ids: 404, the same answer as an id that does not exist."""
    client.force_login(tenant_a.owner)
    foreign = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_b))
    absent = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a, missing=True))
    before = db_fingerprint()

    response = _request(client, method, foreign, tenant_b)
    missing = _request(client, method, absent, tenant_b)

    assert response.status_code == _expected_refusal(route, method), f"{method} {foreign}: {response.status_code}"
    assert response.status_code == missing.status_code, f"{method} {foreign} answers unlike an id that does not exist"
    assert tenant_b.advocate.email not in response.content.decode(errors="replace")
    assert_unchanged(before, f"{method} {foreign} by A's owner")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", MANAGER, ids=param_id)
def test_staff_of_a_get_404_on_every_page_of_b(client, tenant_a, tenant_b, route, method):
    """Rule 2: A's owner cannot open B's pages at all, whatever the ids."""
    client.force_login(tenant_a.owner)
    url = path_for(route, build_kwargs(route, slug=tenant_b.workspace.slug, objects_of=tenant_b))
    before = db_fingerprint()

    response = _request(client, method, url, tenant_b)

    assert response.status_code == 404, f"{method} {url}: {response.status_code}"
    assert tenant_b.advocate.email not in response.content.decode(errors="replace")
    assert_unchanged(before, f"{method} {url} by A's owner")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", MANAGER, ids=param_id)
def test_advocates_get_404_on_every_manager_page_of_their_workspace(client, tenant_a, tenant_b, route, method):
    """Rule 4: an advocate of A (a portal login, no staff membership) cannot reach A's staff pages."""
    client.force_login(tenant_a.advocate_user)
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))
    before = db_fingerprint()

    response = _request(client, method, url, tenant_a)

    assert response.status_code == 404, f"{method} {url}: {response.status_code}"
    assert_unchanged(before, f"{method} {url} by A's advocate")


@pytest.mark.parametrize("route", MANAGER, ids=param_id)
def test_viewers_cannot_change_anything(client, tenant_a, tenant_b, route):
    """Rule 6: every POST by a viewer of A, with A's own ids, is refused and changes nothing."""
    client.force_login(tenant_a.viewer)
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))
    before = db_fingerprint()

    response = client.post(url, hostile_form(tenant_a))

    allowed = {403} if route.handles("POST") else {403, 404, 405}
    assert response.status_code in allowed, f"POST {url} by a viewer: {response.status_code}"
    assert_unchanged(before, f"POST {url} by A's viewer")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", MANAGER, ids=param_id)
def test_anonymous_users_are_sent_to_sign_in(client, tenant_a, route, method):
    """Rule 7: no manager page answers an anonymous visitor; they are sent to /accounts/login/."""
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))
    before = db_fingerprint()

    response = _request(client, method, url, tenant_a)

    assert response.status_code == 302, f"{method} {url}: {response.status_code}"
    assert response["Location"].startswith("/accounts/login/?next="), response["Location"]
    assert_unchanged(before, f"anonymous {method} {url}")


@pytest.mark.parametrize("route", MANAGER, ids=param_id)
def test_owner_opens_every_page_of_their_own_workspace(client, tenant_a, tenant_b, route):
    """The control: the same URLs with A's own ids do answer A's owner, so the 404s above
    come from isolation, not from a broken URL."""
    client.force_login(tenant_a.owner)
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))

    response = client.get(url)

    assert response.status_code == (200 if route.handles("GET") else 405), f"GET {url}: {response.status_code}"
