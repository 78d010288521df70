"""Badges: rules held as data, facts reported by higher apps, each badge awarded once per
advocate (also under concurrent reports), its points credited once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from advocacy.errors import ValidationFailed
from advocacy.models import Advocate, AuditLog, Channel, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from rewards.badges import (
    award_tenure_badges,
    create_badge,
    describe_rule,
    ensure_default_badges,
    evaluate_badges,
    record_fact,
    validate_rule,
)
from rewards.models import AdvocateFact, Badge, BadgeAward, EntryKind, LedgerEntry
from tests.concurrency import errors_of, race
from tests.factories import PASSWORD, AdvocateFactory


def make_badge(workspace, code="five-asks", rule=None, points=0, active=True):
    with scopes_disabled():
        return Badge.objects.create(workspace=workspace, code=code, name=code.replace("-", " ").title(),
                                    rule=rule or {"fact": "asks_completed", "at_least": 5}, points=points, active=active)


def report(advocate, fact="asks_completed", increment=1):
    with workspace_scope(advocate.workspace):
        return record_fact(advocate=advocate, fact=fact, increment=increment)


def awards_of(advocate):
    with scopes_disabled():
        return list(BadgeAward.objects.filter(advocate=advocate).values_list("badge__code", flat=True))


def reload(advocate):
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk)


@pytest.mark.django_db
def test_facts_are_counted_and_the_badge_is_awarded_when_the_rule_is_met(tenant_a):
    make_badge(tenant_a.workspace)
    a = tenant_a.advocate
    for _ in range(4):
        assert report(a) == []
    assert awards_of(a) == []
    assert [aw.badge.code for aw in report(a)] == ["five-asks"]
    with scopes_disabled():
        assert AdvocateFact.objects.get(advocate=a, fact="asks_completed").count == 5


@pytest.mark.django_db
def test_a_badge_is_awarded_once_even_when_the_fact_is_reported_again(tenant_a):
    make_badge(tenant_a.workspace, rule={"fact": "reviews_completed", "at_least": 1}, code="first-review", points=50)
    a = tenant_a.advocate
    report(a, "reviews_completed")
    report(a, "reviews_completed")
    report(a, "reviews_completed", increment=3)
    with workspace_scope(a.workspace):
        assert evaluate_badges(advocate=a) == []
    assert awards_of(a) == ["first-review"]
    assert reload(a).points_balance == 50
    with scopes_disabled():
        award = BadgeAward.objects.get(advocate=a)
        entry = LedgerEntry.objects.get(advocate=a)
        assert award.entry_id == entry.pk
        assert (entry.kind, entry.amount, entry.idempotency_key) == (EntryKind.EARN_BADGE, 50, f"badge:{award.badge_id}:{a.pk}")
        assert AuditLog.objects.filter(action="badge.awarded", advocate=a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_fact_reports_award_the_badge_and_its_points_once(tenant_a):
    make_badge(tenant_a.workspace, rule={"fact": "referrals_converted", "at_least": 1}, code="first-referral", points=100)
    a = tenant_a.advocate
    errors = errors_of(race(20, lambda i: report(a, "referrals_converted")))
    assert errors == []
    assert awards_of(a) == ["first-referral"]
    with scopes_disabled():
        assert AdvocateFact.objects.get(advocate=a, fact="referrals_converted").count == 20
        assert LedgerEntry.objects.filter(advocate=a, kind=EntryKind.EARN_BADGE).count() == 1
    assert reload(a).points_balance == 100


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_award_one_badge(tenant_a):
    make_badge(tenant_a.workspace, rule={"fact": "promoter_answers", "at_least": 1}, code="promoter", points=10)
    a = tenant_a.advocate
    with scopes_disabled():
        AdvocateFact.objects.create(workspace=tenant_a.workspace, advocate=a, fact="promoter_answers", count=1)

    def evaluate(i):
        with workspace_scope(a.workspace):
            evaluate_badges(advocate=a)

    assert errors_of(race(20, evaluate)) == []
    assert awards_of(a) == ["promoter"]
    assert reload(a).points_balance == 10


@pytest.mark.django_db
def test_badge_email_respects_the_email_channel(tenant_a, mailoutbox, django_capture_on_commit_callbacks):
    make_badge(tenant_a.workspace, rule={"fact": "reviews_completed", "at_least": 1}, code="first-review", points=5)
    other = AdvocateFactory(workspace=tenant_a.workspace, channels=[Channel.PORTAL])
    with django_capture_on_commit_callbacks(execute=True):
        report(tenant_a.advocate, "reviews_completed")
        report(other, "reviews_completed")
    assert [m.subject for m in mailoutbox] == ["You earned the “First Review” badge in Company ALPHA's advocate program"]
    assert mailoutbox[0].to == [tenant_a.advocate.email]
    assert awards_of(other) == ["first-review"]


@pytest.mark.django_db
def test_inactive_badges_are_not_awarded_and_erased_advocates_get_nothing(tenant_a):
    make_badge(tenant_a.workspace, rule={"fact": "asks_completed", "at_least": 1}, code="inactive", active=False)
    report(tenant_a.advocate)
    assert awards_of(tenant_a.advocate) == []
    make_badge(tenant_a.workspace, rule={"fact": "asks_completed", "at_least": 1}, code="active")
    erased = AdvocateFactory(workspace=tenant_a.workspace, erased_at=timezone.now())
    report(erased)
    assert awards_of(erased) == []


@pytest.mark.django_db
def test_facts_and_badges_stay_in_their_workspace(tenant_a, tenant_b):
    make_badge(tenant_a.workspace, rule={"fact": "asks_completed", "at_least": 1}, code="one-ask")
    report(tenant_b.advocate)
    assert awards_of(tenant_b.advocate) == []
    report(tenant_a.advocate)
    assert awards_of(tenant_a.advocate) == ["one-ask"]


@pytest.mark.django_db
@pytest.mark.parametrize("rule", [{}, {"fact": "asks_completed"}, {"fact": "nope", "at_least": 1}, {"fact": "asks_completed", "at_least": 0},
                                  {"days_in_program": -1}, {"days_in_program": True}, {"days_in_program": 1, "x": 2}, []])
def test_invalid_rules_are_refused(rule):
    with pytest.raises(ValidationFailed):
        validate_rule(rule)


@pytest.mark.django_db
def test_unknown_facts_are_refused(tenant_a):
    with pytest.raises(ValidationFailed):
        report(tenant_a.advocate, "likes_received")


def test_rules_read_as_sentences():
    assert describe_rule({"fact": "asks_completed", "at_least": 5}) == "Complete 5 asks"
    assert describe_rule({"fact": "reviews_completed", "at_least": 1}) == "Write 1 review"
    assert describe_rule({"days_in_program": 365}) == "Be in the program for 1 year"
    assert describe_rule({"days_in_program": 30}) == "Be in the program for 30 days"


@pytest.mark.django_db
def test_default_badges_are_created_once(tenant_a):
    with workspace_scope(tenant_a.workspace):
        assert ensure_default_badges(tenant_a.workspace) == 6
        assert ensure_default_badges(tenant_a.workspace) == 0
        codes = set(Badge.objects.values_list("code", flat=True))
    assert codes == {"first-review", "five-asks", "first-referral", "three-reference-calls", "promoter", "one-year"}


@pytest.mark.django_db
def test_creating_a_badge_gives_it_to_advocates_who_already_qualify(tenant_a, django_capture_on_commit_callbacks):
    report(tenant_a.advocate, "reference_calls_completed", increment=3)
    with django_capture_on_commit_callbacks(execute=True), workspace_scope(tenant_a.workspace):
        badge = create_badge(workspace=tenant_a.workspace, actor=tenant_a.manager, name="Reference pro",
                             rule={"fact": "reference_calls_completed", "at_least": 3}, points=30)
    assert badge.code == "reference-pro"
    assert awards_of(tenant_a.advocate) == ["reference-pro"]
    assert reload(tenant_a.advocate).points_balance == 30
    with scopes_disabled():
        assert AuditLog.objects.filter(action="badge.created").count() == 1


@pytest.mark.django_db
def test_tenure_badge_job_awards_once_at_the_anniversary(tenant_a, tenant_b):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        veteran = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE)
        candidate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE)
        other = AdvocateFactory(workspace=tenant_b.workspace, stage=Stage.ACTIVE)
    make_badge(tenant_a.workspace, code="one-year", rule={"days_in_program": 365}, points=100)
    with time_machine.travel(start + timedelta(days=364), tick=False):
        assert award_tenure_badges() == 0
    with time_machine.travel(start + timedelta(days=365, hours=1), tick=False):
        assert award_tenure_badges() == 2  # the veteran and the tenant's own (active) advocate
        assert award_tenure_badges() == 0
        call_command("award_tenure_badges")
    assert awards_of(veteran) == awards_of(tenant_a.advocate) == ["one-year"]
    assert awards_of(candidate) == [] and awards_of(other) == []
    assert reload(veteran).points_balance == 100


@pytest.mark.django_db
def test_tenure_badge_job_finds_qualifying_advocates_in_one_query(tenant_a, django_assert_max_num_queries):
    make_badge(tenant_a.workspace, code="one-year", rule={"days_in_program": 365})
    long_ago = timezone.now() - timedelta(days=400)
    for _ in range(5):
        AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.ACTIVE, created_at=long_ago)
    assert award_tenure_badges() == 5
    with django_assert_max_num_queries(2):  # the badges, then the advocates who lack them
        assert award_tenure_badges() == 0


# --- Manager pages --------------------------------------------------------------------------


@pytest.mark.django_db
def test_manager_creates_edits_and_lists_a_badge_with_its_awards(client, tenant_a):
    client.login(email=tenant_a.manager.email, password=PASSWORD)
    slug = tenant_a.workspace.slug
    response = client.post(reverse("badge_create", args=[slug]), {
        "name": "Reviewer", "description": "Two reviews", "rule_kind": "fact", "fact": "reviews_completed",
        "at_least": "2", "days": "", "points": "25", "active": "on",
    })
    assert response.status_code == 302
    with scopes_disabled():
        badge = Badge.objects.get(workspace=tenant_a.workspace, code="reviewer")
    assert badge.rule == {"fact": "reviews_completed", "at_least": 2}
    response = client.post(reverse("badge_edit", args=[slug, badge.pk]), {
        "name": "Reviewer", "rule_kind": "tenure", "days": "30", "points": "0", "active": "on",
    })
    assert response.status_code == 302
    badge.refresh_from_db()
    assert (badge.rule, badge.points) == ({"days_in_program": 30}, 0)
    report(tenant_a.advocate, "reviews_completed")
    page = client.get(reverse("badge_list", args=[slug]))
    assert b"Reviewer" in page.content and b"Be in the program for 30 days" in page.content
    awards = client.get(reverse("badge_awards", args=[slug, badge.pk]))
    assert awards.status_code == 200 and b"Nobody has this badge yet" in awards.content


@pytest.mark.django_db
def test_badge_form_explains_a_missing_rule(client, tenant_a):
    client.login(email=tenant_a.manager.email, password=PASSWORD)
    response = client.post(reverse("badge_create", args=[tenant_a.workspace.slug]), {
        "name": "Half", "rule_kind": "fact", "fact": "", "at_least": "", "points": "0",
    })
    assert response.status_code == 400
    assert "Choose what they did." in response.content.decode()


@pytest.mark.django_db
def test_viewers_see_badges_but_cannot_create_them(client, tenant_a):
    client.login(email=tenant_a.viewer.email, password=PASSWORD)
    slug = tenant_a.workspace.slug
    assert client.get(reverse("badge_list", args=[slug])).status_code == 200
    assert client.post(reverse("badge_defaults", args=[slug])).status_code == 403


@pytest.mark.django_db
def test_example_badges_button_adds_them_once(client, tenant_a):
    client.login(email=tenant_a.manager.email, password=PASSWORD)
    url = reverse("badge_defaults", args=[tenant_a.workspace.slug])
    client.post(url)
    client.post(url)
    with scopes_disabled():
        assert Badge.objects.filter(workspace=tenant_a.workspace).count() == 6


@pytest.mark.django_db
def test_the_demo_awards_example_badges_once(capsys):
    call_command("seed_demo", advocates=40)
    with scopes_disabled():
        awards = BadgeAward.objects.count()
        assert awards > 0 and Badge.objects.filter(code="five-asks").exists()
    call_command("seed_demo", advocates=40)
    with scopes_disabled():
        assert BadgeAward.objects.count() == awards
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out


def _count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_badge_list_and_awards_page_query_counts_do_not_grow(client, tenant_a):
    client.login(email=tenant_a.viewer.email, password=PASSWORD)
    slug = tenant_a.workspace.slug
    badge = make_badge(tenant_a.workspace, rule={"fact": "asks_completed", "at_least": 1}, code="one-ask", points=5)
    report(tenant_a.advocate)
    list_url, awards_url = reverse("badge_list", args=[slug]), reverse("badge_awards", args=[slug, badge.pk])
    few = (_count_queries(client, list_url), _count_queries(client, awards_url))
    for i in range(8):
        make_badge(tenant_a.workspace, code=f"extra-{i}", rule={"fact": "asks_completed", "at_least": 1}, points=1)
        report(AdvocateFactory(workspace=tenant_a.workspace))
    assert (_count_queries(client, list_url), _count_queries(client, awards_url)) == few


@pytest.mark.django_db
def test_leaderboard_page_ignores_garbage_program_ids(client, tenant_a):
    client.login(email=tenant_a.viewer.email, password=PASSWORD)
    url = reverse("leaderboard", args=[tenant_a.workspace.slug])
    for program in ["²", "-1", "9" * 40, "x"]:
        assert client.get(url, {"program": program}).status_code == 200
