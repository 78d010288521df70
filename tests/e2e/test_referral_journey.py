"""Issue 5's journey in the browser: an advocate signs in to the portal, opens the Share
page and copies their link; a visitor (a second browser context) follows it, lands on the
program's landing page with ``?ref=<code>`` and signs up through its lead snippet; the
customer's integration reports the conversion over the API; the click buffer is drained and
the hold period passes (the test is the scheduler of both jobs); the advocate sees the
converted referral, the released reward and the points in their balance.

The landing page is static/demo/landing.html (the lead snippet of
templates/public/lead_snippet.txt on a page of this site), served by the live server."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from advocacy.models import Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.workspaces import create_api_key
from programs.models import ProgramStatus
from referrals import clicks, queries
from referrals.models import Click, Conversion, Coupon, Referral, ReferralCode, ReferralState
from referrals.services import add_coupons
from rewards.models import EntryKind, HeldReward, LedgerEntry
from rewards.services import release_held_rewards
from tests.e2e.conftest import DESKTOP
from tests.e2e.test_advocate_journey import sign_in_code
from tests.factories import AdvocateFactory, ProgramFactory, UserFactory, WorkspaceFactory
from tests.referrals.builders import configure

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = "Refer a friend"
LANDING_PATH = "/static/demo/landing.html"
REFERRER_POINTS = 500
HOLD_DAYS = 30
FRIEND = {"email": "dana@prospect.example", "name": "Dana Scully", "company": "Prospect Ltd"}


@pytest.fixture
def acme(transactional_db, live_server, settings):
    """Acme with Ada (active, portal login) and an active referral program whose landing URL
    is the demo landing page on the live server; 500 points to the referrer, held 30 days,
    a coupon for the referee. The share link is built from SITE_URL: the live server's."""
    settings.SITE_URL = live_server.url
    if clicks.buffer_url():
        settings.CLICK_STREAM = f"e2e-referral-clicks:{uuid.uuid4().hex}"  # no other test's clicks in the drain
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    user = UserFactory(email="ada@customer.example")
    ada = AdvocateFactory(workspace=workspace, email=user.email, user=user, name="Ada Lovelace", stage=Stage.ACTIVE,
                          channels=["email", "portal"], max_asks_per_month=None)
    program = ProgramFactory(workspace=workspace, name=PROGRAM, status=ProgramStatus.ACTIVE,
                             landing_url=live_server.url + LANDING_PATH)
    configure(program, referrer_points=REFERRER_POINTS, hold_days=HOLD_DAYS)
    with workspace_scope(workspace):
        add_coupons(program=program, codes=["WELCOME-ACME-1"], actor=None)
    api_secret = create_api_key(workspace=workspace, name="CRM").secret
    yield workspace, ada, program, api_secret
    if clicks.buffer_url():
        clicks._client(clicks.buffer_url()).delete(settings.CLICK_STREAM)


