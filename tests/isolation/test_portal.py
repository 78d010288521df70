"""Every page of the member portal (/portal/<slug>/…), walked from the URL resolver: an
advocate of A signed in visits B's portal and is sent to B's sign-in page, never B's data;
portal pages taking ids answer 404 for another workspace's ids."""

from __future__ import annotations

import pytest

from .helpers import assert_unchanged, db_fingerprint, hostile_form
from .routes import build_kwargs, param_id, path_for, routes_in, takes_object_ids

pytestmark = pytest.mark.django_db

PORTAL = routes_in("portal")


def _open_to_anonymous(route) -> bool:
    return bool(getattr(route.view_class, "allow_anonymous", False))


SIGNED_IN_ONLY = [r for r in PORTAL if not _open_to_anonymous(r)]
OPEN = [r for r in PORTAL if _open_to_anonymous(r)]
WITH_IDS = [r for r in PORTAL if takes_object_ids(r)]


def _b_secrets(tenant_b) -> list[str]:
    return [tenant_b.advocate.email, tenant_b.advocate.name]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("route", SIGNED_IN_ONLY, ids=param_id)
def test_an_advocate_of_a_is_sent_to_the_sign_in_of_b(client, tenant_a, tenant_b, route, method):
    """Rule 5: signed in as A's advocate, every page of B's portal redirects to B's portal login."""
    client.force_login(tenant_a.advocate_user)
    url = path_for(route, build_kwargs(route, slug=tenant_b.workspace.slug, objects_of=tenant_b))
    before = db_fingerprint()

    response = client.get(url) if method == "GET" else client.post(url, hostile_form(tenant_b))

    assert response.status_code == 302, f"{method} {url}: {response.status_code}"
    assert response["Location"].startswith(f"/portal/{tenant_b.workspace.slug}/login/?next="), response["Location"]
    assert_unchanged(before, f"{method} {url} by A's advocate")


@pytest.mark.parametrize("route", OPEN, ids=param_id)
def test_open_portal_pages_of_b_show_no_data_of_b_to_an_advocate_of_a(client, tenant_a, tenant_b, route):
    client.force_login(tenant_a.advocate_user)
    url = path_for(route, build_kwargs(route, slug=tenant_b.workspace.slug, objects_of=tenant_b))

    response = client.get(url)

    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    body = response.content.decode()
    assert not [s for s in _b_secrets(tenant_b) if s in body]
    assert tenant_a.advocate.email not in body, "B's portal must not treat A's advocate as signed in"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("route", WITH_IDS, ids=param_id)
def test_portal_pages_answer_404_for_ids_of_b(client, tenant_a, tenant_b, route, method):
    """Rule 5, ids: A's advocate on A's portal with B's ids gets 404, like an id that does not exist."""
    client.force_login(tenant_a.advocate_user)
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_b, values_of=tenant_a))
    before = db_fingerprint()

    response = client.get(url) if method == "GET" else client.post(url, hostile_form(tenant_a))

    assert response.status_code == (404 if route.handles(method) else 405), f"{method} {url}: {response.status_code}"
    assert_unchanged(before, f"{method} {url} by A's advocate")


@pytest.mark.parametrize("route", SIGNED_IN_ONLY, ids=param_id)
def test_anonymous_visitors_are_sent_to_the_portal_sign_in(client, tenant_a, route):
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/portal/{tenant_a.workspace.slug}/login/?next=")


@pytest.mark.parametrize("route", SIGNED_IN_ONLY, ids=param_id)
def test_an_advocate_opens_every_page_of_their_own_portal(client, tenant_a, tenant_b, route):
    """The control: the same pages answer A's advocate in A's portal."""
    client.force_login(tenant_a.advocate_user)
    url = path_for(route, build_kwargs(route, slug=tenant_a.workspace.slug, objects_of=tenant_a))

    response = client.get(url)

    assert response.status_code == (200 if route.handles("GET") else 405), f"GET {url}: {response.status_code}"
    assert not [s for s in _b_secrets(tenant_b) if s in response.content.decode()]
