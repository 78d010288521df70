"""The one contact budget (advocacy/budget.py, PRODUCT.md "Fatigue"): offers, surveys and
nudges all count against max_contacts_per_30_days in a rolling 30 days; the advocate's own
monthly limit holds offers; a "no asks" suppression (a recent detractor) holds asks but not
surveys. The same rules work per person (contact_hold, what NPS sending calls), for a page
of people in one query (contact_holds) and as a filter on any advocate queryset."""

from __future__ import annotations

import pytest

from advocacy.budget import (
    Hold,
    Rule,
    budget_rules,
    contact_hold,
    contact_holds,
    held_q,
    holds_by_advocate,
    record_contact,
    record_hold,
    suppress_asks,
)
from advocacy.models import Advocate, Contact, ContactHold, ContactKind, HoldReason, Suppression
from advocacy.scoping import scopes_disabled, workspace_scope
from tests.factories import AdvocateFactory

from .rotation_builders import T0, at, days, make_workspace

pytestmark = pytest.mark.django_db

OFFER, SURVEY, NUDGE = ContactKind.OFFER, ContactKind.SURVEY, ContactKind.NUDGE


def contacted(advocate, *moments, kind=SURVEY):
    for i, when in enumerate(moments):
        with workspace_scope(advocate.workspace):
            record_contact(advocate=advocate, kind=kind, subject=f"{kind}:{advocate.pk}:{when.isoformat()}:{i}", at=when)


def held(advocate, kind, when):
    with workspace_scope(advocate.workspace), at(when):
        return contact_hold(advocate=advocate, kind=kind, now=when)


@pytest.fixture
def person(db):
    return AdvocateFactory(workspace=make_workspace())


def test_offers_surveys_and_nudges_draw_on_one_budget_and_the_fifth_contact_in_30_days_is_held(person):
    contacted(person, T0, kind=OFFER)
    contacted(person, T0 + days(5), kind=SURVEY)
    contacted(person, T0 + days(10), kind=NUDGE)
    assert held(person, SURVEY, T0 + days(20)) is None  # 3 of 4
    contacted(person, T0 + days(15), kind=SURVEY)

    hold = held(person, SURVEY, T0 + days(20))

    assert hold.reason == HoldReason.BUDGET
    assert hold.detail == "4 contacts (offers, surveys and nudges) in the last 30 days; the limit is 4."
    assert held(person, NUDGE, T0 + days(20)).reason == HoldReason.BUDGET


def test_a_contact_leaves_the_budget_exactly_30_days_later(person):
    contacted(person, T0, T0 + days(1), T0 + days(2), T0 + days(3))
    assert held(person, SURVEY, T0 + days(30) - days(1) / 86400).reason == HoldReason.BUDGET
    assert held(person, SURVEY, T0 + days(30)) is None


def test_contacts_after_the_moment_checked_do_not_count(person):
    contacted(person, T0 + days(1), T0 + days(2), T0 + days(3), T0 + days(4))
    assert held(person, SURVEY, T0) is None


def test_the_budget_follows_the_workspace_policy(db):
    person = AdvocateFactory(workspace=make_workspace(max_contacts_per_30_days=2))
    contacted(person, T0)
    assert held(person, SURVEY, T0 + days(1)) is None
    contacted(person, T0 + days(1))
    assert held(person, SURVEY, T0 + days(2)).detail == "2 contacts (offers, surveys and nudges) in the last 30 days; the limit is 2."


def test_the_advocates_own_monthly_limit_holds_offers_when_stricter_than_the_workspace(db):
    person = AdvocateFactory(workspace=make_workspace(), max_asks_per_month=1)
    contacted(person, T0, kind=OFFER)

    hold = held(person, OFFER, T0 + days(10))

    assert (hold.reason, hold.detail) == (HoldReason.OWN_CAP, "Their own limit is 1 ask a month; 1 offer in the last 30 days.")
    assert held(person, SURVEY, T0 + days(10)) is None  # their limit is on asks
    assert held(person, OFFER, T0 + days(30)) is None


def test_the_own_limit_counts_offers_only(db):
    person = AdvocateFactory(workspace=make_workspace(), max_asks_per_month=1)
    contacted(person, T0, T0 + days(1), kind=SURVEY)
    assert held(person, OFFER, T0 + days(2)) is None


def test_an_advocate_who_asked_for_no_asks_is_held(db):
    person = AdvocateFactory(workspace=make_workspace(), max_asks_per_month=0)
    hold = held(person, OFFER, T0)
    assert (hold.reason, hold.detail) == (HoldReason.OWN_CAP, "They asked for no asks for now (their own limit is 0 a month).")


def test_the_workspace_budget_still_holds_an_advocate_whose_own_limit_is_looser(db):
    person = AdvocateFactory(workspace=make_workspace(max_contacts_per_30_days=2), max_asks_per_month=10)
    contacted(person, T0, T0 + days(1), kind=OFFER)
    assert held(person, OFFER, T0 + days(2)).reason == HoldReason.BUDGET


def test_a_recent_detractor_gets_no_asks_until_the_quiet_period_ends_but_may_be_surveyed(person):
    with workspace_scope(person.workspace):
        suppress_asks(advocate=person, reason=Suppression.Reason.DETRACTOR, detail="answered 3 to the NPS survey", starts_at=T0)

    hold = held(person, OFFER, T0 + days(1))

    assert hold.reason == HoldReason.SUPPRESSED
    assert hold.detail == "No asks until 1 Jun 2025: recent detractor (answered 3 to the NPS survey)."
    assert held(person, NUDGE, T0 + days(1)).reason == HoldReason.SUPPRESSED
    assert held(person, SURVEY, T0 + days(1)) is None
    assert held(person, OFFER, T0 + days(90) - days(1) / 86400) is not None
    assert held(person, OFFER, T0 + days(90)) is None