def test_advocate_shares_a_link_friend_signs_up_converts_and_the_advocate_gets_the_points(page, browser, live_server, snap, acme):
    workspace, ada, program, api_secret = acme
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # Ada signs in with an emailed code and opens the Share page from the portal's menu.
    page.goto("/portal/acme/login/")
    page.get_by_label("Email").fill(ada.email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    page.fill("input[name=code]", sign_in_code(ada.email))
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/portal/acme/$"))
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Share").click()
    page.wait_for_url(re.compile(r"/portal/acme/referrals/$"))
    expect(page.get_by_role("heading", name="Share Acme Corp", level=1)).to_be_visible()
    expect(page.get_by_text("No referrals yet")).to_be_visible()
    expect(page.get_by_text("No referral rewards yet")).to_be_visible()

    # Her personal link for the program, copied with the button.
    with scopes_disabled():
        code = ReferralCode.objects.get(workspace=workspace, advocate=ada, program=program).code
    link = f"{live_server.url}/r/{code}"
    card = page.locator("li.card", has_text=PROGRAM)
    expect(card.locator("code")).to_have_text(link)
    copy = page.get_by_role("button", name=f"Copy your link for {PROGRAM}")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == link
    snap("share-page")

    # A friend follows the link in their own browser and lands on the program's landing page.
    visitor_context = browser.new_context(viewport=DESKTOP)
    visitor_context.set_default_timeout(15_000)
    visitor = visitor_context.new_page()
    try:
        visitor.goto(copied)
        expect(visitor).to_have_url(f"{live_server.url}{LANDING_PATH}?ref={code}")
        expect(visitor.get_by_role("heading", name="Try Demo Company free for 30 days")).to_be_visible()
        assert [c["value"] for c in visitor_context.cookies() if c["name"] == "ref"] == [code]

        # …and signs up: the snippet posts the lead to /r/<code>/lead before the page's own sign-up.
        visitor.get_by_label("Work email").fill(FRIEND["email"])
        visitor.get_by_label("Name").fill(FRIEND["name"])
        visitor.get_by_label("Company").fill(FRIEND["company"])
        with visitor.expect_response(lambda r: r.url.endswith(f"/r/{code}/lead")) as posted:
            visitor.get_by_role("button", name="Sign up").click()
        assert posted.value.status == 201, posted.value.text()
        assert posted.value.request.method == "POST"
        expect(visitor.get_by_role("status")).to_have_text("Thanks! We'll be in touch.")
    finally:
        visitor_context.close()

    with scopes_disabled():
        referral = Referral.objects.get(workspace=workspace)
    assert (referral.advocate_id, referral.code.code, referral.state, referral.source, referral.flags) == (
        ada.pk, code, ReferralState.LEAD, "form", [])
    assert (referral.referee_email, referral.referee_name, referral.referee_company) == (
        FRIEND["email"], FRIEND["name"], FRIEND["company"])

    # Ada sees the lead.
    page.reload()
    row = page.locator("tbody tr", has_text=FRIEND["name"])
    expect(row).to_contain_text(PROGRAM)
    expect(row).to_contain_text("Lead")

    # The customer's CRM reports the deal over the API; the repeat (a retried webhook) counts once.
    deal = {"external_id": "deal-4711", "referee_email": FRIEND["email"].upper(), "value": "1200.00", "currency": "eur"}
    headers = {"Authorization": f"Bearer {api_secret}"}
    response = requests.post(f"{live_server.url}/api/v1/conversions/", json=deal, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    assert (response.json()["attributed"], response.json()["referral"]) == (True, referral.pk)
    again = requests.post(f"{live_server.url}/api/v1/conversions/", json=deal, headers=headers, timeout=10)
    assert (again.status_code, again.json()["id"]) == (200, response.json()["id"])

    # The scheduled click drain runs: the one click, buffered in Redis until now (written in the
    # request without a buffer), is written, attributed.
    with scopes_disabled():
        assert Click.objects.filter(workspace=workspace).count() == (0 if clicks.buffer_url() else 1)
    clicks.drain_clicks()
    with scopes_disabled():
        click_rows = list(Click.objects.filter(workspace=workspace).select_related("code"))
        funnel = queries.funnel(workspace)
    assert [(c.code.code, c.attributed, c.flagged) for c in click_rows] == [(code, True, False)]
    assert (funnel["clicks"], funnel["unique_clicks"], funnel["leads"], funnel["conversions"]) == (1, 1, 1, 1)
    assert funnel["revenue"] == {"EUR": Decimal("1200.00")}

    # Converted; the points are held for the hold period.
    page.reload()
    row = page.locator("tbody tr", has_text=FRIEND["name"])
    expect(row).to_contain_text("Converted")
    reward = page.locator("li.card", has_text=f"{REFERRER_POINTS} points · {FRIEND['name']}")
    expect(reward).to_contain_text("Held")
    with scopes_disabled():
        release_at = HeldReward.objects.get(workspace=workspace).release_at
    assert timedelta(days=HOLD_DAYS) - timedelta(minutes=5) < release_at - timezone.now() <= timedelta(days=HOLD_DAYS)
    expect(reward).to_contain_text(f"Held until {timezone.localtime(release_at):%-d %b %Y}")
    snap("share-page-held", phone=False)

    # The hold passes: the hourly release job runs a day after the release date.
    with workspace_scope(workspace):
        assert release_held_rewards(workspace=workspace, now=release_at + timedelta(days=1)) == 1

    page.reload()
    reward = page.locator("li.card", has_text=f"{REFERRER_POINTS} points · {FRIEND['name']}")
    expect(reward.locator(".badge")).to_have_text("Released")
    expect(reward).to_contain_text("Released: the points are in your balance.")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Rewards").click()
    page.wait_for_url(re.compile(r"/portal/acme/rewards/$"))
    expect(page.locator(".kpi", has_text="Points to spend").locator(".value")).to_have_text(str(REFERRER_POINTS))
    snap("rewards-page", phone=False)

    with scopes_disabled():
        referral.refresh_from_db()
        assert referral.state == ReferralState.CONVERTED and referral.rewarded_at is not None
        assert list(Referral.objects.filter(workspace=workspace).values_list("state", flat=True)) == [ReferralState.CONVERTED]
        conversion = Conversion.objects.get(workspace=workspace)
        assert (conversion.referral_id, conversion.attributed, str(conversion.value), conversion.currency) == (
            referral.pk, True, "1200.00", "EUR")
        held = HeldReward.objects.get(workspace=workspace)
        assert (held.advocate_id, held.amount, held.status, held.idempotency_key) == (
            ada.pk, REFERRER_POINTS, HeldReward.Status.RELEASED, f"referral:{referral.pk}:referrer")
        entries = list(LedgerEntry.objects.filter(workspace=workspace).values_list("advocate", "kind", "amount"))
        assert entries == [(ada.pk, EntryKind.EARN_REFERRAL, REFERRER_POINTS)]
        assert list(Coupon.objects.filter(workspace=workspace).values_list("code", "referral")) == [
            ("WELCOME-ACME-1", referral.pk)]
        ada.refresh_from_db()
        assert ada.points_balance == REFERRER_POINTS
