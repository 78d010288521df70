"""Fatigue rules on offers (programs/fatigue.py, PRODUCT.md "Fatigue"), each at its
boundary under a controlled clock and through both doors: rotation records the hold with
its reason and sentence (ContactHold), and a manager's offer_ask is refused with 409 and
the same reason. Defaults: 7 days between offers, 4 contacts in 30 days, 30 days of rest
after a large ask, 2 reference calls in 90 days, no asks for 90 days after a detractor's
answer."""

from __future__ import annotations

import pytest

from advocacy.budget import record_contact, suppress_asks
from advocacy.errors import Conflict
from advocacy.models import Advocate, ContactHold, ContactKind, HoldReason, Suppression
from advocacy.scoping import workspace_scope
from programs.fatigue import fatigue_held_q, fatigue_state, fatigue_states, offer_hold
from programs.models import AskKind, AssignmentState, Effort
from programs.services import offer_ask
from tests.factories import AdvocateFactory, AssignmentFactory

from .rotation_builders import (
    T0,
    at,
    days,
    hold,
    make_ask,
    make_workspace,
    offered,
    past_offer,
    rotate,
)

pytestmark = pytest.mark.django_db
S = AssignmentState


@pytest.fixture
def workspace(db):
    return make_workspace()


@pytest.fixture
def person(workspace):
    return AdvocateFactory(workspace=workspace)


def through_rotation(ask, person, when):
    """Rotate at ``when``: (was the person offered the ask, the hold recorded for them)."""
    rotate(ask.workspace, when)
    return person.pk in offered(ask), hold(ask, person)


def through_offer_ask(ask, person, when):
    """A manager offers the ask by hand at ``when``: None if it went through, else the 409."""
    with workspace_scope(ask.workspace), at(when):
        try:
            offer_ask(ask=ask, advocate=person, actor=None)
        except Conflict as refusal:
            return refusal
    return None


def assert_held_both_ways(person, when, reason, detail, **ask_fields):
    by_rotation, by_hand = make_ask(person.workspace, **ask_fields), make_ask(person.workspace, **ask_fields)

    was_offered, recorded = through_rotation(by_rotation, person, when)
    refusal = through_offer_ask(by_hand, person, when)

    assert not was_offered
    assert (recorded.reason, recorded.detail, recorded.held_at) == (reason, detail, when)
    assert refusal is not None and refusal.status == 409
    assert (refusal.code, refusal.message) == (f"held_{reason}", f"Held back: {detail}")
    assert hold(by_hand, person).reason == reason  # the refused manual offer's hold is kept


def assert_free_both_ways(person, when, **ask_fields):
    by_hand = make_ask(person.workspace, status="closed", **ask_fields)  # only checked, never served
    with workspace_scope(person.workspace):
        assert offer_hold(advocate=person, ask=by_hand, now=when) is None
    by_rotation = make_ask(person.workspace, **ask_fields)
    was_offered, recorded = through_rotation(by_rotation, person, when)
    assert was_offered and recorded is None


# --- 7 days between offers ------------------------------------------------------------------


def test_an_offer_six_days_after_the_last_is_held_for_spacing(person):
    past_offer(person, T0)
    assert_held_both_ways(
        person, T0 + days(6), HoldReason.SPACING,
        "Last offered an ask on 3 Mar 2025; at least 7 days between offers, so the next from 10 Mar 2025.",
    )


def test_an_offer_seven_days_after_the_last_is_allowed(person):
    past_offer(person, T0)
    assert_free_both_ways(person, T0 + days(7))


def test_a_manual_offer_seven_days_after_the_last_goes_through(person):
    past_offer(person, T0)
    ask = make_ask(person.workspace)
    assert through_offer_ask(ask, person, T0 + days(7)) is None
    assert offered(ask) == {person.pk}


def test_spacing_follows_the_workspace_policy(db):
    person = AdvocateFactory(workspace=make_workspace(min_days_between_offers=3))
    past_offer(person, T0)
    assert offer_hold_at(person, T0 + days(3) - days(1) / 86400).reason == HoldReason.SPACING
    assert offer_hold_at(person, T0 + days(3)) is None


def offer_hold_at(person, when, **ask_fields):
    ask = make_ask(person.workspace, status="closed", **ask_fields)  # only checked, never served
    with workspace_scope(person.workspace):
        return offer_hold(advocate=person, ask=ask, now=when)


