"""The advocacy score (insights/scores.py): each signal's value at its boundaries, the
weights (validated, audited, merged over the defaults), the breakdown that explains the
score, workspace isolation, the command and the nightly task."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from advocacy.errors import ValidationFailed
from advocacy.models import Advocate, AuditLog, EventKind, Workspace
from advocacy.scoping import scopes_disabled, workspace_scope
from insights import scores
from insights.scores import (
    DEFAULT_WEIGHTS,
    recompute_scores,
    score_reasons,
    score_weights,
    update_score_weights,
)
from programs.models import AskKind, AssignmentState
from referrals.models import Referral, ReferralState
from tests.factories import (
    ActivityEventFactory,
    AdvocateFactory,
    AskFactory,
    AssignmentFactory,
    SurveyResponseFactory,
)
from tests.referrals.builders import make_code

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T12:00:00+00:00")


def recompute(advocate: Advocate, now: datetime = NOW) -> Advocate:
    with workspace_scope(advocate.workspace_id):
        recompute_scores(workspace=advocate.workspace, advocate_ids=[advocate.pk], now=now)
        return Advocate.objects.get(pk=advocate.pk)


def signal(advocate: Advocate, name: str, now: datetime = NOW) -> dict:
    return recompute(advocate, now).score_breakdown["signals"][name]


def value(advocate: Advocate, name: str, now: datetime = NOW) -> float:
    return signal(advocate, name, now)["value"]


@pytest.fixture
def ws(tenant_a) -> Workspace:
    return tenant_a.workspace


@pytest.fixture
def person(ws) -> Advocate:
    return AdvocateFactory(workspace=ws, stage="candidate", customer_since=None)


def answer(person, score, at):
    return SurveyResponseFactory(send__survey__workspace=person.workspace, send__advocate=person, score=score, answered_at=at)


def approved(person, kind=AskKind.REVIEW, **fields):
    ask = AskFactory(program__workspace=person.workspace, kind=kind)
    return AssignmentFactory(ask=ask, advocate=person, state=AssignmentState.APPROVED,
                             offered_at=NOW - timedelta(days=20), accepted_at=NOW - timedelta(days=19), **fields)


def offer(person, state, accepted=False):
    return AssignmentFactory(ask=AskFactory(program__workspace=person.workspace), advocate=person, state=state,
                             offered_at=NOW - timedelta(days=30), accepted_at=NOW - timedelta(days=29) if accepted else None)


# --- NPS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "expected"), [(10, 1.0), (9, 1.0), (8, 0.5), (7, 0.5), (6, 0.0), (0, 0.0)])
def test_latest_nps_answer_counts_promoter_1_passive_half_detractor_0(person, score, expected):
    answer(person, score, NOW - timedelta(days=3))
    assert value(person, "nps") == expected


def test_nobody_answered_nps_counts_a_neutral_0_3(person):
    assert signal(person, "nps") == {**signal(person, "nps"), "value": 0.3, "why": "No NPS answer yet"}


def test_only_the_latest_nps_answer_counts(person):
    answer(person, 10, NOW - timedelta(days=200))
    answer(person, 3, NOW - timedelta(days=2))
    s = signal(person, "nps")
    assert s["value"] == 0.0 and s["why"] == "Detractor (3) on 8 Mar 2026"


def test_two_nps_answers_at_the_same_moment_take_the_later_recorded(person):
    at = NOW - timedelta(days=2)
    answer(person, 2, at)
    answer(person, 9, at)
    assert value(person, "nps") == 1.0


# --- Tenure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(0, 0.0), (1, round(1 / 1095, 3)), (365, 0.333), (730, 0.667),
                                                (1094, 0.999), (1095, 1.0), (4000, 1.0)])
def test_tenure_grows_with_days_as_a_customer_and_is_full_at_3_years(person, days, expected):
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(customer_since=NOW.date() - timedelta(days=days))
    assert value(person, "tenure") == expected


def test_unknown_or_future_customer_since_gives_no_tenure(person):
    assert signal(person, "tenure")["why"] == "Customer since: not known" and value(person, "tenure") == 0
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(customer_since=date(2027, 1, 1))
    assert value(person, "tenure") == 0


def test_tenure_counts_days_in_the_workspace_time_zone(person, ws):
    Workspace.objects.filter(pk=ws.pk).update(timezone="Pacific/Auckland")  # 12:00 UTC is already 11 March there
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(customer_since=date(2026, 3, 11))
    person.workspace.refresh_from_db()
    assert value(person, "tenure") == 0.0 and "Customer for 0 days" in signal(person, "tenure")["why"]
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(customer_since=date(2026, 3, 10))
    assert value(person, "tenure") == round(1 / 1095, 3)


# --- Engagement --------------------------------------------------------------------------------


def events(person, kind, n, at):
    for _ in range(n):
        ActivityEventFactory(advocate=person, kind=kind, occurred_at=at)


@pytest.mark.parametrize(("n", "expected"), [(0, 0.0), (1, 0.05), (10, 0.5), (20, 1.0), (35, 1.0)])
def test_engagement_is_events_of_the_last_90_days_full_at_20(person, n, expected):
    events(person, EventKind.EMAIL_OPEN, n, NOW - timedelta(days=5))
    assert value(person, "engagement") == expected


def test_engagement_counts_opens_clicks_events_posts_and_purchases_only(person):
    for kind in (EventKind.EMAIL_OPEN, EventKind.EMAIL_CLICK, EventKind.EVENT_ATTENDED, EventKind.COMMUNITY_POST,
                 EventKind.PURCHASE):
        events(person, kind, 1, NOW - timedelta(days=1))
    for kind in (EventKind.SUPPORT_TICKET, EventKind.RENEWAL, EventKind.SOCIAL_MENTION, EventKind.CUSTOM):
        events(person, kind, 3, NOW - timedelta(days=1))
    s = signal(person, "engagement")
    assert s["value"] == 0.25 and s["why"] == "5 engagement events in the last 90 days"


def test_engagement_window_is_the_90_days_up_to_now(person):
    events(person, EventKind.EMAIL_CLICK, 1, NOW - timedelta(days=90))  # exactly 90 days ago: outside
    events(person, EventKind.EMAIL_CLICK, 1, NOW - timedelta(days=90) + timedelta(seconds=1))
    events(person, EventKind.EMAIL_CLICK, 1, NOW)
    events(person, EventKind.EMAIL_CLICK, 1, NOW + timedelta(hours=1))  # not yet happened
    assert value(person, "engagement") == 0.1


# --- Public proof, referrals, asks ---------------------------------------------------------------


def test_public_proof_counts_posted_reviews_testimonials_case_studies_and_approved_proof_asks(person):
    events(person, EventKind.REVIEW_POSTED, 1, NOW - timedelta(days=900))  # any time
    approved(person, kind=AskKind.TESTIMONIAL)
    approved(person, kind=AskKind.SOCIAL_SHARE)  # not public proof
    AssignmentFactory(ask=AskFactory(program__workspace=person.workspace, kind=AskKind.CASE_STUDY), advocate=person,
                      state=AssignmentState.SUBMITTED)  # not approved yet
    s = signal(person, "public_proof")
    assert s["value"] == 0.667 and s["why"] == "2 reviews, testimonials or case studies (1 posted, 1 through asks)"
    events(person, EventKind.CASE_STUDY, 1, NOW - timedelta(days=1))
    assert value(person, "public_proof") == 1.0
    events(person, EventKind.TESTIMONIAL, 2, NOW - timedelta(days=1))
    assert value(person, "public_proof") == 1.0


def test_referrals_signal_counts_converted_referrals_full_at_3(person):
    code = make_code(person.workspace, advocate=person)

    def referral(state, n):
        with scopes_disabled():
            return Referral.objects.create(workspace=person.workspace, code=code, program=code.program, advocate=person,
                                           referee_email=f"r{n}@prospect.example", state=state)

    referral(ReferralState.LEAD, 1)
    referral(ReferralState.REJECTED, 2)
    assert value(person, "referrals") == 0
    referral(ReferralState.CONVERTED, 3)
    assert signal(person, "referrals") == {**signal(person, "referrals"), "value": 0.333, "why": "1 referral converted"}
    for n in range(4, 7):
        referral(ReferralState.CONVERTED, n)
    assert value(person, "referrals") == 1.0


def test_asks_signal_is_half_completions_half_acceptance_rate(person):
    assert value(person, "asks") == 0 and signal(person, "asks")["why"] == "No offers answered yet"
    approved(person)
    offer(person, AssignmentState.DECLINED)
    offer(person, AssignmentState.EXPIRED)
    offer(person, AssignmentState.OFFERED)  # not answered yet: not counted
    offer(person, AssignmentState.WITHDRAWN)  # withdrawn before an answer: not counted
    offer(person, AssignmentState.ACCEPTED, accepted=True)
    s = signal(person, "asks")
    # completed 1 of 5 → 0.5 x 0.2; accepted 2 of 4 answered → 0.5 x 0.5
    assert s["value"] == 0.35 and s["why"] == "1 ask completed; accepted 2 of 4 offers"


def test_asks_signal_is_full_at_5_completions_all_accepted(person):
    for _ in range(5):
        approved(person)
    assert value(person, "asks") == 1.0


# --- Recency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_ago", "expected"), [(0, 1.0), (7, 1.0), (93.5, 0.5), (179, round(1 / 173, 3)),
                                                    (180, 0.0), (400, 0.0)])
def test_recency_is_full_within_7_days_falling_linearly_to_0_at_180(person, days_ago, expected):
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(last_activity_at=NOW - timedelta(days=days_ago))
    assert value(person, "recency") == expected


def test_recency_takes_the_latest_of_events_nps_answers_asks_and_referrals(person):
    assert value(person, "recency") == 0 and signal(person, "recency")["why"] == "No activity recorded"
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(last_activity_at=NOW - timedelta(days=300))
    answer(person, 8, NOW - timedelta(days=3))
    s = signal(person, "recency")
    assert s["value"] == 1.0 and s["why"] == "Last active 3 days ago (7 Mar 2026)"


def test_recency_counts_accepting_an_ask(person):
    AssignmentFactory(ask=AskFactory(program__workspace=person.workspace), advocate=person, state=AssignmentState.ACCEPTED,
                      offered_at=NOW - timedelta(days=2), accepted_at=NOW - timedelta(days=1))
    assert value(person, "recency") == 1.0


# --- Weights and the score -----------------------------------------------------------------------


def test_defaults_are_the_agreed_weights(ws):
    assert DEFAULT_WEIGHTS == {"nps": 20, "tenure": 10, "engagement": 20, "public_proof": 15, "referrals": 15,
                               "asks": 15, "recency": 5}
    assert score_weights(ws) == DEFAULT_WEIGHTS


def test_score_is_100_times_the_weighted_mean_of_the_signals(person, ws):
    answer(person, 10, NOW - timedelta(days=1))  # nps 1, recency 1
    events(person, EventKind.EMAIL_OPEN, 10, NOW - timedelta(days=1))  # engagement 0.5
    # (20x1 + 10x0 + 20x0.5 + 15x0 + 15x0 + 15x0 + 5x1) / 100 x 100 = 35
    assert recompute(person).score == 35
    with workspace_scope(ws):
        update_score_weights(workspace=ws, actor=None, weights={"nps": 3, "engagement": 1, "recency": 0, "tenure": 0,
                                                                 "public_proof": 0, "referrals": 0, "asks": 0})
    ws.refresh_from_db()
    # (3x1 + 1x0.5) / 4 = 0.875
    assert recompute(person).score == 88


def test_the_breakdown_explains_the_score(person):
    answer(person, 9, NOW - timedelta(days=10))
    events(person, EventKind.PURCHASE, 7, NOW - timedelta(days=10))
    Advocate.objects.with_scopes_disabled().filter(pk=person.pk).update(customer_since=date(2024, 1, 1))
    approved(person, kind=AskKind.CASE_STUDY)
    fresh = recompute(person)
    signals = fresh.score_breakdown["signals"]
    assert set(signals) == set(DEFAULT_WEIGHTS)
    for name, s in signals.items():
        assert s["weight"] == DEFAULT_WEIGHTS[name]
        assert s["points"] == round(100 * s["weight"] * s["value"] / 100, 1) or abs(s["points"] - s["weight"] * s["value"]) < 0.06
        assert s["why"] and s["label"]
    assert abs(sum(s["points"] for s in signals.values()) - fresh.score) <= 1
    assert fresh.score_breakdown["computed_at"] == NOW.isoformat()
    reasons = score_reasons(fresh)
    assert reasons[0] == "Promoter (9) on 28 Feb 2026"
    assert [r for r in reasons if "completed" in r] and all("No " not in r[:3] for r in reasons)
    assert score_reasons(fresh, 2) == reasons[:2]


def test_reasons_leave_out_signals_that_add_nothing_and_a_missing_nps_answer(person):
    fresh = recompute(person)
    assert fresh.score == 6  # only the neutral NPS (0.3 x 20)
    assert score_reasons(fresh) == []
    assert score_reasons(Advocate(score_breakdown={})) == [] and score_reasons(Advocate(score_breakdown={"signals": 3})) == []


def test_a_promoter_answer_raises_the_score(person):
    before = recompute(person).score
    answer(person, 10, NOW - timedelta(hours=1))
    assert recompute(person).score > before


@pytest.mark.parametrize("bad", [
    {"nps": -1}, {"nps": 1001}, {"nps": "20"}, {"nps": 2.5}, {"nps": True}, {"nps": None}, {"karma": 5},
    {k: 0 for k in DEFAULT_WEIGHTS}, [], "nps=3",
])
def test_bad_weights_are_refused_with_a_message(ws, bad):
    with workspace_scope(ws), pytest.raises(ValidationFailed) as refused:
        update_score_weights(workspace=ws, actor=None, weights=bad)
    assert refused.value.message
    ws.refresh_from_db()
    assert ws.score_weights == {}


def test_changing_weights_is_audited_and_merged_over_the_current_ones(tenant_a, ws, django_capture_on_commit_callbacks):
    with workspace_scope(ws), django_capture_on_commit_callbacks() as callbacks:
        result = update_score_weights(workspace=ws, actor=tenant_a.manager, weights={"nps": 40, "recency": 0})
    assert result == {**DEFAULT_WEIGHTS, "nps": 40, "recency": 0}
    ws.refresh_from_db()
    assert ws.score_weights == result and score_weights(ws) == result
    with scopes_disabled():
        entry = AuditLog.objects.get(workspace=ws, action="score.weights_changed")
    assert entry.actor == tenant_a.manager
    assert entry.message == "Score weights changed: latest nps 20 → 40; recent activity 5 → 0"
    assert entry.data == {"before": DEFAULT_WEIGHTS, "after": result}
    assert len(callbacks) == 1  # the recompute, after commit


def test_stored_weights_that_are_not_valid_fall_back_to_the_defaults(ws):
    ws.score_weights = {"nps": -3, "tenure": "x", "engagement": 7, "ghost": 9}
    assert score_weights(ws) == {**DEFAULT_WEIGHTS, "engagement": 7}
    ws.score_weights = {k: 0 for k in DEFAULT_WEIGHTS}
    assert score_weights(ws) == DEFAULT_WEIGHTS
    ws.score_weights = ["not", "a", "dict"]
    assert score_weights(ws) == DEFAULT_WEIGHTS


# --- Set-based runs, isolation, command, task -----------------------------------------------------


def test_a_rerun_gives_the_same_scores(ws):
    people = [AdvocateFactory(workspace=ws) for _ in range(4)]
    answer(people[0], 10, NOW - timedelta(days=1))
    with workspace_scope(ws):
        assert recompute_scores(workspace=ws, now=NOW) == 5  # with the fixture's advocate
        first = dict(Advocate.objects.values_list("pk", "score_breakdown"))
        recompute_scores(workspace=ws, now=NOW)
        assert dict(Advocate.objects.values_list("pk", "score_breakdown")) == first


def test_recompute_of_one_workspace_leaves_the_other_alone(tenant_a, tenant_b):
    other = tenant_b.advocate
    answer(other, 10, NOW - timedelta(days=1))
    with workspace_scope(tenant_a.workspace):
        assert recompute_scores(workspace=tenant_a.workspace, now=NOW) == 1
        assert recompute_scores(workspace=tenant_a.workspace, advocate_ids=[other.pk], now=NOW) == 0
    with scopes_disabled():
        assert Advocate.objects.get(pk=other.pk).score_breakdown == {}
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).score_breakdown


def test_an_empty_list_of_people_recomputes_nobody(ws):
    with workspace_scope(ws):
        assert recompute_scores(workspace=ws, advocate_ids=[]) == 0


def test_recompute_scores_command_runs_for_one_or_every_workspace(tenant_a, tenant_b, capsys):
    call_command("recompute_scores", "--workspace", "alpha")
    out = capsys.readouterr().out
    assert "alpha: 1 score recomputed" in out and "beta" not in out
    with scopes_disabled():
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).score_breakdown
        assert Advocate.objects.get(pk=tenant_b.advocate.pk).score_breakdown == {}
    call_command("recompute_scores")
    assert "2 advocates in 2 workspaces" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No workspace"):
        call_command("recompute_scores", "--workspace", "nope")


def test_nightly_task_fans_out_to_every_workspace(tenant_a, tenant_b):
    from insights.tasks import recompute_scores as nightly

    assert nightly.delay().get() == 2
    with scopes_disabled():
        assert all(a.score_breakdown for a in Advocate.objects.all())


def test_the_query_count_does_not_grow_with_people_or_activity(ws, django_assert_num_queries):
    with workspace_scope(ws):
        with django_assert_num_queries(4):  # the read, and per chunk of 2,000: savepoint, update, release
            recompute_scores(workspace=ws, now=NOW)
        people = [AdvocateFactory(workspace=ws) for _ in range(30)]
        for p in people[:10]:
            answer(p, 7, NOW - timedelta(days=4))
            events(p, EventKind.EMAIL_OPEN, 3, NOW - timedelta(days=2))
            approved(p)
        with django_assert_num_queries(4):
            assert recompute_scores(workspace=ws, now=NOW) == 31


def test_scores_keep_values_explained_for_money_free_signals(person):
    # Event values (e.g. purchase amounts) do not change engagement: it counts events.
    ActivityEventFactory(advocate=person, kind=EventKind.PURCHASE, occurred_at=NOW - timedelta(days=1), value=Decimal("99999"))
    assert value(person, "engagement") == 0.05


def test_signal_values_are_rounded_and_within_0_and_1(ws):
    people = [AdvocateFactory(workspace=ws, customer_since=date(2020, 1, 1)) for _ in range(3)]
    for p in people:
        events(p, EventKind.EMAIL_OPEN, 50, NOW - timedelta(days=1))
        approved(p)
    with workspace_scope(ws):
        recompute_scores(workspace=ws, now=NOW)
        for a in Advocate.objects.all():
            assert 0 <= a.score <= 100
            assert all(0 <= s["value"] <= 1 for s in a.score_breakdown["signals"].values())
    assert tuple(DEFAULT_WEIGHTS) == scores.SIGNALS


def test_many_people_are_recomputed_in_chunks(ws, monkeypatch):
    monkeypatch.setattr(scores, "CHUNK", 2)
    people = [AdvocateFactory(workspace=ws) for _ in range(5)]
    with workspace_scope(ws):
        assert recompute_scores(workspace=ws, advocate_ids=[p.pk for p in people], now=NOW) == 5
        assert recompute_scores(workspace=ws, now=NOW) == 6
        assert not Advocate.objects.filter(score_breakdown={}).exists()


def test_erased_people_keep_a_blank_breakdown(tenant_a, ws):
    from advocacy.services.advocates import erase_advocate

    person = AdvocateFactory(workspace=ws)
    answer(person, 10, NOW - timedelta(days=1))
    with workspace_scope(ws):
        recompute_scores(workspace=ws, now=NOW)
        erase_advocate(advocate=person, actor=tenant_a.owner)
        assert recompute_scores(workspace=ws, now=NOW) == 1
        assert recompute_scores(workspace=ws, advocate_ids=[person.pk], now=NOW) == 0
        assert Advocate.objects.get(pk=person.pk).score_breakdown == {}


def test_asks_answered_but_none_completed_say_so(person):
    offer(person, AssignmentState.DECLINED)
    offer(person, AssignmentState.SUBMITTED, accepted=True)
    s = signal(person, "asks")
    assert s["value"] == 0.25 and s["why"] == "Accepted 1 of 2 offers; none completed yet"
