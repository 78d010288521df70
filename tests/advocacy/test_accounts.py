"""Accounts (allauth): staff sign-up with a workspace, sign-in with its failed-login rate
limit, password reset; and the member portal's sign-in by emailed code, preferences,
pause/resume/leave, data export and erasure."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Advocate, Membership, Role, Stage, User, Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.advocates import erase_advocate

from ..factories import PASSWORD, AdvocateFactory, UserFactory

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.MULTILINE)
TOO_MANY = "Too many failed login attempts. Try again later."



def signed_in_user_id(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


# --- Sign-up ----------------------------------------------------------------------------


def signup(client, **overrides):
    data = {"email": "founder@acme.example", "password1": "a-Long-unusual-pass-42", "password2": "a-Long-unusual-pass-42",
            "workspace_name": "Acme Widgets"}
    data.update(overrides)
    return client.post(reverse("account_signup"), data)


def test_signup_creates_user_and_workspace_with_them_as_owner(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signup(client)
    assert response.status_code == 302
    assert response.url == "/w/acme-widgets/"
    user = User.objects.get(email="founder@acme.example")
    workspace = Workspace.objects.get(slug="acme-widgets")
    assert workspace.name == "Acme Widgets"
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER
    assert signed_in_user_id(client) == user.pk
    assert user.check_password("a-Long-unusual-pass-42")
    home = client.get(response.url)
    assert home.status_code == 200


def test_signup_with_explicit_workspace_address(client):
    response = signup(client, workspace_slug="widgets-hq")
    assert response.url == "/w/widgets-hq/"
    assert Workspace.objects.filter(slug="widgets-hq", name="Acme Widgets").exists()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"workspace_name": "Alpha"}, "The address “alpha” is taken; choose another."),
    ({"workspace_slug": "alpha"}, "The address “alpha” is taken; choose another."),
    ({"workspace_slug": "admin"}, "“admin” is reserved; choose another."),
    ({"workspace_name": "API"}, "“api” is reserved; choose another."),
])
def test_signup_with_taken_or_reserved_slug_is_a_form_error(client, tenant_a, overrides, message):
    response = signup(client, **overrides)
    assert response.status_code == 200
    assert message in response.context["form"].errors["workspace_slug"]
    assert not User.objects.filter(email="founder@acme.example").exists()
    assert Workspace.objects.count() == 1
    assert signed_in_user_id(client) is None


# --- Staff sign-in and its rate limit ------------------------------------------------------


def login(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def login_errors(response) -> list[str]:
    form = response.context["form"]
    return form.non_field_errors()


def test_staff_signs_in_with_email_and_password(client, tenant_a):
    response = login(client, "Manager@Alpha.example", PASSWORD)
    assert response.status_code == 302
    assert response.url == "/w/"
    assert signed_in_user_id(client) == tenant_a.manager.pk
    assert client.get(reverse("manager_home", args=["alpha"])).status_code == 200


def test_wrong_password_is_refused(client, tenant_a):
    response = login(client, tenant_a.manager.email, "wrong")
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in login_errors(response)
    assert signed_in_user_id(client) is None


def test_failed_logins_are_rate_limited_per_account_even_for_the_right_password(client, tenant_a):
    email = tenant_a.manager.email
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            response = login(client, email, "wrong-password")
            assert TOO_MANY not in login_errors(response)
        # allauth refuses with a form error (200), not a 429, once the key's budget is spent
        refused = login(client, email, "wrong-password")
        assert refused.status_code == 200
        assert login_errors(refused) == [TOO_MANY]
        right = login(client, email, PASSWORD)
        assert right.status_code == 200
        assert login_errors(right) == [TOO_MANY]
        assert signed_in_user_id(client) is None

        # another account from the same address is not yet limited (10/m per IP)
        other = login(client, tenant_a.owner.email, PASSWORD)
        assert other.status_code == 302
        client.logout()

        traveller.shift(timedelta(minutes=5, seconds=1))
        assert login(client, email, PASSWORD).status_code == 302
        assert signed_in_user_id(client) == tenant_a.manager.pk


def test_failed_logins_are_rate_limited_per_ip_across_accounts(client, tenant_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for i in range(10):
            response = login(client, f"nobody{i}@example.com", "wrong-password")
            assert TOO_MANY not in login_errors(response)
        refused = login(client, tenant_a.owner.email, PASSWORD)
        assert login_errors(refused) == [TOO_MANY]
        assert signed_in_user_id(client) is None
        # another address is not affected
        elsewhere = client.post(reverse("account_login"), {"login": tenant_a.owner.email, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
        assert elsewhere.status_code == 302
        client.logout()
        traveller.shift(timedelta(seconds=61))
        assert login(client, tenant_a.owner.email, PASSWORD).status_code == 302


def test_login_posts_beyond_30_a_minute_from_one_ip_answer_429(client, tenant_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(30):
            assert login(client, tenant_a.manager.email, "wrong-password").status_code == 200
        assert login(client, tenant_a.owner.email, PASSWORD).status_code == 429
        assert signed_in_user_id(client) is None
        traveller.shift(timedelta(seconds=61))
        assert login(client, tenant_a.owner.email, PASSWORD).status_code == 302


def test_successful_login_does_not_use_up_the_failure_budget(client, tenant_a):
    email = tenant_a.manager.email
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(6):
            assert login(client, email, PASSWORD).status_code == 302
            client.logout()
        for _ in range(4):
            login(client, email, "wrong-password")
        assert login(client, email, PASSWORD).status_code == 302


# --- Password reset ---------------------------------------------------------------------


def test_password_reset_sends_a_link_that_sets_a_new_password(client, tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": tenant_a.manager.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [tenant_a.manager.email]
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/[^\s]+)", message.body)
    assert match, message.body
    link = match.group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(set_url, {"password1": "brand-New-secret-77", "password2": "brand-New-secret-77"})
    assert done.status_code == 302
    tenant_a.manager.refresh_from_db()
    assert tenant_a.manager.check_password("brand-New-secret-77")
    client.logout()
    assert login(client, tenant_a.manager.email, "brand-New-secret-77").status_code == 302


def test_password_reset_for_unknown_email_sends_no_link(client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "stranger@example.com"})
    assert response.status_code == 302  # the same answer as for a known address
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)


# --- Portal sign-in by emailed code -------------------------------------------------------


def request_code(client, slug, email, capture):
    mail.outbox.clear()
    with capture(execute=True):
        response = client.post(reverse("portal_login", args=[slug]), {"email": email})
    return response


def codes_sent(to: str) -> list[str]:
    return [m for message in mail.outbox if to in message.to for m in CODE.findall(message.body)]


def portal_sign_in(client, slug, email, capture):
    response = request_code(client, slug, email, capture)
    assert response.status_code == 302
    [code] = codes_sent(email)
    return client.post(response.url, {"code": code})


def test_portal_login_page_is_open(client, tenant_a):
    response = client.get(reverse("portal_login", args=["alpha"]))
    assert response.status_code == 200
    assert 'name="email"' in response.content.decode()


def test_advocate_signs_in_with_emailed_code(client, tenant_a, django_capture_on_commit_callbacks):
    email = tenant_a.advocate.email
    response = request_code(client, "alpha", email.upper(), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_confirm_login_code"))
    assert "next=/portal/alpha/" in response.url
    [message] = mail.outbox
    assert message.to == [email]
    [code] = CODE.findall(message.body)

    confirm_page = client.get(response.url)
    assert confirm_page.status_code == 200
    signed_in = client.post(response.url, {"code": code})
    assert signed_in.status_code == 302
    assert signed_in.url == "/portal/alpha/"
    assert signed_in_user_id(client) == tenant_a.advocate_user.pk
    home = client.get(signed_in.url)
    assert home.status_code == 200
    assert tenant_a.advocate.name in home.content.decode()


@pytest.mark.parametrize(("next_url", "lands_on"), [
    ("/portal/alpha/preferences/", "/portal/alpha/preferences/"),
    ("https://evil.example/", "/portal/alpha/"),
    ("/portal/beta/", "/portal/alpha/"),
    ("/w/alpha/", "/portal/alpha/"),
])
def test_sign_in_follows_only_a_next_url_inside_the_portal(client, tenant_a, django_capture_on_commit_callbacks, next_url, lands_on):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal_login", args=["alpha"]), {"email": tenant_a.advocate.email, "next": next_url})
    [code] = codes_sent(tenant_a.advocate.email)
    signed_in = client.post(response.url, {"code": code})
    assert signed_in.url == lands_on


def test_wrong_code_is_refused(client, tenant_a, django_capture_on_commit_callbacks):
    response = request_code(client, "alpha", tenant_a.advocate.email, django_capture_on_commit_callbacks)
    refused = client.post(response.url, {"code": "AAAA-0000"})
    assert refused.status_code == 200
    assert refused.context["form"].errors
    assert signed_in_user_id(client) is None


def test_advocate_without_a_user_gets_one_linked_at_first_sign_in(client, tenant_a, django_capture_on_commit_callbacks):
    newcomer = AdvocateFactory(workspace=tenant_a.workspace, email="newcomer@customer.example", user=None, stage=Stage.ACTIVE)
    assert not User.objects.filter(email="newcomer@customer.example").exists()
    signed_in = portal_sign_in(client, "alpha", "newcomer@customer.example", django_capture_on_commit_callbacks)
    assert signed_in.url == "/portal/alpha/"
    user = User.objects.get(email="newcomer@customer.example")
    newcomer.refresh_from_db()
    assert newcomer.user_id == user.pk
    assert signed_in_user_id(client) == user.pk
    assert not user.has_usable_password()
    assert user.emailaddress_set.get().verified


@pytest.mark.parametrize("who", ["unknown", "staff-only", "other-workspace"])
def test_unknown_email_gets_the_same_next_page_and_no_code(client, tenant_a, tenant_b, django_capture_on_commit_callbacks, who):
    email = {"unknown": "nobody@nowhere.example", "staff-only": tenant_a.manager.email, "other-workspace": tenant_b.advocate.email}[who]
    known = request_code(client, "alpha", tenant_a.advocate.email, django_capture_on_commit_callbacks)
    client.session.flush()
    response = request_code(client, "alpha", email, django_capture_on_commit_callbacks)
    assert response.status_code == known.status_code == 302
    assert response.url == known.url
    assert codes_sent(email) == []
    assert client.get(response.url).status_code == 200  # the same confirm page


def test_erased_or_opted_out_advocate_gets_no_code(client, tenant_a, django_capture_on_commit_callbacks):
    opted_out = AdvocateFactory(workspace=tenant_a.workspace, email="gone@customer.example", stage=Stage.OPTED_OUT)
    erased = AdvocateFactory(workspace=tenant_a.workspace, email="erased@customer.example", stage=Stage.ACTIVE)
    with workspace_scope(tenant_a.workspace):
        erase_advocate(advocate=erased, actor=tenant_a.manager)
    for email in (opted_out.email, "erased@customer.example"):
        response = request_code(client, "alpha", email, django_capture_on_commit_callbacks)
        assert response.status_code == 302
        assert codes_sent(email) == []
    opted_out.refresh_from_db()
    assert opted_out.user is None


@pytest.mark.parametrize("known", [True, False])
def test_code_requests_are_rate_limited_per_email(client, tenant_a, django_capture_on_commit_callbacks, known):
    email = tenant_a.advocate.email if known else "nobody@nowhere.example"
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(3):
            assert request_code(client, "alpha", email, django_capture_on_commit_callbacks).status_code == 302
            assert len(codes_sent(email)) == (1 if known else 0)
        limited = request_code(client, "alpha", email, django_capture_on_commit_callbacks)
        assert limited.status_code == 429  # the same answer whether or not the email is an advocate's
        assert "Too many sign-in codes" in limited.content.decode()
        assert mail.outbox == []
        # another address is not affected
        other = request_code(client, "alpha", "someone-else@example.com", django_capture_on_commit_callbacks)
        assert other.status_code == 302
        traveller.shift(timedelta(seconds=61))
        assert request_code(client, "alpha", email, django_capture_on_commit_callbacks).status_code == 302
        assert len(codes_sent(email)) == (1 if known else 0)


def test_portal_pages_need_a_signed_in_advocate(client, tenant_a):
    response = client.get(reverse("portal_preferences", args=["alpha"]))
    assert response.status_code == 302
    assert response.url == "/portal/alpha/login/?next=/portal/alpha/preferences/"
    client.force_login(tenant_a.manager)  # staff, not an advocate
    assert client.get(reverse("portal_home", args=["alpha"])).url.startswith("/portal/alpha/login/")


def test_advocate_of_alpha_visiting_beta_is_sent_to_betas_login(client, tenant_a, tenant_b, django_capture_on_commit_callbacks):
    portal_sign_in(client, "alpha", tenant_a.advocate.email, django_capture_on_commit_callbacks)
    assert client.get("/portal/alpha/").status_code == 200
    response = client.get("/portal/beta/")
    assert response.status_code == 302
    assert response.url == "/portal/beta/login/?next=/portal/beta/"
    assert client.get("/portal/beta/my-data.json").url.startswith("/portal/beta/login/")


def test_unknown_workspace_portal_is_404(client, db):
    assert client.get("/portal/nope/login/").status_code == 404


# --- Portal: preferences, stage, export, erasure ---------------------------------------------


@pytest.fixture
def portal_client(client, tenant_a, django_capture_on_commit_callbacks):
    response = portal_sign_in(client, "alpha", tenant_a.advocate.email, django_capture_on_commit_callbacks)
    assert response.url == "/portal/alpha/"
    return client


def test_advocate_changes_preferences(portal_client, tenant_a):
    url = reverse("portal_preferences", args=["alpha"])
    assert portal_client.get(url).status_code == 200
    response = portal_client.post(url, {
        "max_asks_per_month": "2", "channels": ["email"], "preferred_ask_kinds": ["review", "beta_feedback"],
    }, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert "Your preferences are saved." in response.content.decode()
    advocate = tenant_a.advocate
    advocate.refresh_from_db()
    assert advocate.max_asks_per_month == 2
    assert advocate.channels == ["email"]
    assert advocate.preferred_ask_kinds == ["review", "beta_feedback"]
    assert advocate.show_on_leaderboards is False

    portal_client.post(url, {"max_asks_per_month": "", "channels": ["email", "portal"], "show_on_leaderboards": "on"})
    advocate.refresh_from_db()
    assert (advocate.max_asks_per_month, advocate.channels, advocate.show_on_leaderboards) == (None, ["email", "portal"], True)


def test_invalid_preferences_are_a_form_error(portal_client, tenant_a):
    response = portal_client.post(reverse("portal_preferences", args=["alpha"]), {"max_asks_per_month": "99", "channels": ["fax"]})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"max_asks_per_month", "channels"}
    tenant_a.advocate.refresh_from_db()
    assert tenant_a.advocate.max_asks_per_month is None


def test_advocate_pauses_resumes_and_leaves(portal_client, tenant_a):
    advocate = tenant_a.advocate
    assert advocate.stage == Stage.ACTIVE
    for action, stage, message in [
        ("pause", Stage.PAUSED, "You are paused"),
        ("resume", Stage.ACTIVE, "Welcome back"),
        ("leave", Stage.OPTED_OUT, "You have left the program"),
    ]:
        url = reverse("portal_stage", args=["alpha", action])
        assert portal_client.get(url).status_code == 200  # the confirmation page changes nothing
        advocate.refresh_from_db()
        assert advocate.stage != stage
        response = portal_client.post(url, follow=True)
        assert message in response.content.decode()
        advocate.refresh_from_db()
        assert advocate.stage == stage
    refused = portal_client.post(reverse("portal_stage", args=["alpha", "resume"]), follow=True)
    assert "cannot become active" in refused.content.decode()
    advocate.refresh_from_db()
    assert advocate.stage == Stage.OPTED_OUT


def test_advocate_downloads_their_own_data(portal_client, tenant_a, tenant_b):
    response = portal_client.get(reverse("portal_data_export", args=["alpha"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["workspace"] == "alpha"
    assert data["advocate"]["id"] == tenant_a.advocate.pk
    assert data["advocate"]["email"] == tenant_a.advocate.email
    assert tenant_b.advocate.email not in response.content.decode()


def test_advocate_erases_themselves_and_is_signed_out(portal_client, tenant_a):
    url = reverse("portal_erase", args=["alpha"])
    assert portal_client.get(url).status_code == 200
    not_confirmed = portal_client.post(url, {"confirm": "yes"})
    assert not_confirmed.status_code == 302
    tenant_a.advocate.refresh_from_db()
    assert tenant_a.advocate.erased_at is None

    response = portal_client.post(url, {"confirm": "erase"})
    assert response.status_code == 200
    assert signed_in_user_id(portal_client) is None
    with scopes_disabled():
        advocate = Advocate.objects.get(pk=tenant_a.advocate.pk)
    assert advocate.erased_at is not None
    assert advocate.name == "Erased advocate"
    assert advocate.email.endswith("@erased.invalid")
    assert advocate.stage == Stage.OPTED_OUT
    assert advocate.user is None
    tenant_a.advocate_user.refresh_from_db()
    assert not tenant_a.advocate_user.is_active
    assert portal_client.get(reverse("portal_home", args=["alpha"])).status_code == 302

    # and the old address can no longer ask for a code
    mail.outbox.clear()
    portal_client.post(reverse("portal_login", args=["alpha"]), {"email": "advocate@alpha.example"})
    assert codes_sent("advocate@alpha.example") == []


def test_signed_in_advocate_on_login_page_goes_home(portal_client):
    response = portal_client.get(reverse("portal_login", args=["alpha"]))
    assert response.status_code == 302
    assert response.url == "/portal/alpha/"


def test_staff_user_who_is_also_an_advocate_signs_in_to_the_portal(client, tenant_a, django_capture_on_commit_callbacks):
    user = UserFactory(email="both@alpha.example")
    Membership.objects.create(workspace=tenant_a.workspace, user=user, role=Role.VIEWER)
    AdvocateFactory(workspace=tenant_a.workspace, email=user.email, user=None)
    signed_in = portal_sign_in(client, "alpha", user.email, django_capture_on_commit_callbacks)
    assert signed_in.url == "/portal/alpha/"
    assert signed_in_user_id(client) == user.pk
    assert User.objects.filter(email=user.email).count() == 1
