"""Issue 4's journey in the browser: a manager creates a program and an ask; rotation offers
it; the advocate accepts and submits proof; the manager approves; the advocate sees the
points and the thanks; the manager records a won deal; the advocate sees the impact.

The manager uses the ``page`` fixture; the advocate a second browser context, so their
sessions never mix. Rotation is a scheduled job: the test is its scheduler."""

from __future__ import annotations

import base64
import os
import re
from contextlib import suppress
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import resolve
from playwright.sync_api import expect

from advocacy.models import Advocate, Role, Stage
from advocacy.scoping import scopes_disabled
from advocacy.unsubscribe import advocate_for_token
from programs.models import Ask, Assignment, AssignmentState, DealStatus, Outcome, Program
from rewards.models import EntryKind, LedgerEntry
from tests.e2e.conftest import DESKTOP, RESULTS
from tests.e2e.test_advocate_journey import sign_in_code
from tests.factories import (
    PASSWORD,
    AdvocateFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = "Customer voices 2026"
ASK = "Review us on G2"
POINTS = 150
PROOF_URL = "https://www.g2.com/products/acme/reviews/ada-lovelace"
PROOF_TEXT = "Posted a five-star review about the reporting features."
# A 1x1 transparent PNG: the proof form takes PNG, JPG, GIF, WEBP, PDF and TXT files.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def acme(transactional_db, settings, tmp_path):
    """A workspace with a manager, Ada (active, email and portal, never asked: rotation's
    first in line) and Grace (paused: rotation must pass her by)."""
    settings.MEDIA_ROOT = tmp_path / "media"  # the proof file lands here, not in var/media
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email="manager@acme.example").user
    user = UserFactory(email="ada@customer.example")
    ada = AdvocateFactory(workspace=workspace, email=user.email, user=user, name="Ada Lovelace", stage=Stage.ACTIVE,
                          channels=["email", "portal"], max_asks_per_month=None)
    grace = AdvocateFactory(workspace=workspace, email="grace@customer.example", name="Grace Hopper", stage=Stage.PAUSED,
                            channels=["email", "portal"])
    return workspace, manager, ada, grace


def snap_portal(apage, name: str) -> None:
    """``snap`` for the advocate's page (the fixture shoots the manager's): desktop only."""
    if os.environ.get("E2E_SCREENSHOTS"):
        RESULTS.mkdir(exist_ok=True)
        apage.screenshot(path=str(RESULTS / f"program-journey-{name}-desktop.png"), full_page=True)


def emails_to(address: str, subject_contains: str) -> list:
    return [m for m in mail.outbox if address in m.to and subject_contains in m.subject]


