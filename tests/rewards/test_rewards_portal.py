"""The advocate's Rewards page: balance, tier and progress, the ladder, badges earned and
to earn, points history with reasons, held rewards with why, and the leaderboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.badges import record_fact
from rewards.models import Badge, EntryKind
from rewards.services import credit_points, debit_points, hold_points
from tests.factories import PASSWORD, AdvocateFactory


def sign_in(client, tenant):
    assert client.login(email=tenant.advocate_user.email, password=PASSWORD)


def page(client, tenant, **params):
    response = client.get(reverse("portal_rewards", args=[tenant.workspace.slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def credit(advocate, amount, key, reason="Case study published"):
    with workspace_scope(advocate.workspace):
        return credit_points(advocate=advocate, amount=amount, kind=EntryKind.EARN_ASK, reason=reason, idempotency_key=key)


@pytest.mark.django_db
def test_rewards_page_shows_balance_tier_progress_history_and_held_reasons(client, tenant_a):
    a = tenant_a.advocate
    credit(a, 1500, "k1", reason="Wrote a G2 review")
    with workspace_scope(a.workspace):
        debit_points(advocate=a, amount=200, kind=EntryKind.REDEEM, reason="Redeemed: Hoodie", idempotency_key="k2")
        hold_points(advocate=a, amount=250, kind=EntryKind.EARN_REFERRAL, reason="Referral: Acme Corp",
                    held_because="Referral rewards are held for 30 days in case the deal is cancelled.",
                    release_at=timezone.now() + timedelta(days=30), idempotency_key="h1")
    sign_in(client, tenant_a)
    html = page(client, tenant_a)
    assert ">1300<" in html and ">1500<" in html  # balance and lifetime
    assert "Your tier: Insider" in html
    assert "3500 more points earned to reach <strong>Champion</strong>" in html
    assert 'aria-valuenow="12"' in html  # (1500 - 1000) / (5000 - 1000)
    assert "Early access to betas" in html and "A seat at our annual summit" in html  # the whole ladder with perks
    assert "Wrote a G2 review" in html and "Redeemed: Hoodie" in html and "-200" in html
    assert html.index("Redeemed: Hoodie") < html.index("Wrote a G2 review")  # newest first
    assert "Referral: Acme Corp" in html and "held for 30 days in case the deal is cancelled" in html
    assert "Spendable from" in html


@pytest.mark.django_db
def test_badges_earned_and_to_earn_with_what_it_takes(client, tenant_a):
    with scopes_disabled():
        Badge.objects.create(workspace=tenant_a.workspace, code="first-review", name="First review",
                             rule={"fact": "reviews_completed", "at_least": 1}, points=50)
        Badge.objects.create(workspace=tenant_a.workspace, code="five-asks", name="Five asks",
                             rule={"fact": "asks_completed", "at_least": 5})
        Badge.objects.create(workspace=tenant_a.workspace, code="retired", name="Retired badge",
                             rule={"fact": "asks_completed", "at_least": 1}, active=False)
    with workspace_scope(tenant_a.workspace):
        record_fact(advocate=tenant_a.advocate, fact="reviews_completed")
        record_fact(advocate=tenant_a.advocate, fact="asks_completed", increment=2)
    sign_in(client, tenant_a)
    html = page(client, tenant_a)
    assert "First review" in html and "Earned" in html and "Badge earned: First review" in html
    assert "How: Complete 5 asks (2 of 5)" in html
    assert "Retired badge" not in html


@pytest.mark.django_db
def test_leaderboard_lists_others_by_first_name_and_tells_an_opted_out_advocate_they_are_hidden(client, tenant_a):
    other = AdvocateFactory(workspace=tenant_a.workspace, name="Grace Brewster Hopper")
    credit(other, 300, "o1")
    credit(tenant_a.advocate, 100, "me")
    sign_in(client, tenant_a)
    html = page(client, tenant_a, period="all")
    assert "Grace H." in html and other.email not in html and "<strong>You</strong>" in html
    assert "You are hidden from leaderboards" not in html
    with scopes_disabled():
        Advocate.objects.filter(pk=tenant_a.advocate.pk).update(show_on_leaderboards=False)
    html = page(client, tenant_a, period="all")
    assert "You are hidden from leaderboards" in html and "<strong>You</strong>" not in html


@pytest.mark.django_db
def test_history_is_paginated(client, tenant_a):
    for i in range(25):
        credit(tenant_a.advocate, 1, f"k{i}", reason=f"Entry number {i:02d}")
    sign_in(client, tenant_a)
    first = page(client, tenant_a)
    assert "Entry number 24" in first and "Entry number 04" not in first and "Page 1 of 2" in first
    second = page(client, tenant_a, page="2")
    assert "Entry number 04" in second and "Entry number 24" not in second


def _queries(client, tenant) -> int:
    with CaptureQueriesContext(connection) as ctx:
        page(client, tenant)
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_rewards_page_query_count_does_not_grow_with_history(client, tenant_a):
    with scopes_disabled():
        for i in range(4):
            Badge.objects.create(workspace=tenant_a.workspace, code=f"b{i}", name=f"Badge {i}",
                                 rule={"fact": "asks_completed", "at_least": i + 1})
    sign_in(client, tenant_a)
    for i in range(10):
        credit(tenant_a.advocate, 10, f"a{i}")
    page(client, tenant_a)  # the ladder's defaults are created on first sight
    ten = _queries(client, tenant_a)
    for i in range(40):
        credit(tenant_a.advocate, 10, f"b{i}")
        credit(AdvocateFactory(workspace=tenant_a.workspace), 10, f"c{i}")
    with workspace_scope(tenant_a.workspace):
        record_fact(advocate=tenant_a.advocate, fact="asks_completed", increment=3)
    assert _queries(client, tenant_a) == ten


@pytest.mark.django_db
def test_portal_home_shows_tier_and_progress_and_the_nav_links_rewards(client, tenant_a):
    credit(tenant_a.advocate, 500, "k")
    sign_in(client, tenant_a)
    html = client.get(reverse("portal_home", args=[tenant_a.workspace.slug])).content.decode()
    assert "Your tier: Member" in html and "500 more points to reach Insider" in html
    assert reverse("portal_rewards", args=[tenant_a.workspace.slug]) in html


@pytest.mark.django_db
def test_rewards_page_needs_a_signed_in_advocate_of_the_workspace(client, tenant_a, tenant_b):
    url = reverse("portal_rewards", args=[tenant_a.workspace.slug])
    assert client.get(url).status_code == 302
    sign_in(client, tenant_b)
    assert client.get(url).status_code == 302  # not an advocate of alpha: to alpha's sign-in


@pytest.mark.django_db
def test_an_advocate_below_the_top_ten_sees_their_own_rank(client, tenant_a):
    for i in range(11):
        credit(AdvocateFactory(workspace=tenant_a.workspace), 100 + i, f"o{i}")
    credit(tenant_a.advocate, 50, "me")
    sign_in(client, tenant_a)
    html = page(client, tenant_a)
    assert "You are <strong>#12</strong> with 50 points earned this month" in html
    assert "<strong>You</strong>" not in html
