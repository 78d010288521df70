"""An advocate redeems a reward; a manager approves and fulfils it; the advocate sees the
status and the note. A second redemption is rejected and the advocate sees the refund."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from advocacy.models import Advocate, Role, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.models import CatalogItem, EntryKind, ItemKind
from rewards.services import credit_points
from tests.e2e.conftest import DESKTOP
from tests.e2e.test_advocate_journey import sign_in_code
from tests.factories import (
    PASSWORD,
    AdvocateFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def program(transactional_db):
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email="manager@acme.example").user
    user = UserFactory(email="ada@customer.example")
    advocate = AdvocateFactory(workspace=workspace, email=user.email, user=user, name="Ada Lovelace", stage=Stage.ACTIVE,
                               channels=["email", "portal"])
    with workspace_scope(workspace):
        credit_points(advocate=advocate, amount=500, kind=EntryKind.EARN_BONUS, reason="Welcome bonus", idempotency_key="welcome")
    CatalogItem.objects.with_scopes_disabled().create(
        workspace=workspace, name="Conference pass", kind=ItemKind.EVENT_PASS, cost=200, stock=10, needs_approval=True,
        fulfilment_instructions="Send the ticket code from the events team.",
    )
    return workspace, manager, advocate


def redeem_pass(page) -> None:
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Catalog").click()
    page.wait_for_url(re.compile(r"/portal/acme/rewards/catalog/$"))
    page.get_by_role("link", name="Redeem Conference pass").click()
    expect(page.get_by_role("heading", name="Redeem Conference pass?")).to_be_visible()
    page.get_by_role("button", name="Redeem for 200 points").click()
    page.wait_for_url(re.compile(r"/portal/acme/rewards/redemptions/$"))
    expect(page.locator(".messages .success")).to_contain_text("You redeemed “Conference pass” for 200 points.")


def test_advocate_redeems_manager_approves_fulfils_and_rejects_with_a_refund(page, browser, live_server, snap, program):
    workspace, manager, advocate = program

    # The advocate signs in with an emailed code and redeems the pass.
    page.goto("/portal/acme/login/")
    page.get_by_label("Email").fill(advocate.email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    page.fill("input[name=code]", sign_in_code(advocate.email))
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/portal/acme/$"))
    redeem_pass(page)
    first = page.locator("li.redemption").first
    expect(first).to_contain_text("Requested")
    expect(first).to_contain_text("Waiting for approval")
    snap("redeemed")

    # The manager, in their own browser, approves it from the queue and fulfils it.
    staff = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    staff.set_default_timeout(15_000)
    mpage = staff.new_page()
    try:
        mpage.goto("/accounts/login/")
        mpage.fill("input[name=login]", manager.email)
        mpage.fill("input[name=password]", PASSWORD)
        mpage.locator("form button[type=submit]").first.click()
        mpage.wait_for_url(re.compile(r"/w/acme/$"))
        mpage.get_by_role("navigation", name="Main").get_by_role("link", name="Redemptions").click()
        mpage.wait_for_url(re.compile(r"/w/acme/rewards/redemptions/$"))
        mpage.get_by_role("button", name="Approve Conference pass for Ada Lovelace").click()
        expect(mpage.locator(".messages .success")).to_contain_text("approved")
        expect(mpage.get_by_text("Nothing waits for approval")).to_be_visible()
        mpage.get_by_role("link", name="To fulfil").click()
        mpage.get_by_role("link", name="Fulfil…").click()
        expect(mpage.get_by_text("Send the ticket code from the events team.")).to_be_visible()
        mpage.get_by_label("Code or tracking note").fill("Your ticket code: CONF-2026-XYZ")
        mpage.get_by_role("button", name="Mark fulfilled").click()
        expect(mpage.locator(".messages .success")).to_contain_text("fulfilled")

        # The advocate sees it fulfilled with the code.
        page.reload()
        expect(first).to_contain_text("Fulfilled")
        expect(first).to_contain_text("Your ticket code: CONF-2026-XYZ")
        snap("fulfilled")

        # A second redemption, rejected by the manager with a reason.
        redeem_pass(page)
        mpage.get_by_role("navigation", name="Main").get_by_role("link", name="Redemptions").click()
        mpage.get_by_role("link", name="Reject…").click()
        mpage.get_by_label("Reason").fill("One pass per person this year")
        mpage.get_by_role("button", name="Reject and refund").click()
        expect(mpage.locator(".messages .success")).to_contain_text("rejected; the points were refunded")
    finally:
        staff.close()

    page.reload()
    newest = page.locator("li.redemption").first
    expect(newest).to_contain_text("Rejected: One pass per person this year")
    expect(newest).to_contain_text("Refunded 200 points")
    expect(page.locator("li.redemption").nth(1)).to_contain_text("Fulfilled")
    expect(page.get_by_text("You have 300 points.")).to_be_visible()
    snap("rejected-refunded")
    with scopes_disabled():
        assert Advocate.objects.get(pk=advocate.pk).points_balance == 300
        assert CatalogItem.objects.get(workspace=workspace).stock == 9