def test_a_suppression_that_has_not_started_holds_nothing_yet(person):
    with workspace_scope(person.workspace):
        suppress_asks(advocate=person, reason=Suppression.Reason.MANUAL, days=10, starts_at=T0 + days(5))
    assert held(person, OFFER, T0) is None
    assert held(person, OFFER, T0 + days(6)).detail == "No asks until 18 Mar 2025: set by a manager."


def test_the_suppression_is_the_reason_given_first_when_several_rules_hold(person):
    contacted(person, T0, T0, T0, T0, kind=OFFER)
    with workspace_scope(person.workspace):
        suppress_asks(advocate=person, reason=Suppression.Reason.DETRACTOR, starts_at=T0)
    assert held(person, OFFER, T0 + days(1)).reason == HoldReason.SUPPRESSED


def test_dates_in_the_detail_are_in_the_workspace_time_zone(db):
    person = AdvocateFactory(workspace=make_workspace(timezone="Pacific/Auckland"))
    with workspace_scope(person.workspace):
        suppress_asks(advocate=person, reason=Suppression.Reason.MANUAL, days=1, starts_at=T0.replace(hour=20))
    # 4 March 20:00 UTC is 5 March 09:00 in Auckland
    assert "until 5 Mar 2025" in held(person, OFFER, T0 + days(1)).detail


def test_contact_holds_answers_a_page_of_people_in_one_query(db, django_assert_num_queries):
    workspace = make_workspace()
    free, busy, quiet = (AdvocateFactory(workspace=workspace) for _ in range(3))
    contacted(busy, T0, T0, T0, T0)
    with workspace_scope(workspace):
        suppress_asks(advocate=quiet, reason=Suppression.Reason.DETRACTOR, starts_at=T0)
        with django_assert_num_queries(1):
            holds = contact_holds(workspace=workspace, advocate_ids=[free.pk, busy.pk, quiet.pk], kind=OFFER, now=T0 + days(1))
    assert holds[free.pk] == []
    assert [h.reason for h in holds[busy.pk]] == [HoldReason.BUDGET]
    assert [h.reason for h in holds[quiet.pk]] == [HoldReason.SUPPRESSED]


def test_contact_holds_never_reads_another_workspaces_people(db):
    mine, theirs = make_workspace(), make_workspace()
    stranger = AdvocateFactory(workspace=theirs, max_asks_per_month=0)
    with workspace_scope(mine):
        assert contact_holds(workspace=mine, advocate_ids=[stranger.pk], kind=OFFER, now=T0) == {}


def test_the_rules_filter_any_advocate_queryset_in_one_query(db, django_assert_num_queries):
    workspace = make_workspace()
    free, busy, capped = (AdvocateFactory(workspace=workspace) for _ in range(3))
    contacted(busy, T0, T0, T0, T0)
    with scopes_disabled():
        Advocate.objects.filter(pk=capped.pk).update(max_asks_per_month=0)
    with workspace_scope(workspace):
        rules = budget_rules(workspace=workspace, kind=OFFER, now=T0 + days(1))
        with django_assert_num_queries(1):
            free_ids = set(Advocate.objects.filter(workspace=workspace).exclude(held_q(rules)).values_list("pk", flat=True))
    assert free_ids == {free.pk}


def test_record_hold_keeps_one_row_per_subject_and_person_with_the_latest_reason(person):
    with workspace_scope(person.workspace):
        record_hold(advocate=person, subject_type="survey", subject_id=7, reason=HoldReason.BUDGET, detail="first", at=T0)
        record_hold(advocate=person, subject_type="survey", subject_id=7, reason=HoldReason.SURVEY_THROTTLE, detail="second",
                    at=T0 + days(1))
        rows = list(ContactHold.objects.filter(advocate=person).values_list("reason", "detail", "held_at"))
    assert rows == [(HoldReason.SURVEY_THROTTLE, "second", T0 + days(1))]


def test_a_contact_is_counted_once_per_subject(person):
    with workspace_scope(person.workspace):
        for _ in range(5):
            record_contact(advocate=person, kind=SURVEY, subject="survey-send:1", at=T0)
    assert held(person, SURVEY, T0 + days(1)) is None


def test_a_caller_adds_its_own_rule_the_way_nps_adds_a_survey_throttle(db):
    workspace = make_workspace()
    surveyed, fresh = AdvocateFactory(workspace=workspace), AdvocateFactory(workspace=workspace)
    contacted(surveyed, T0, kind=SURVEY)
    with workspace_scope(workspace):
        now = T0 + days(10)
        recent = Contact.objects.filter(workspace=workspace, kind=SURVEY, at__gt=now - days(90)).values("advocate_id")
        throttle = Rule(HoldReason.SURVEY_THROTTLE, recent, lambda row: "Surveyed in the last 90 days.")
        rules = [*budget_rules(workspace=workspace, kind=SURVEY, now=now), throttle]

        free = set(Advocate.objects.filter(workspace=workspace).exclude(held_q(rules)).values_list("pk", flat=True))
        holds = holds_by_advocate(workspace=workspace, advocate_ids=[surveyed.pk, fresh.pk], rules=rules)

    assert free == {fresh.pk}
    assert holds == {surveyed.pk: [Hold(HoldReason.SURVEY_THROTTLE, "Surveyed in the last 90 days.")], fresh.pk: []}
