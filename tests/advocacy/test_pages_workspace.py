"""The owner's pages: workspace settings, the team and its invitations, API keys."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from advocacy.models import ApiKey, AuditLog, Membership, Role, StaffInvitation
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db



def url(name: str, tenant, *args) -> str:
    return reverse(name, args=[tenant.workspace.slug, *args])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Settings ----------------------------------------------------------------------------

SETTINGS = {
    "name": "Alpha Corp", "timezone": "Europe/Berlin", "currency": "EUR", "max_contacts_per_30_days": "3",
    "min_days_between_offers": "10", "rest_days_after_large_ask": "45", "max_reference_calls_per_90_days": "1",
    "detractor_quiet_days": "120", "attribution_window_days": "60",
}


def test_owner_saves_the_settings_and_an_audit_row_is_written(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)

    response = client.post(url("workspace_settings", tenant_a), SETTINGS, follow=True)

    assert response.redirect_chain == [(url("workspace_settings", tenant_a), 302)]
    assert "Settings saved." in messages_of(response)
    ws = tenant_a.workspace
    ws.refresh_from_db()
    assert (ws.name, ws.timezone, ws.currency) == ("Alpha Corp", "Europe/Berlin", "EUR")
    assert (ws.max_contacts_per_30_days, ws.min_days_between_offers, ws.rest_days_after_large_ask) == (3, 10, 45)
    assert (ws.max_reference_calls_per_90_days, ws.detractor_quiet_days, ws.attribution_window_days) == (1, 120, 60)
    audit = AuditLog.objects.get(workspace=ws, action="workspace.settings_changed")
    assert audit.actor == tenant_a.owner
    assert audit.data["timezone"] == ["UTC", "Europe/Berlin"]
    assert audit.data["max_contacts_per_30_days"] == ["4", "3"]


def test_saving_unchanged_settings_writes_no_audit_row(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)
    form = client.get(url("workspace_settings", tenant_a)).context["form"]
    data = {name: form[name].value() for name in form.fields}

    response = client.post(url("workspace_settings", tenant_a), data)

    assert response.status_code == 302
    assert not AuditLog.objects.filter(action="workspace.settings_changed").exists()


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("max_contacts_per_30_days", "0"),
        ("max_contacts_per_30_days", "999"),
        ("attribution_window_days", "0"),
        ("attribution_window_days", "366"),
        ("max_reference_calls_per_90_days", "21"),
        ("timezone", "Mars/Olympus_Mons"),
        ("currency", "XYZ"),
    ],
)
def test_invalid_settings_show_errors_and_change_nothing(client, tenant_a, no_scopes, field, bad):
    client.force_login(tenant_a.owner)

    response = client.post(url("workspace_settings", tenant_a), {**SETTINGS, field: bad})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    ws = tenant_a.workspace
    ws.refresh_from_db()
    assert (ws.name, ws.timezone, ws.max_contacts_per_30_days, ws.attribution_window_days) == ("Company ALPHA", "UTC", 4, 90)
    assert not AuditLog.objects.filter(action="workspace.settings_changed").exists()


# --- Team and invitations ----------------------------------------------------------------


def _invite(client, tenant, django_capture_on_commit_callbacks, email="colleague@example.com", role=Role.MANAGER):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("team", tenant), {"email": email, "role": role}, follow=True)
    return response


def _link_of(message) -> str:
    match = re.search(r"https?://[^/\s]+(/invitations/staff/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_owner_invites_a_colleague_by_email(client, tenant_a, no_scopes, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.owner)

    response = _invite(client, tenant_a, django_capture_on_commit_callbacks, email="Colleague@Example.com", role=Role.VIEWER)

    assert "Invitation sent to Colleague@Example.com." in messages_of(response)
    invitation = StaffInvitation.objects.get(workspace=tenant_a.workspace)
    assert (invitation.email, invitation.role, invitation.invited_by) == ("colleague@example.com", Role.VIEWER, tenant_a.owner)
    assert [m.to for m in mail.outbox] == [["colleague@example.com"]]
    assert "Company ALPHA" in mail.outbox[0].subject + mail.outbox[0].body
    link = _link_of(mail.outbox[0])
    assert invitation.token_hash == hashlib.sha256(link.split("/")[-2].encode()).hexdigest()
    assert "colleague@example.com" in response.content.decode()  # listed as pending
    assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="staff.invited").exists()


def test_following_the_invitation_link_makes_a_new_user_a_member(client, tenant_a, no_scopes, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.owner)
    _invite(client, tenant_a, django_capture_on_commit_callbacks, role=Role.VIEWER)
    link = _link_of(mail.outbox[0])
    newcomer = UserFactory(email="colleague@example.com")
    client.force_login(newcomer)

    page = client.get(link)
    response = client.post(link, follow=True)

    assert "Join Company ALPHA" in page.content.decode()
    assert response.redirect_chain == [(f"/w/{tenant_a.workspace.slug}/", 302)]
    assert "Welcome to Company ALPHA." in messages_of(response)
    assert Membership.objects.get(workspace=tenant_a.workspace, user=newcomer).role == Role.VIEWER
    assert StaffInvitation.objects.get(workspace=tenant_a.workspace).accepted_at is not None
    again = client.post(link, follow=True)
    assert "This invitation has expired, was revoked or was already used." in messages_of(again)


def test_an_anonymous_visitor_is_asked_to_sign_up_first(client, tenant_a, no_scopes, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.owner)
    _invite(client, tenant_a, django_capture_on_commit_callbacks)
    link = _link_of(mail.outbox[0])
    client.logout()

    response = client.post(link)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/signup/?next={link}"
    assert Membership.objects.filter(workspace=tenant_a.workspace).count() == 3


def test_an_expired_invitation_is_refused(client, tenant_a, no_scopes, django_capture_on_commit_callbacks, time_machine):
    client.force_login(tenant_a.owner)
    _invite(client, tenant_a, django_capture_on_commit_callbacks)
    link = _link_of(mail.outbox[0])
    newcomer = UserFactory(email="colleague@example.com")
    time_machine.move_to(timezone.now() + timedelta(days=15))
    client.force_login(newcomer)

    page = client.get(link)
    response = client.post(link, follow=True)

    assert "This invitation has expired, was revoked or was already used." in page.content.decode()
    assert "This invitation has expired, was revoked or was already used." in messages_of(response)
    assert not Membership.objects.filter(user=newcomer).exists()
    client.force_login(tenant_a.owner)
    assert client.get(url("team", tenant_a)).context["invitations"] == []


def test_a_revoked_invitation_is_refused(client, tenant_a, no_scopes, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.owner)
    _invite(client, tenant_a, django_capture_on_commit_callbacks)
    link = _link_of(mail.outbox[0])
    invitation = StaffInvitation.objects.get(workspace=tenant_a.workspace)

    revoked = client.post(url("invitation_revoke", tenant_a, invitation.pk), follow=True)
    newcomer = UserFactory(email="colleague@example.com")
    client.force_login(newcomer)
    response = client.post(link, follow=True)

    assert "Invitation for colleague@example.com revoked." in messages_of(revoked)
    assert revoked.context["invitations"] == []
    assert "This invitation has expired, was revoked or was already used." in messages_of(response)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_inviting_a_member_again_is_a_form_error(client, tenant_a, no_scopes, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.owner)

    response = _invite(client, tenant_a, django_capture_on_commit_callbacks, email=tenant_a.manager.email)

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [f"{tenant_a.manager.email} is already a member of this workspace."]
    assert mail.outbox == []


def test_the_last_owner_cannot_be_demoted(client, tenant_a, no_scopes):
    own = Membership.objects.get(workspace=tenant_a.workspace, user=tenant_a.owner)
    client.force_login(tenant_a.owner)

    response = client.post(url("member_role", tenant_a, own.pk), {"role": Role.MANAGER}, follow=True)

    assert "A workspace needs at least one owner: make someone else owner first." in messages_of(response)
    own.refresh_from_db()
    assert own.role == Role.OWNER


def test_the_last_owner_cannot_be_removed(client, tenant_a, no_scopes):
    own = Membership.objects.get(workspace=tenant_a.workspace, user=tenant_a.owner)
    client.force_login(tenant_a.owner)

    response = client.post(url("member_remove", tenant_a, own.pk), follow=True)

    assert "A workspace needs at least one owner: make someone else owner first." in messages_of(response)
    assert Membership.objects.filter(pk=own.pk, role=Role.OWNER).exists()


def test_with_a_second_owner_the_first_can_step_down(client, tenant_a, no_scopes):
    MembershipFactory(workspace=tenant_a.workspace, role=Role.OWNER)
    own = Membership.objects.get(workspace=tenant_a.workspace, user=tenant_a.owner)
    client.force_login(tenant_a.owner)

    response = client.post(url("member_role", tenant_a, own.pk), {"role": Role.MANAGER})

    assert response.status_code == 302
    own.refresh_from_db()
    assert own.role == Role.MANAGER
    assert client.get(url("api_keys", tenant_a)).status_code == 403


def test_owner_changes_a_role_and_removes_a_member(client, tenant_a, no_scopes):
    manager = Membership.objects.get(workspace=tenant_a.workspace, user=tenant_a.manager)
    viewer = Membership.objects.get(workspace=tenant_a.workspace, user=tenant_a.viewer)
    client.force_login(tenant_a.owner)

    promoted = client.post(url("member_role", tenant_a, manager.pk), {"role": Role.OWNER}, follow=True)
    removed = client.post(url("member_remove", tenant_a, viewer.pk), follow=True)

    assert f"{tenant_a.manager.email} is now owner." in messages_of(promoted)
    assert f"{tenant_a.viewer.email} was removed from the team." in messages_of(removed)
    manager.refresh_from_db()
    assert manager.role == Role.OWNER
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    client.force_login(tenant_a.viewer)
    assert client.get(url("advocate_list", tenant_a)).status_code == 404


# --- API keys ----------------------------------------------------------------------------


def test_a_new_api_key_is_shown_once_and_stored_as_a_hash(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)

    created = client.post(url("api_keys", tenant_a), {"name": "Salesforce sync"}, follow=True)

    assert created.redirect_chain == [(url("api_keys", tenant_a), 302)]  # a reload cannot create a second key
    secret = created.context["new_key"]
    assert secret.startswith("adv_") and len(secret) > 30
    assert secret in created.content.decode()
    assert "it is shown only this once" in created.content.decode()
    key = ApiKey.objects.get(workspace=tenant_a.workspace, name="Salesforce sync")
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:12]
    assert key.created_by == tenant_a.owner
    assert secret not in repr(list(ApiKey.objects.filter(pk=key.pk).values()))
    assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="api_key.created", actor=tenant_a.owner).exists()

    later = client.get(url("api_keys", tenant_a)).content.decode()

    assert secret not in later
    assert f"{key.prefix}…" in later


def test_a_key_without_a_name_is_a_form_error(client, tenant_a, no_scopes):
    client.force_login(tenant_a.owner)

    response = client.post(url("api_keys", tenant_a), {"name": ""})

    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert ApiKey.objects.filter(workspace=tenant_a.workspace).count() == 1


def test_revoking_a_key_makes_the_api_answer_401(client, tenant_a, no_scopes):
    from rest_framework.test import APIClient

    client.force_login(tenant_a.owner)
    secret = client.post(url("api_keys", tenant_a), {"name": "CRM"}, follow=True).context["new_key"]
    key = ApiKey.objects.get(workspace=tenant_a.workspace, name="CRM")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/advocates/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None

    revoked = client.post(url("api_key_revoke", tenant_a, key.pk), follow=True)

    assert "API key “CRM” revoked; requests with it now answer 401." in messages_of(revoked)
    response = api.get("/api/v1/advocates/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert tenant_a.api().get("/api/v1/advocates/").status_code == 200, "other keys keep working"
    assert "Revoked" in revoked.content.decode()