def test_program_ask_rotation_proof_approval_points_thanks_outcome_and_impact(page, browser, live_server, snap, acme):
    workspace, manager, ada, grace = acme

    # The manager signs in and creates a program.
    page.goto("/accounts/login/")
    page.fill("input[name=login]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/acme/$"))
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Programs", exact=True).click()
    page.wait_for_url(re.compile(r"/w/acme/programs/$"))
    page.get_by_role("link", name="New program").click()
    expect(page.get_by_role("heading", name="New program", level=1)).to_be_visible()
    page.get_by_label("Name").fill(PROGRAM)
    page.get_by_label("Goal").select_option(label="Reviews")
    page.get_by_label("Status").select_option(label="Active")
    page.get_by_label("Description").fill("Reviews and references from the customers who love the product.")
    page.get_by_label("Reviews published").fill("10")
    snap("program-form")
    page.get_by_role("button", name="Create program").click()
    page.wait_for_url(re.compile(r"/w/acme/programs/\d+/$"))
    expect(page.locator(".messages .success")).to_have_text(f"{PROGRAM} is saved.")
    expect(page.get_by_role("heading", name=PROGRAM, level=1)).to_be_visible()

    # An ask in it: one place, 150 points (the medium effort's suggestion), approval needed.
    page.get_by_role("link", name="New ask").click()
    expect(page.get_by_role("heading", name=f"New ask in {PROGRAM}")).to_be_visible()
    page.get_by_label("Kind").select_option(label="Review")
    page.get_by_label("Title").fill(ASK)
    page.get_by_label("Instructions").fill("Write a short, honest review of Acme on G2.")
    page.get_by_label("Effort").select_option(label="Medium")
    expect(page.get_by_label("Points", exact=True)).to_have_value(str(POINTS))  # the form suggests the effort's points
    page.get_by_label("Capacity").fill("1")
    expect(page.get_by_label("A manager approves the proof before points are credited")).to_be_checked()
    page.get_by_label("Status").select_option(value="open")
    snap("ask-form")
    page.get_by_role("button", name="Create ask").click()
    page.wait_for_url(re.compile(r"/w/acme/asks/\d+/$"))
    ask_url = page.url
    expect(page.locator(".messages .success")).to_have_text(f"“{ASK}” is saved.")
    expect(page.get_by_text("Not offered to anyone yet")).to_be_visible()
    with scopes_disabled():
        ask = Ask.objects.get(workspace=workspace, title=ASK)
        assert ask.program == Program.objects.get(workspace=workspace, name=PROGRAM)
        assert (ask.status, ask.capacity, ask.points, ask.needs_approval) == ("open", 1, POINTS, True)

    # Rotation runs (the test is its scheduler): one offer, to the active advocate only.
    out = StringIO()
    call_command("rotate_asks", stdout=out)
    assert re.search(r"acme: 1 offers? for 1 of 1 asks", out.getvalue()), out.getvalue()
    with scopes_disabled():
        offers = list(Assignment.objects.filter(workspace=workspace, ask=ask))
    assert [(a.advocate_id, a.state, a.source) for a in offers] == [(ada.pk, AssignmentState.OFFERED, Assignment.Source.ROTATION)]
    assignment = offers[0]
    assert emails_to(ada.email, ASK), "the new offer is emailed"
    assert not [m for m in mail.outbox if grace.email in m.to]
    page.reload()
    offered_row = page.locator("tbody tr", has_text="Ada Lovelace")
    expect(offered_row).to_contain_text("Offered")
    expect(offered_row).to_contain_text("Rotation")
    snap("ask-offered")

    advocate_context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    advocate_context.set_default_timeout(15_000)
    apage = advocate_context.new_page()
    try:
        # The advocate signs in with an emailed code and accepts the offer.
        apage.goto("/portal/acme/login/")
        apage.get_by_label("Email").fill(ada.email)
        apage.get_by_role("button", name="Email me a code").click()
        apage.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
        apage.fill("input[name=code]", sign_in_code(ada.email))
        apage.locator("form button[type=submit]").first.click()
        apage.wait_for_url(re.compile(r"/portal/acme/$"))
        portal_nav = apage.get_by_role("navigation", name="Portal")
        portal_nav.get_by_role("link", name="Asks").click()
        apage.wait_for_url(re.compile(r"/portal/acme/asks/$"))
        offers_section = apage.get_by_role("region", name=re.compile(r"^Open offers"))
        offer_card = offers_section.locator("li.ask-card", has_text=ASK)
        expect(offer_card).to_contain_text(f"Review · {PROGRAM}")
        expect(offer_card).to_contain_text(f"{POINTS} points")
        snap_portal(apage, "offers")
        offer_card.get_by_role("button", name=f"Accept {ASK}").click()
        apage.wait_for_url(re.compile(rf"/portal/acme/asks/{assignment.pk}/$"))
        expect(apage.locator(".messages .success")).to_contain_text(f"Thank you for taking on “{ASK}”.")
        expect(apage.locator(".ask-card .badge").first).to_have_text("Accepted")

        # Proof: a link, a few words and a small PNG.
        apage.get_by_role("link", name="Submit proof").click()
        apage.wait_for_url(re.compile(rf"/portal/acme/asks/{assignment.pk}/proof/$"))
        expect(apage.get_by_role("heading", name="Show us what you did")).to_be_visible()
        snap_portal(apage, "proof-form")
        apage.get_by_label("Link").fill(PROOF_URL)
        apage.get_by_label("A few words").fill(PROOF_TEXT)
        apage.get_by_label("Or a file").set_input_files({"name": "review.png", "mimeType": "image/png", "buffer": PNG})
        apage.get_by_role("button", name="Submit proof").click()
        apage.wait_for_url(re.compile(rf"/portal/acme/asks/{assignment.pk}/$"))
        expect(apage.locator(".messages .success")).to_have_text(
            "Thank you! Your proof is with the program team; we will let you know.")
        expect(apage.locator(".ask-card .badge").first).to_have_text("Submitted")
        expect(apage.get_by_text("File: review.png")).to_be_visible()
        snap_portal(apage, "proof-submitted")

        # The manager approves it from the queue.
        main_nav.get_by_role("link", name="Approvals").click()
        page.wait_for_url(re.compile(r"/w/acme/approvals/$"))
        card = page.locator("li.card", has_text=ASK)
        expect(card).to_contain_text("Ada Lovelace")
        expect(card.get_by_role("link", name=PROOF_URL)).to_be_visible()
        expect(card).to_contain_text(PROOF_TEXT)
        expect(card.get_by_role("link", name="Download the file")).to_be_visible()
        snap("approval-queue")
        card.get_by_role("button", name=f"Approve {ASK} for Ada Lovelace").click()
        page.wait_for_url(re.compile(r"/w/acme/approvals/$"))
        expect(page.locator(".messages .success")).to_have_text(
            f"“{ASK}” for Ada Lovelace: approved; {POINTS} points credited.")
        expect(page.get_by_text("Nothing waits for approval")).to_be_visible()
        with scopes_disabled():
            assignment.refresh_from_db()
            entries = list(LedgerEntry.objects.filter(workspace=workspace, advocate=ada))
            balance = Advocate.objects.get(pk=ada.pk).points_balance
        assert assignment.state == AssignmentState.APPROVED
        assert [(e.idempotency_key, e.kind, e.amount) for e in entries] == [
            (f"assignment:{assignment.pk}", EntryKind.EARN_ASK, POINTS)]
        assert assignment.points_entry_id == entries[0].pk
        assert balance == POINTS

        # The thanks by email, with its one-click unsubscribe.
        [thanks] = emails_to(ada.email, "is approved")
        assert thanks.subject == f"Thank you! \"{ASK}\" is approved"
        assert f"Thank you for \"{ASK}\": your proof is approved. {POINTS} points are now in your account." in thanks.body
        link = re.search(r"Unsubscribe from these emails: (\S+)", thanks.body)
        assert link, thanks.body
        match = resolve(urlsplit(link.group(1)).path)
        assert match.url_name == "unsubscribe" and advocate_for_token(match.kwargs["token"]) == ada
        assert thanks.extra_headers["List-Unsubscribe"] == f"<{link.group(1)}>"
        assert thanks.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # The advocate sees it approved, the thanks and the points.
        apage.reload()
        expect(apage.locator(".ask-card .badge").first).to_have_text("Approved")
        expect(apage.locator(".alert.ok")).to_have_text(f"Thank you! {POINTS} points were credited to you.")
        portal_nav.get_by_role("link", name="Asks").click()
        apage.wait_for_url(re.compile(r"/portal/acme/asks/$"))
        expect(apage.get_by_text("No open offers")).to_be_visible()
        done = apage.get_by_role("region", name="History").locator("li.ask-card", has_text=ASK)
        expect(done).to_contain_text("Approved")
        expect(done).to_contain_text(f"Thank you! +{POINTS} points credited.")
        snap_portal(apage, "asks-history")
        portal_nav.get_by_role("link", name="Rewards").click()
        apage.wait_for_url(re.compile(r"/portal/acme/rewards/$"))
        spendable = apage.locator(".kpi", has_text="Points to spend")
        expect(spendable.locator(".value")).to_have_text(str(POINTS))
        line = apage.get_by_role("region", name="Points history").locator("li", has_text=f"Completed: {ASK}")
        expect(line).to_contain_text(f"+{POINTS}")
        expect(line).to_contain_text(f"balance {POINTS}")
        snap_portal(apage, "rewards")

        # The manager records what it achieved: a won deal.
        page.goto(ask_url)
        page.get_by_role("region", name="Assignments").get_by_role("link", name="Ada Lovelace").click()
        page.wait_for_url(re.compile(rf"/w/acme/assignments/{assignment.pk}/$"))
        expect(page.get_by_role("heading", name=f"{ASK} for Ada Lovelace")).to_be_visible()
        expect(page.get_by_text(f"{POINTS} points credited.")).to_be_visible()
        page.get_by_label("What it achieved").select_option(label="Deal influenced")
        page.get_by_label("Deal name").fill("Globex expansion")
        page.get_by_label("Deal amount").fill("48000")
        page.get_by_label("Deal status").select_option(label="Won")
        page.get_by_label("A line for the advocate").fill("Globex read your review before signing.")
        snap("outcome-form")
        page.get_by_role("button", name="Record outcome").click()
        page.wait_for_url(re.compile(rf"/w/acme/assignments/{assignment.pk}/#outcomes$"))
        expect(page.locator(".messages .success")).to_contain_text("Outcome recorded:")
        outcomes_table = page.locator("#outcomes table")
        expect(outcomes_table).to_contain_text("Deal influenced")
        expect(outcomes_table).to_contain_text("Globex expansion")
        expect(outcomes_table).to_contain_text("Won")
        with scopes_disabled():
            outcome = Outcome.objects.get(workspace=workspace, assignment=assignment)
        assert (outcome.kind, outcome.deal_name, outcome.amount, outcome.deal_status) == (
            "deal", "Globex expansion", 48000, DealStatus.WON)
        [impact] = emails_to(ada.email, "helped close a deal")
        assert "Your review helped close a deal: Globex expansion, 48,000.00 USD, won." in impact.body, impact.body

        # The advocate opens Impact and sees the won deal.
        portal_nav.get_by_role("link", name="Impact").click()
        apage.wait_for_url(re.compile(r"/portal/acme/impact/$"))
        expect(apage.get_by_role("heading", name="Your impact")).to_be_visible()
        deal = apage.locator("li.ask-card", has_text="Globex expansion")
        expect(deal).to_contain_text("Your review helped close a deal: Globex expansion, 48,000.00 USD, won")
        expect(deal).to_contain_text("Globex read your review before signing.")
        expect(deal.get_by_role("link", name=ASK)).to_be_visible()
        expect(apage.locator("li.ask-card", has_text=f"+{POINTS} points")).to_contain_text(f"Thank you for “{ASK}”!")
        snap_portal(apage, "impact")
    except Exception:  # the fixture shoots the manager's page; this is the advocate's
        RESULTS.mkdir(exist_ok=True)
        with suppress(Exception):
            apage.screenshot(path=str(RESULTS / "FAILED-program-journey-advocate.png"), full_page=True)
        raise
    finally:
        advocate_context.close()
