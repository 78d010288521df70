"""Routes outside any workspace, walked from the URL resolver: the operator's admin lets
no workspace staff in, and public and sign-in pages answer without errors and without
another workspace's people."""

from __future__ import annotations

import pytest

from advocacy.models import StaffInvitation

from .routes import build_kwargs, param_id, path_for, routes_in

pytestmark = pytest.mark.django_db

# Admin pages any visitor may load: the sign-in form, sign-out (POST only), the JS catalog.
ADMIN_OPEN = {"login", "logout", "jsi18n"}
ADMIN = [r for r in routes_in("admin") if r.name not in ADMIN_OPEN]
PUBLIC = routes_in("public") + routes_in("accounts")


@pytest.mark.parametrize("route", ADMIN, ids=param_id)
def test_workspace_owners_cannot_open_the_operators_admin(client, tenant_a, route):
    client.force_login(tenant_a.owner)
    url = path_for(route, build_kwargs(route, objects_of=tenant_a))

    response = client.get(url)

    assert response.status_code == 302, f"GET {url}: {response.status_code}"
    assert response["Location"].startswith("/admin/login/"), response["Location"]


@pytest.mark.parametrize("route", PUBLIC, ids=param_id)
def test_public_pages_show_nobody_of_another_workspace(client, tenant_a, tenant_b, route):
    """Signed in as A's owner, with B's values where a route takes one (B's invitation
    token, …): no server error and none of B's people on the page."""
    client.force_login(tenant_a.owner)
    url = path_for(route, build_kwargs(route, objects_of=tenant_b))

    response = client.get(url)

    assert response.status_code < 500, f"GET {url}: {response.status_code}"
    if not getattr(response, "streaming", False):
        assert tenant_b.advocate.email not in response.content.decode(errors="replace")


def test_a_staff_invitation_link_with_a_wrong_token_is_404(client, tenant_a):
    response = client.get("/invitations/staff/not-a-real-token/")
    assert response.status_code == 404


def test_accepting_a_staff_invitation_joins_only_its_workspace(client, tenant_a, tenant_b):
    """The token names one invitation: accepting it makes the user a member of that
    workspace only, whoever they already are."""
    route = next(r for r in PUBLIC if r.name == "staff_invitation")
    token = build_kwargs(route, objects_of=tenant_b)["token"]
    invitation = StaffInvitation.objects.get(workspace=tenant_b.workspace, accepted_at__isnull=True, email__startswith="invitee")
    client.force_login(tenant_a.viewer)

    response = client.post(f"/invitations/staff/{token}/")

    assert response.status_code == 302 and response["Location"] == f"/w/{tenant_b.workspace.slug}/"
    roles = {m.workspace.slug: m.role for m in tenant_a.viewer.memberships.select_related("workspace")}
    assert roles == {tenant_a.workspace.slug: "viewer", tenant_b.workspace.slug: invitation.role}