# --- 4 contacts in 30 days -------------------------------------------------------------------


def test_the_fifth_offer_in_30_days_is_held_by_the_budget(person):
    for week in range(4):
        past_offer(person, T0 + days(7 * week))
    assert_held_both_ways(
        person, T0 + days(28), HoldReason.BUDGET,
        "4 contacts (offers, surveys and nudges) in the last 30 days; the limit is 4.",
    )


def test_a_survey_uses_the_same_budget_as_offers(person):
    for week in range(3):
        past_offer(person, T0 + days(7 * week))
    with workspace_scope(person.workspace):
        record_contact(advocate=person, kind=ContactKind.SURVEY, subject="survey-send:1", at=T0 + days(22))
    assert offer_hold_at(person, T0 + days(29)).reason == HoldReason.BUDGET


def test_the_budget_frees_up_when_the_oldest_offer_is_30_days_old(person):
    for week in range(4):
        past_offer(person, T0 + days(7 * week))
    assert_free_both_ways(person, T0 + days(30))


def test_the_advocates_own_limit_holds_rotation_offers(db):
    person = AdvocateFactory(workspace=make_workspace(), max_asks_per_month=1)
    past_offer(person, T0)
    assert_held_both_ways(person, T0 + days(10), HoldReason.OWN_CAP,
                          "Their own limit is 1 ask a month; 1 offer in the last 30 days.")


# --- 30 days of rest after a large ask --------------------------------------------------------


def rested(person, approved_at):
    AssignmentFactory(ask=make_ask(person.workspace, effort=Effort.LARGE, status="closed"), advocate=person, state=S.APPROVED,
                      offered_at=approved_at - days(20), decided_at=approved_at)


def test_an_offer_29_days_after_a_large_ask_was_approved_is_held_for_rest(person):
    rested(person, T0)
    assert_held_both_ways(
        person, T0 + days(29), HoldReason.RESTING,
        "Resting after a large ask approved on 3 Mar 2025; 30 days of rest, so offers again from 2 Apr 2025.",
    )


def test_offers_resume_30_days_after_a_large_ask_was_approved(person):
    rested(person, T0)
    assert_free_both_ways(person, T0 + days(30))


@pytest.mark.parametrize("effort", [Effort.SMALL, Effort.MEDIUM])
def test_smaller_asks_need_no_rest(person, effort):
    AssignmentFactory(ask=make_ask(person.workspace, effort=effort, status="closed"), advocate=person, state=S.APPROVED,
                      offered_at=T0 - days(20), decided_at=T0)
    assert offer_hold_at(person, T0 + days(1)) is None


def test_a_large_ask_declined_or_rejected_needs_no_rest(person):
    for state in (S.DECLINED, S.REJECTED):
        AssignmentFactory(ask=make_ask(person.workspace, effort=Effort.LARGE, status="closed"), advocate=person, state=state,
                          offered_at=T0 - days(20), decided_at=T0)
    assert offer_hold_at(person, T0 + days(1)) is None


# --- 2 reference calls in 90 days -----------------------------------------------------------


def reference_calls(person, *moments, state=S.APPROVED):
    for when in moments:
        AssignmentFactory(ask=make_ask(person.workspace, kind=AskKind.REFERENCE_CALL, status="closed"), advocate=person,
                          state=state, offered_at=when, decided_at=when + days(3))


def test_the_third_reference_call_in_90_days_is_held_for_reference_overuse(person):
    reference_calls(person, T0, T0 + days(30))
    assert_held_both_ways(person, T0 + days(60), HoldReason.REFERENCE_OVERUSE,
                          "2 reference calls in the last 90 days; the limit is 2.", kind=AskKind.REFERENCE_CALL)


def test_reference_overuse_holds_only_reference_calls(person):
    reference_calls(person, T0, T0 + days(30))
    assert offer_hold_at(person, T0 + days(60), kind=AskKind.REVIEW) is None


def test_a_reference_call_leaves_the_count_after_90_days(person):
    reference_calls(person, T0, T0 + days(30))
    assert offer_hold_at(person, T0 + days(90) - days(1) / 86400, kind=AskKind.REFERENCE_CALL).reason == HoldReason.REFERENCE_OVERUSE
    assert_free_both_ways(person, T0 + days(90), kind=AskKind.REFERENCE_CALL)


