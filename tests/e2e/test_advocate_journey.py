"""An advocate signs in to the portal with an emailed code, sets preferences and pauses."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from advocacy.models import Advocate, Stage
from advocacy.scoping import scopes_disabled
from tests.factories import AdvocateFactory, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in_code(email: str) -> str:
    """The code from the newest sign-in email to ``email`` (sent by the eager Celery task)."""
    messages = [m for m in mail.outbox if email in m.to]
    assert messages, f"no email to {email}; outbox: {[(m.to, m.subject) for m in mail.outbox]}"
    body = messages[-1].body
    match = re.search(r"listed below\..*?\n\s*\n\s*(\S+)\s*\n", body, re.S)
    assert match, f"no code in the email:\n{body}"
    return match.group(1)


@pytest.fixture
def advocate(transactional_db):
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    user = UserFactory(email="ada@customer.example")
    return AdvocateFactory(
        workspace=workspace, email=user.email, user=user, name="Ada Lovelace", stage=Stage.ACTIVE,
        max_asks_per_month=None, channels=["email", "portal"], show_on_leaderboards=True,
    )


def test_advocate_signs_in_with_a_code_keeps_preferences_and_pauses(page, snap, advocate):
    # Ask for a code.
    page.goto("/portal/acme/login/")
    snap("portal-login")
    page.get_by_label("Email").fill("ada@customer.example")
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))

    # Type the emailed code into allauth's page; land on the portal home.
    code = sign_in_code("ada@customer.example")
    snap("code-page")
    page.fill("input[name=code]", code)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/portal/acme/$"))
    expect(page.get_by_role("heading", name="Hi Ada Lovelace")).to_be_visible()
    snap("portal-home")

    # Preferences: change all three, save, see the message, reload, see them kept.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Preferences").click()
    page.wait_for_url(re.compile(r"/portal/acme/preferences/$"))
    page.get_by_label("At most this many asks a month").fill("3")
    page.locator("input[name=channels][value=email]").uncheck()
    page.locator("input[name=channels][value=portal]").check()
    page.get_by_label("Show me on leaderboards").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".messages .success")).to_have_text("Your preferences are saved.")
    snap("preferences-saved")

    page.reload()
    expect(page.locator(".messages")).to_have_count(0)
    expect(page.get_by_label("At most this many asks a month")).to_have_value("3")
    expect(page.locator("input[name=channels][value=email]")).not_to_be_checked()
    expect(page.locator("input[name=channels][value=portal]")).to_be_checked()
    expect(page.get_by_label("Show me on leaderboards")).not_to_be_checked()
    with scopes_disabled():
        saved = Advocate.objects.get(pk=advocate.pk)
    assert (saved.max_asks_per_month, saved.channels, saved.show_on_leaderboards) == (3, ["portal"], False)

    # Pause, through its confirmation page.
    page.get_by_role("link", name="Pause").click()
    page.wait_for_url(re.compile(r"/portal/acme/preferences/pause/$"))
    expect(page.get_by_role("heading", name="Pause your participation?")).to_be_visible()
    snap("pause-confirm")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_url(re.compile(r"/portal/acme/preferences/$"))
    expect(page.locator(".messages .success")).to_have_text("You are paused: no new asks until you resume.")
    expect(page.get_by_text("You are paused.", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Resume")).to_be_visible()
    snap("paused")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Home").click()
    expect(page.locator(".alert")).to_contain_text("You are paused: we send you no asks.")
    with scopes_disabled():
        assert Advocate.objects.get(pk=advocate.pk).stage == Stage.PAUSED
