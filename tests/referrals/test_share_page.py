"""The advocate's share page (/portal/<slug>/referrals/): a link per active program with a
landing URL, with a copy button and ready-made texts; only the signed-in advocate's own
referrals (rejected ones with the reason) and referral rewards (held until a date,
released, flagged by a rule); another workspace's portal shows nothing of it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Stage
from advocacy.scoping import workspace_scope
from programs.models import ProgramStatus
from referrals.models import ReferralCode
from referrals.portal import share_texts
from referrals.services import reject_referral
from rewards.models import EntryKind, HeldReward
from rewards.services import hold_points
from tests.factories import AdvocateFactory, ProgramFactory

from .builders import lead, make_code

pytestmark = pytest.mark.django_db


def url(tenant) -> str:
    return reverse("portal_referrals", args=[tenant.workspace.slug])


def open_page(client, tenant, query: str = ""):
    client.force_login(tenant.advocate_user)
    return client.get(url(tenant) + query)


def hold(referral, *, side="referrer", amount=500, days=30, advocate=None):
    with workspace_scope(referral.workspace_id):
        return hold_points(
            advocate=advocate or referral.advocate, amount=amount, kind=EntryKind.EARN_REFERRAL,
            reason=f"Referral of {referral.referee_email} converted", held_because=f"Held for {days} days.",
            release_at=timezone.now() + timedelta(days=days), idempotency_key=f"referral:{referral.pk}:{side}",
        )


@override_settings(SITE_URL="https://adv.example")
def test_each_active_program_with_a_landing_url_gets_a_link_with_a_copy_button_and_texts(client, tenant_a):
    live = ProgramFactory(workspace=tenant_a.workspace, name="Refer a friend", landing_url="https://landing.example/try")
    ProgramFactory(workspace=tenant_a.workspace, name="Paused one", landing_url="https://landing.example/p", status=ProgramStatus.PAUSED)
    ProgramFactory(workspace=tenant_a.workspace, name="No landing page")

    response = open_page(client, tenant_a)

    assert response.status_code == 200
    body = unquote(response.content.decode())
    code = ReferralCode.objects.with_scopes_disabled().get(advocate=tenant_a.advocate)
    assert code.program == live
    link = f"https://adv.example/r/{code.code}"
    assert body.count(link) >= 4  # the link, the email, LinkedIn and X texts
    assert 'data-copy="#link-1"' in body
    assert "mailto:?subject=" in body and "linkedin.com/sharing/share-offsite/?url=" in body and "twitter.com/intent/tweet?text=" in body
    assert "Refer a friend" in body and "Paused one" not in body and "No landing page" not in body


def test_opening_the_page_twice_keeps_one_code_per_program(client, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, landing_url="https://landing.example/try")
    open_page(client, tenant_a)
    open_page(client, tenant_a)

    assert ReferralCode.objects.with_scopes_disabled().filter(advocate=tenant_a.advocate).count() == 1


def test_the_x_text_fits_in_280_characters_and_carries_the_link():
    link = "https://adv.example/r/BCDFGHJKMN"
    texts = share_texts(workspace_name="A" * 300, program_name="P", url=link)

    assert len(texts["x"]) <= 280 and link in texts["x"]
    assert link in texts["email_body"] and link in texts["linkedin"]


def test_a_departed_advocate_gets_no_link(client, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, landing_url="https://landing.example/try")
    tenant_a.advocate.stage = Stage.ALUMNI
    tenant_a.advocate.save(update_fields=["stage"])

    response = open_page(client, tenant_a)

    assert response.status_code == 200
    assert "Sharing is closed" in response.content.decode()
    assert not ReferralCode.objects.with_scopes_disabled().filter(advocate=tenant_a.advocate).exists()


def test_only_the_signed_in_advocates_referrals_are_shown(client, tenant_a, tenant_b):
    mine = make_code(tenant_a.workspace, advocate=tenant_a.advocate)
    colleagues = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace))
    theirs = make_code(tenant_b.workspace, advocate=tenant_b.advocate)
    lead(mine, "mine@prospect.example")
    lead(colleagues, "colleague@prospect.example")
    lead(theirs, "other-workspace@prospect.example")

    body = open_page(client, tenant_a).content.decode()

    assert "mine@prospect.example" in body
    assert "colleague@prospect.example" not in body
    assert "other-workspace@prospect.example" not in body


def test_rejected_referrals_show_the_reason_and_flagged_ones_are_under_review(client, tenant_a):
    code = make_code(tenant_a.workspace, advocate=tenant_a.advocate)
    rejected = lead(code, "nope@prospect.example")
    with workspace_scope(tenant_a.workspace):
        reject_referral(referral=rejected, actor=tenant_a.manager, reason="Already talking to our sales team")
    lead(code, tenant_a.advocate.email.replace("@", "+me@"))  # a self-referral: flagged

    body = open_page(client, tenant_a).content.decode()

    assert "Rejected" in body and "Already talking to our sales team" in body
    assert "Under review" in body and "Self-referral" in body


def test_referral_rewards_show_held_until_released_and_flagged_by_rule(client, tenant_a):
    code = make_code(tenant_a.workspace, advocate=tenant_a.advocate)
    waiting = lead(code, "waiting@prospect.example")
    done = lead(code, "done@prospect.example")
    flagged = lead(code, "flagged@prospect.example")
    hold(waiting, amount=300, days=30)
    released = hold(done, amount=200, days=0)
    HeldReward.objects.with_scopes_disabled().filter(pk=released.pk).update(status=HeldReward.Status.RELEASED)
    type(flagged).objects.with_scopes_disabled().filter(pk=flagged.pk).update(
        state="converted", flags=[{"rule": "existing_customer", "reason": "The referee is already a customer."}])
    # a held reward that is not a referral's is not listed here
    with workspace_scope(tenant_a.workspace):
        hold_points(advocate=tenant_a.advocate, amount=999, kind=EntryKind.EARN_BONUS, reason="Bonus", held_because="x",
                    release_at=timezone.now() + timedelta(days=3), idempotency_key="bonus:1")

    response = open_page(client, tenant_a)
    body = response.content.decode()
    rewards = body[body.index("My referral rewards"):]

    until = (timezone.now() + timedelta(days=30)).strftime("%-d %b %Y")
    assert "300 points" in rewards and f"Held until {until}" in rewards
    assert "200 points" in rewards and "Released" in rewards
    assert "Flagged by existing customer: The referee is already a customer." in rewards
    assert "999" not in rewards


def test_the_referees_welcome_points_are_listed_for_the_referee(client, tenant_a):
    other = make_code(tenant_a.workspace)
    referral = lead(other, tenant_a.advocate.email.replace("advocate", "friend"))
    hold(referral, side="referee", amount=120, advocate=tenant_a.advocate)

    rewards = open_page(client, tenant_a).content.decode().split("My referral rewards")[1]

    assert "120 points" in rewards and "welcome reward" in rewards


def test_an_advocate_of_a_on_bs_portal_is_sent_to_bs_sign_in_and_sees_nothing(client, tenant_a, tenant_b):
    code = make_code(tenant_b.workspace, advocate=tenant_b.advocate)
    lead(code, "b-secret@prospect.example")
    client.force_login(tenant_a.advocate_user)

    response = client.get(url(tenant_b))

    assert response.status_code == 302
    assert response["Location"].startswith(f"/portal/{tenant_b.workspace.slug}/login/")


def test_a_missing_workspace_is_404(client, tenant_a):
    client.force_login(tenant_a.advocate_user)
    assert client.get(reverse("portal_referrals", args=["no-such-workspace"])).status_code == 404


@pytest.mark.parametrize("query", ["?page=abc", "?page=-1", "?page=99999", "?page=%00", "?page=" + "9" * 400])
def test_bad_query_strings_never_500(client, tenant_a, query):
    assert open_page(client, tenant_a, query).status_code == 200


def test_the_page_takes_the_same_queries_for_1_or_20_referrals(client, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, landing_url="https://landing.example/try")
    code = make_code(tenant_a.workspace, advocate=tenant_a.advocate)
    hold(lead(code, "first@prospect.example"))
    open_page(client, tenant_a)  # the codes exist from now on

    with CaptureQueriesContext(connection) as one:
        assert open_page(client, tenant_a).status_code == 200
    for n in range(19):
        hold(lead(code, f"friend{n}@prospect.example"))
    with CaptureQueriesContext(connection) as twenty:
        assert open_page(client, tenant_a).status_code == 200

    assert len(twenty) == len(one)
