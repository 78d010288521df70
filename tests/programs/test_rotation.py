"""Ask rotation (programs/rotation.py, PRODUCT.md "Ask rotation"): who is eligible (active,
audience, onboarding, never offered this ask, not fatigued), in which order, how many
(wanted = (capacity - approved - in progress) x overbook - outstanding), one offer per
advocate per run, an even spread, nothing new on a rerun, never another workspace's people,
a constant number of queries per ask, and no duplicate when two runs race."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advocacy.models import (
    Advocate,
    AdvocateType,
    Contact,
    Expressiveness,
    HoldReason,
    Motivation,
    Stage,
)
from advocacy.scoping import scopes_disabled, workspace_scope
from programs import rotation
from programs.models import (
    AskKind,
    AskStatus,
    Assignment,
    AssignmentState,
    Enrollment,
    ProgramStatus,
)
from programs.rotation import eligible_advocates, held_advocates, rotate_asks
from tests.concurrency import errors_of, race
from tests.factories import AdvocateFactory, AssignmentFactory, ProgramFactory

from .rotation_builders import (
    PERMISSIVE,
    T0,
    asks,
    days,
    hold,
    holds_of,
    make_ask,
    make_workspace,
    offered,
    offers_per_advocate,
    past_offer,
    people,
    reload,
    rotate,
)

pytestmark = pytest.mark.django_db
S = AssignmentState


def line(ask, when=T0):
    """The eligible advocates of ``ask`` at ``when``, first in line first."""
    with workspace_scope(ask.workspace):
        return list(eligible_advocates(ask, when).values_list("pk", flat=True))


def ids(advocates):
    return [a.pk for a in advocates]


# --- How many: the overbook formula ---------------------------------------------------------


def test_an_ask_is_offered_to_capacity_times_overbook_people(db):
    workspace = make_workspace()
    crowd = people(workspace, 10)
    ask = make_ask(workspace, capacity=3, overbook=2)

    result = rotate(workspace, T0)

    assert len(offered(ask)) == 6
    assert offered(ask) <= set(ids(crowd))
    assert (result.offers, result.asks_served, result.asks_open, result.held) == (6, 1, 1, 0)


def test_wanted_counts_approved_work_in_progress_and_outstanding_offers(db):
    workspace = make_workspace()
    ask = make_ask(workspace, capacity=3, overbook=2)
    for state in (S.APPROVED, S.ACCEPTED, S.OFFERED, S.DECLINED, S.EXPIRED):
        AssignmentFactory(ask=ask, state=state, offered_at=T0 - days(30))
    people(workspace, 5)

    rotate(workspace, T0)

    # (3 - 1 approved - 1 in progress) x 2 - 1 outstanding = 1
    with scopes_disabled():
        assert Assignment.objects.filter(ask=ask, offered_at=T0).count() == 1


def test_a_filled_closed_draft_late_or_paused_ask_gets_no_offers(db):
    workspace = make_workspace()
    people(workspace, 5)
    filled = make_ask(workspace, capacity=1)
    AssignmentFactory(ask=filled, state=S.APPROVED, offered_at=T0 - days(30))
    closed = make_ask(workspace, status=AskStatus.CLOSED)
    draft = make_ask(workspace, status=AskStatus.DRAFT)
    late = make_ask(workspace, deadline=T0)
    paused = make_ask(workspace, program=ProgramFactory(workspace=workspace, status=ProgramStatus.PAUSED))

    result = rotate(workspace, T0)

    assert result.offers == 0
    assert all(len(offered(a)) == (1 if a is filled else 0) for a in (filled, closed, draft, late, paused))


def test_the_nearest_deadline_is_served_first(db):
    workspace = make_workspace()
    [only] = people(workspace, 1)
    later = make_ask(workspace, deadline=T0 + days(20))
    sooner = make_ask(workspace, deadline=T0 + days(2))
    whenever = make_ask(workspace)

    rotate(workspace, T0)

    assert (offered(sooner), offered(later), offered(whenever)) == ({only.pk}, set(), set())


# --- Fairness and idempotency -------------------------------------------------------------


def test_fairness_ten_equally_eligible_advocates_and_thirty_asks_get_three_offers_each(db):
    workspace = make_workspace(**PERMISSIVE)
    crowd = people(workspace, 10)
    asks(workspace, 30, capacity=1, overbook=1)

    runs = []
    when = T0
    while True:
        result = rotate(workspace, when)
        runs.append(result.offers)
        spread = offers_per_advocate(workspace)
        assert max(spread.values()) - min(spread[a.pk] for a in crowd) <= 1  # even after every run
        if not result.offers:
            break
        when += timedelta(minutes=15)

    assert runs == [10, 10, 10, 0]
    assert offers_per_advocate(workspace) == Counter({a.pk: 3 for a in crowd})
    assert rotate(workspace, when + days(1)).offers == 0  # every ask has its one outstanding offer


def test_a_second_run_right_after_makes_no_offers(db):
    workspace = make_workspace()
    people(workspace, 10)
    asks(workspace, 30, capacity=1, overbook=1)

    first = rotate(workspace, T0)
    second = rotate(workspace, T0 + timedelta(minutes=15))
    same_instant = rotate(workspace, T0 + timedelta(minutes=15))

    assert first.offers == 10
    assert second.offers == 0 and same_instant.offers == 0
    assert sum(offers_per_advocate(workspace).values()) == 10


def test_one_advocate_gets_at_most_one_new_offer_per_run(db):
    workspace = make_workspace(**PERMISSIVE)
    crowd = people(workspace, 3)
    asks(workspace, 5, capacity=2, overbook=2)

    rotate(workspace, T0)

    assert offers_per_advocate(workspace) == Counter({a.pk: 1 for a in crowd})


def test_nobody_is_offered_the_same_ask_twice(db):
    workspace = make_workspace(**PERMISSIVE)
    crowd = people(workspace, 2)
    ask = make_ask(workspace, capacity=5, overbook=2)

    for hour in range(4):
        rotate(workspace, T0 + timedelta(hours=hour))

    with scopes_disabled():
        assert Counter(Assignment.objects.filter(ask=ask).values_list("advocate_id", flat=True)) == {a.pk: 1 for a in crowd}


def test_another_workspaces_advocates_are_never_offered(db):
    mine, theirs = make_workspace(), make_workspace()
    strangers = people(theirs, 5)
    [me] = people(mine, 1)
    ask = make_ask(mine, capacity=5)

    rotate(mine, T0)
    rotate(theirs, T0)

    assert offered(ask) == {me.pk}
    with scopes_disabled():
        assert not Assignment.objects.filter(advocate__in=strangers).exists()


def test_an_offer_counts_as_a_contact_and_moves_last_asked_at(db):
    workspace = make_workspace()
    [person] = people(workspace, 1)
    ask = make_ask(workspace)

    rotate(workspace, T0)

    assert reload(person).last_asked_at == T0
    with scopes_disabled():
        [assignment] = Assignment.objects.filter(ask=ask)
        assert (assignment.source, assignment.offer_expires_at) == (Assignment.Source.ROTATION, T0 + days(7))
        assert list(Contact.objects.filter(advocate=person).values_list("kind", "subject", "at")) == [
            ("offer", f"assignment:{assignment.pk}", T0)]


def test_offers_are_emailed_after_the_run_commits(db, django_capture_on_commit_callbacks, mailoutbox):
    workspace = make_workspace()
    people(workspace, 2)
    make_ask(workspace, capacity=1, overbook=2, title="Review us on G2")

    with django_capture_on_commit_callbacks(execute=True):
        rotate(workspace, T0)

    assert len(mailoutbox) == 2
    assert all("Review us on G2" in m.body for m in mailoutbox)


# --- Who is eligible -----------------------------------------------------------------------


def test_only_active_advocates_are_offered(db):
    workspace = make_workspace()
    active = people(workspace, 1)[0]
    for stage in (Stage.CANDIDATE, Stage.INVITED, Stage.PAUSED, Stage.ALUMNI, Stage.OPTED_OUT):
        people(workspace, 1, stage=stage)
    erased = AdvocateFactory(workspace=workspace, erased_at=T0 - days(1))
    ask = make_ask(workspace, capacity=10)

    rotate(workspace, T0)

    assert offered(ask) == {active.pk}
    assert erased.pk not in offered(ask)


def test_an_audience_of_tags_takes_anyone_with_any_of_them(db):
    workspace = make_workspace()
    fintech = AdvocateFactory(workspace=workspace, tags=["fintech"])
    retail = AdvocateFactory(workspace=workspace, tags=["retail", "emea"])
    AdvocateFactory(workspace=workspace, tags=["healthcare"])
    AdvocateFactory(workspace=workspace)
    ask = make_ask(workspace, capacity=10, tags=["fintech", "retail"])

    assert set(line(ask)) == {fintech.pk, retail.pk}


def test_an_audience_of_types_motivations_and_expressiveness_must_all_match(db):
    workspace = make_workspace()
    match = AdvocateFactory(workspace=workspace, type=AdvocateType.PARTNER, motivation=Motivation.EXTRINSIC,
                            expressiveness=Expressiveness.EXTRAVERTED)
    AdvocateFactory(workspace=workspace, type=AdvocateType.CUSTOMER, motivation=Motivation.EXTRINSIC,
                    expressiveness=Expressiveness.EXTRAVERTED)
    AdvocateFactory(workspace=workspace, type=AdvocateType.PARTNER, motivation=Motivation.UNKNOWN,
                    expressiveness=Expressiveness.EXTRAVERTED)
    AdvocateFactory(workspace=workspace, type=AdvocateType.PARTNER, motivation=Motivation.EXTRINSIC,
                    expressiveness=Expressiveness.AMBIVERTED)
    ask = make_ask(workspace, capacity=10, audience_types=["partner"], audience_motivations=["extrinsic"],
                   audience_expressiveness=["extraverted"])

    assert line(ask) == [match.pk]


def test_a_minimum_tier_needs_that_tiers_lifetime_points(db):
    workspace = make_workspace()
    below = AdvocateFactory(workspace=workspace, lifetime_points=999)
    at_threshold = AdvocateFactory(workspace=workspace, lifetime_points=1000, points_balance=0)
    above = AdvocateFactory(workspace=workspace, lifetime_points=6000)
    ask = make_ask(workspace, capacity=10, min_tier="Insider")  # the default ladder: Insider at 1,000

    assert set(line(ask)) == {at_threshold.pk, above.pk}
    assert below.pk not in line(ask)


def test_a_minimum_tier_that_no_longer_exists_matches_nobody(db):
    workspace = make_workspace()
    AdvocateFactory(workspace=workspace, lifetime_points=50_000)
    ask = make_ask(workspace, capacity=10, min_tier="Platinum")
    assert line(ask) == []


def test_the_tenure_window_includes_its_edges_and_excludes_people_without_a_start_date(db):
    workspace = make_workspace()
    today = T0.date()
    by_days = {n: AdvocateFactory(workspace=workspace, customer_since=today - days(n)) for n in (29, 30, 90, 91)}
    AdvocateFactory(workspace=workspace, customer_since=None)
    ask = make_ask(workspace, capacity=10, tenure_min_days=30, tenure_max_days=90)

    assert set(line(ask)) == {by_days[30].pk, by_days[90].pk}


def test_tenure_counts_days_in_the_workspaces_time_zone(db):
    workspace = make_workspace(timezone="Pacific/Auckland")  # T0 (09:00 UTC) is 22:00 on 3 March there
    late = T0.replace(hour=12)  # 01:00 on 4 March in Auckland
    person = AdvocateFactory(workspace=workspace, customer_since=late.date() - days(29))
    ask = make_ask(workspace, capacity=10, tenure_min_days=30)
    assert line(ask, T0) == []
    assert line(ask, late) == [person.pk]


def test_a_program_with_onboarding_steps_offers_only_to_onboarded_advocates(db):
    workspace = make_workspace()
    program = ProgramFactory(workspace=workspace, onboarding_steps=["Accept the terms"])
    done, halfway, _never = people(workspace, 3)
    with scopes_disabled():
        Enrollment.objects.create(workspace=workspace, program=program, advocate=done, onboarded_at=T0 - days(1))
        Enrollment.objects.create(workspace=workspace, program=program, advocate=halfway, steps_done=[])
    ask = make_ask(workspace, program=program, capacity=10)

    rotate(workspace, T0)

    assert offered(ask) == {done.pk}


def test_fatigued_people_are_not_eligible_and_are_recorded_as_held(db):
    workspace = make_workspace()
    fresh, spaced = people(workspace, 2)
    past_offer(spaced, T0 - days(2))
    ask = make_ask(workspace, capacity=10)

    assert line(ask) == [fresh.pk]
    with workspace_scope(workspace):
        assert list(held_advocates(ask, T0).values_list("pk", flat=True)) == [spaced.pk]
    result = rotate(workspace, T0)
    assert offered(ask) == {fresh.pk}
    assert hold(ask, spaced).reason == HoldReason.SPACING
    assert result.held == 1


def test_only_the_held_people_who_would_have_been_offered_are_recorded(db):
    workspace = make_workspace()
    waiting = people(workspace, 2)  # never asked: first in line
    resting = people(workspace, 1)[0]  # asked long ago, resting after a large ask: behind them
    past_offer(resting, T0 - days(60), state=S.APPROVED, effort="large", decided_at=T0 - days(5))
    filled = make_ask(workspace, capacity=1, overbook=2)  # two places: the two waiting fill them
    short = make_ask(workspace, capacity=5, overbook=2)  # ten places: it cannot fill them

    rotate(workspace, T0)

    assert offered(filled) == set(ids(waiting)) and holds_of(filled) == {}
    assert holds_of(short) == {resting.pk: HoldReason.RESTING}


def test_held_back_records_are_capped_per_ask(db, monkeypatch):
    monkeypatch.setattr(rotation, "HOLD_RECORD_LIMIT", 3)
    workspace = make_workspace()
    crowd = people(workspace, 6)
    for person in crowd:
        past_offer(person, T0 - days(1))
    ask = make_ask(workspace, capacity=5)

    result = rotate(workspace, T0)

    assert len(holds_of(ask)) == 3 and result.held == 3
    assert set(holds_of(ask)) == set(ids(crowd[:3]))  # first in line: the lowest ids on a tie


# --- Who comes first -----------------------------------------------------------------------


def test_never_asked_people_come_first_then_the_oldest_last_asked(db):
    workspace = make_workspace()
    recent, old, never = people(workspace, 3)
    past_offer(recent, T0 - days(10))
    past_offer(old, T0 - days(40))

    assert line(make_ask(workspace, capacity=10)) == [never.pk, old.pk, recent.pk]


def test_on_equal_last_asked_the_fewest_offers_in_90_days_come_first(db):
    workspace = make_workspace()
    busy, calm, lapsed = people(workspace, 3)
    for person, earlier in ((busy, [80, 50]), (calm, [80]), (lapsed, [120, 100])):
        for n in earlier:  # oldest first, as they happened
            past_offer(person, T0 - days(n))
    with scopes_disabled():  # all last asked on the same day
        Advocate.objects.filter(pk__in=ids([busy, calm, lapsed])).update(last_asked_at=T0 - days(20))
    # busy: 2 offers in 90 days, calm: 1, lapsed: 0 (both older than 90 days)
    assert line(make_ask(workspace, capacity=10)) == [lapsed.pk, calm.pk, busy.pk]


def test_rotation_counts_recent_offers_even_when_it_reads_only_the_head_of_the_line(db):
    workspace = make_workspace()
    busy, calm = people(workspace, 2)
    past_offer(busy, T0 - days(50))
    with scopes_disabled():
        Advocate.objects.filter(pk__in=ids([busy, calm])).update(last_asked_at=T0 - days(20))
    ask = make_ask(workspace, capacity=1, overbook=1)

    rotate(workspace, T0)

    assert offered(ask) == {calm.pk}


@pytest.mark.parametrize(("kind", "fits", "misfits"), [
    (AskKind.REVIEW, [Expressiveness.INTROVERTED, Expressiveness.AMBIVERTED], [Expressiveness.EXTRAVERTED, Expressiveness.UNKNOWN]),
    (AskKind.BETA_FEEDBACK, [Expressiveness.INTROVERTED, Expressiveness.AMBIVERTED], [Expressiveness.EXTRAVERTED]),
    (AskKind.TESTIMONIAL, [Expressiveness.EXTRAVERTED, Expressiveness.AMBIVERTED], [Expressiveness.INTROVERTED, Expressiveness.UNKNOWN]),
    (AskKind.SPEAKING, [Expressiveness.EXTRAVERTED], [Expressiveness.INTROVERTED]),
])
def test_a_persona_that_fits_the_kind_comes_first(db, kind, fits, misfits):
    workspace = make_workspace()
    misfit = [AdvocateFactory(workspace=workspace, expressiveness=e) for e in misfits]  # lower ids
    fit = [AdvocateFactory(workspace=workspace, expressiveness=e) for e in fits]
    order = line(make_ask(workspace, kind=kind, capacity=10))
    assert set(order[:len(fit)]) == set(ids(fit))
    assert set(order[len(fit):]) == set(ids(misfit))


def test_a_review_fits_best_30_to_90_days_after_the_customer_started(db):
    workspace = make_workspace()
    today = T0.date()
    old, new, young = (AdvocateFactory(workspace=workspace, customer_since=today - days(n)) for n in (400, 10, 45))
    assert line(make_ask(workspace, kind=AskKind.REVIEW, capacity=10))[0] == young.pk
    assert set(line(make_ask(workspace, kind=AskKind.REVIEW, capacity=10))[1:]) == {old.pk, new.pk}


def test_a_referral_fits_best_in_the_first_90_days_or_30_days_after_a_renewal(db):
    workspace = make_workspace()
    today = T0.date()
    settled = AdvocateFactory(workspace=workspace, customer_since=today - days(400), renewal_date=today - days(60))
    renewed = AdvocateFactory(workspace=workspace, customer_since=today - days(400), renewal_date=today - days(10))
    new = AdvocateFactory(workspace=workspace, customer_since=today - days(20))
    order = line(make_ask(workspace, kind=AskKind.REFERRAL, capacity=10))
    assert set(order[:2]) == {renewed.pk, new.pk} and order[2] == settled.pk


def test_a_preferred_kind_counts_as_fit(db):
    workspace = make_workspace()
    other = AdvocateFactory(workspace=workspace, preferred_ask_kinds=["speaking"])
    keen = AdvocateFactory(workspace=workspace, preferred_ask_kinds=["social_share", "case_study"])
    assert line(make_ask(workspace, kind=AskKind.CASE_STUDY, capacity=10)) == [keen.pk, other.pk]


def test_fit_ranks_after_last_asked_and_before_score(db):
    workspace = make_workspace()
    fit_asked = AdvocateFactory(workspace=workspace, expressiveness=Expressiveness.INTROVERTED)
    past_offer(fit_asked, T0 - days(30))
    high_score = AdvocateFactory(workspace=workspace, score=99)
    fit = AdvocateFactory(workspace=workspace, expressiveness=Expressiveness.INTROVERTED, score=1)
    assert line(make_ask(workspace, kind=AskKind.REVIEW, capacity=10)) == [fit.pk, high_score.pk, fit_asked.pk]


def test_then_the_higher_score_then_the_lower_id(db):
    workspace = make_workspace()
    first_low, second_low, high = (AdvocateFactory(workspace=workspace, score=s) for s in (10, 10, 80))
    assert line(make_ask(workspace, capacity=10)) == [high.pk, first_low.pk, second_low.pk]


def test_a_reference_call_prefers_advocates_tagged_with_the_prospects_industry_size_and_use_case(db):
    workspace = make_workspace()
    never = AdvocateFactory(workspace=workspace)
    industry = AdvocateFactory(workspace=workspace, tags=["FinTech"])
    everything = AdvocateFactory(workspace=workspace, tags=["fintech", "enterprise", "payments"])
    past_offer(everything, T0 - days(10))  # asked recently: the match still comes first
    ask = make_ask(workspace, kind=AskKind.REFERENCE_CALL, capacity=10, prospect_industry="Fintech",
                   prospect_company_size="Enterprise", prospect_use_case="Payments")

    assert line(ask) == [everything.pk, industry.pk, never.pk]
    rotate(workspace, T0)
    assert everything.pk in offered(ask)


def test_prospect_fields_do_not_reorder_other_kinds(db):
    workspace = make_workspace()
    plain = AdvocateFactory(workspace=workspace)
    AdvocateFactory(workspace=workspace, tags=["fintech"])
    ask = make_ask(workspace, kind=AskKind.REVIEW, capacity=10, prospect_industry="fintech")
    assert line(ask)[0] == plain.pk


# --- Queries and concurrency ---------------------------------------------------------------


def queries_for_a_run(n_advocates: int) -> int:
    workspace = make_workspace()
    people(workspace, n_advocates)
    asks(workspace, 2, capacity=1, overbook=2)  # four offers in all
    with workspace_scope(workspace), CaptureQueriesContext(connection) as captured:
        result = rotate_asks(workspace=workspace, now=T0)
    assert result.offers == 4
    return len(captured)


def test_a_runs_queries_do_not_grow_with_the_advocates(db):
    assert queries_for_a_run(5) == queries_for_a_run(50)


def test_each_ask_adds_a_constant_number_of_queries(db):
    def run(n_asks):
        workspace = make_workspace()
        people(workspace, 12)
        asks(workspace, n_asks, capacity=1, overbook=1)
        with workspace_scope(workspace), CaptureQueriesContext(connection) as captured:
            rotate_asks(workspace=workspace, now=T0)
        return len(captured)

    one, three, six = run(1), run(3), run(6)
    assert three - one == (six - three) * 2 / 3
    assert (three - one) / 2 <= 12


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_make_no_duplicate_and_give_nobody_two_offers():
    workspace = make_workspace()
    crowd = people(workspace, 12)
    asks(workspace, 8, capacity=1, overbook=2)

    def run(i):
        with workspace_scope(workspace):
            return rotate_asks(workspace=workspace, now=T0)

    results = race(2, run)

    assert errors_of(results) == []
    assert sum(r.offers for r in results) == 12
    assert offers_per_advocate(workspace) == Counter({a.pk: 1 for a in crowd})
    with scopes_disabled():
        pairs = list(Assignment.objects.filter(workspace=workspace).values_list("ask_id", "advocate_id"))
    assert len(pairs) == len(set(pairs)) == 12


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_another_under_way_skips():
    workspace = make_workspace()
    people(workspace, 2)
    make_ask(workspace)
    with workspace_scope(workspace), rotation.exclusive_run(workspace) as mine:
        assert mine
        assert race(1, lambda i: rotate(workspace, T0))[0].skipped
    assert rotate(workspace, T0).offers == 2


def test_eligible_advocates_is_a_queryset_read_in_one_query(db, django_assert_num_queries):
    workspace = make_workspace()
    people(workspace, 30)
    ask = make_ask(workspace, capacity=10)
    with workspace_scope(workspace):
        qs = eligible_advocates(ask, T0, tag_ids=[], tiers={})
        with django_assert_num_queries(1):
            assert len(list(qs[:10])) == 10