def test_declined_and_expired_reference_calls_took_nobodys_time(person):
    reference_calls(person, T0, state=S.DECLINED)
    reference_calls(person, T0 + days(1), state=S.EXPIRED)
    reference_calls(person, T0 + days(2), state=S.ACCEPTED)
    assert offer_hold_at(person, T0 + days(30), kind=AskKind.REFERENCE_CALL) is None


def test_an_outstanding_reference_call_offer_counts(person):
    reference_calls(person, T0, state=S.OFFERED)
    reference_calls(person, T0 + days(1), state=S.SUBMITTED)
    assert offer_hold_at(person, T0 + days(30), kind=AskKind.REFERENCE_CALL).reason == HoldReason.REFERENCE_OVERUSE


# --- Recent detractors ---------------------------------------------------------------------


def detractor(person, when):
    with workspace_scope(person.workspace):
        suppress_asks(advocate=person, reason=Suppression.Reason.DETRACTOR, detail="scored 3", starts_at=when)


def test_a_recent_detractor_is_excluded_from_rotation_and_manual_offers(person):
    detractor(person, T0)
    assert_held_both_ways(person, T0 + days(1), HoldReason.SUPPRESSED, "No asks until 1 Jun 2025: recent detractor (scored 3).")


def test_a_detractor_is_asked_again_after_the_90_quiet_days(person):
    detractor(person, T0)
    assert_free_both_ways(person, T0 + days(90))


# --- The fatigue state a manager sees ---------------------------------------------------------


def test_fatigue_state_lists_every_rule_holding_the_person_strongest_first(person):
    past_offer(person, T0)
    rested(person, T0 - days(1))
    detractor(person, T0)
    with workspace_scope(person.workspace):
        state = fatigue_state(advocate=person, now=T0 + days(2))
    assert [h.reason for h in state] == [HoldReason.SUPPRESSED, HoldReason.RESTING, HoldReason.SPACING]
    assert all(h.detail for h in state)


def test_fatigue_state_of_a_free_person_is_empty_and_leaves_out_reference_calls_unless_asked(person):
    reference_calls(person, T0, T0 + days(1))
    with workspace_scope(person.workspace):
        assert fatigue_state(advocate=person, now=T0 + days(10)) == []
        [overuse] = fatigue_state(advocate=person, now=T0 + days(10), ask_kind=AskKind.REFERENCE_CALL)
    assert overuse.reason == HoldReason.REFERENCE_OVERUSE


def test_fatigue_states_of_a_page_of_advocates_take_one_query(workspace, django_assert_num_queries):
    free = AdvocateFactory(workspace=workspace)
    spaced, resting = AdvocateFactory(workspace=workspace), AdvocateFactory(workspace=workspace)
    past_offer(spaced, T0)
    rested(resting, T0)
    more = [AdvocateFactory(workspace=workspace) for _ in range(20)]
    ids = [free.pk, spaced.pk, resting.pk] + [a.pk for a in more]
    with workspace_scope(workspace), django_assert_num_queries(1):
        states = fatigue_states(workspace=workspace, advocate_ids=ids, now=T0 + days(1))
    assert states[free.pk] == []
    assert [h.reason for h in states[spaced.pk]] == [HoldReason.SPACING]
    assert [h.reason for h in states[resting.pk]] == [HoldReason.RESTING]
    assert len(states) == len(ids)


def test_fatigue_held_q_selects_the_held_people_in_sql(workspace):
    AdvocateFactory(workspace=workspace)
    spaced = AdvocateFactory(workspace=workspace)
    past_offer(spaced, T0)

    with workspace_scope(workspace):
        held = set(Advocate.objects.filter(fatigue_held_q(workspace=workspace, now=T0 + days(1))).values_list("pk", flat=True))
    assert held == {spaced.pk}


def test_a_held_person_is_recorded_once_per_ask_and_the_hold_goes_when_it_no_longer_applies(person):
    past_offer(person, T0)
    ask = make_ask(person.workspace)
    rotate(person.workspace, T0 + days(1))
    rotate(person.workspace, T0 + days(2))
    assert hold(ask, person).held_at == T0 + days(2)
    with workspace_scope(person.workspace):
        assert ContactHold.objects.filter(subject_id=ask.pk, advocate=person).count() == 1

    rotate(person.workspace, T0 + days(7))

    assert offered(ask) == {person.pk}
    assert hold(ask, person) is None
