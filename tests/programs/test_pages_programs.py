"""Manager pages of programs and asks: the list with its counts, the program and ask forms
(validation re-renders with the service's messages), the program's results, the ask's page
(progress, assignments, the people held back and why), offering by hand, closing and
opening. Viewers read everything and are shown no forms; their POSTs are 403."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advocacy.budget import record_hold
from advocacy.models import Advocate, HoldReason, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from programs.models import Ask, AskStatus, Assignment, AssignmentState, Outcome, Program
from programs.services import record_outcome
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.programs.pages import post_forms, reload, text, url

pytestmark = pytest.mark.django_db
S = AssignmentState


def table_rows(response) -> list[list[str]]:
    """The body rows of the page's tables, each a list of its cells' texts."""
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        if cells:
            rows.append([" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells])
    return rows


def program_data(**overrides) -> dict:
    data = {"name": "Reviews 2026", "goal": "reviews", "status": "active", "description": "Reviews on G2",
            "landing_url": "https://example.com/join", "onboarding_steps": "Accept the terms\n\n  Read the guide  \n",
            "objective_reviews": "50", "objective_pipeline": "250000"}
    return data | overrides


def ask_data(**overrides) -> dict:
    data = {"kind": "review", "title": "Review us on G2", "instructions": "Write an honest review.", "effort": "small",
            "points": "75", "capacity": "10", "overbook": "2", "deadline": "", "needs_approval": "on", "status": "open",
            "tags": "Power user, beta", "audience_types": ["customer"], "audience_motivations": ["intrinsic"],
            "audience_expressiveness": [], "min_tier": "", "tenure_min_days": "30", "tenure_max_days": "90",
            "prospect_industry": "", "prospect_company_size": "", "prospect_use_case": ""}
    return data | overrides


def approved(ask, advocate=None, **fields):
    return AssignmentFactory(ask=ask, advocate=advocate or AdvocateFactory(workspace=ask.workspace), state=S.APPROVED,
                             decided_at=timezone.now(), **fields)


# --- The programs list ------------------------------------------------------------------------


def test_program_list_counts_open_asks_and_proof_waiting_per_program(client, tenant_a):
    reviews = ProgramFactory(workspace=tenant_a.workspace, name="Reviews")
    AskFactory(program=reviews, status=AskStatus.OPEN)
    closed = AskFactory(program=reviews, status=AskStatus.CLOSED)
    AssignmentFactory(ask=closed, state=S.SUBMITTED, submitted_at=timezone.now())
    AssignmentFactory(ask=closed, state=S.SUBMITTED, submitted_at=timezone.now())
    ProgramFactory(workspace=tenant_a.workspace, name="Quiet")
    client.force_login(tenant_a.manager)

    response = client.get(url("program_list", tenant_a))

    assert response.status_code == 200
    rows = {r[0].split(" ")[0]: r[3:] for r in table_rows(response)}
    assert rows["Reviews"] == ["1 of 2", "2", "0"]
    assert rows["Quiet"] == ["0 of 0", "0", "0"]
    assert "Approvals <span class=\"badge\">2</span>" in response.content.decode()


def test_program_list_has_an_empty_state_with_the_create_button(client, tenant_a):
    client.force_login(tenant_a.manager)
    body = text(client.get(url("program_list", tenant_a)))
    assert "No programs yet" in body and "Create a program" in body


def test_program_list_filters_by_status_and_name(client, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, name="Live one")
    ProgramFactory(workspace=tenant_a.workspace, name="Old one", status="archived")
    client.force_login(tenant_a.viewer)
    assert "Old one" not in text(client.get(url("program_list", tenant_a)))
    archived = text(client.get(url("program_list", tenant_a), {"status": "archived"}))
    assert "Old one" in archived and "Live one" not in archived
    assert "Live one" not in text(client.get(url("program_list", tenant_a), {"status": "all", "q": "old"}))
    assert client.get(url("program_list", tenant_a), {"status": "nonsense", "page": "x"}).status_code == 200


def _list_queries(client, tenant, name) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url(name, tenant)).status_code == 200
    return len(ctx.captured_queries)


def test_program_list_takes_the_same_queries_for_few_and_many_programs(client, tenant_a):
    client.force_login(tenant_a.manager)

    def add(n):
        for _ in range(n):
            program = ProgramFactory(workspace=tenant_a.workspace)
            ask = AskFactory(program=program)
            AssignmentFactory(ask=ask, state=S.SUBMITTED, submitted_at=timezone.now())

    add(2)
    few = _list_queries(client, tenant_a, "program_list")
    add(20)
    assert _list_queries(client, tenant_a, "program_list") == few


def test_viewer_reads_programs_but_is_shown_no_forms_and_cannot_post(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    ask = AskFactory(program=program)
    client.force_login(tenant_a.viewer)

    for name, args in [("program_list", ()), ("program_detail", (program.pk,)), ("ask_detail", (ask.pk,))]:
        response = client.get(url(name, tenant_a, *args))
        assert response.status_code == 200, name
        assert post_forms(response) == [], name
        assert "New program" not in text(response) and "Offer by hand" not in text(response)
    for name, args in [("program_create", ()), ("program_edit", (program.pk,)), ("ask_create", (program.pk,)),
                       ("ask_edit", (ask.pk,)), ("ask_offer", (ask.pk,))]:
        assert client.get(url(name, tenant_a, *args)).status_code == 403, name
        assert client.post(url(name, tenant_a, *args), program_data()).status_code == 403, name
    assert client.post(url("ask_status", tenant_a, ask.pk, "close")).status_code == 403
    assert reload(ask).status == AskStatus.OPEN


# --- Program form ---------------------------------------------------------------------------


def test_manager_creates_a_program_with_objectives_and_onboarding_steps(client, tenant_a):
    client.force_login(tenant_a.manager)

    response = client.post(url("program_create", tenant_a), program_data())

    with scopes_disabled():
        program = Program.objects.get(workspace=tenant_a.workspace, name="Reviews 2026")
    assert response.status_code == 302 and response["Location"] == url("program_detail", tenant_a, program.pk)
    assert program.objectives == {"reviews": 50, "pipeline": 250000}
    assert program.onboarding_steps == ["Accept the terms", "Read the guide"]
    assert program.created_by == tenant_a.manager


def test_the_program_form_shows_one_number_field_per_objective_metric(client, tenant_a):
    from programs.models import OBJECTIVE_METRICS

    client.force_login(tenant_a.manager)
    html = client.get(url("program_create", tenant_a)).content.decode()
    for metric in OBJECTIVE_METRICS:
        assert f'type="number" name="objective_{metric}"' in html


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "   "}, "This field is required."),
    ({"objective_reviews": "0"}, "greater than or equal to 1"),
    ({"objective_reviews": "many"}, "Enter a whole number."),
    ({"onboarding_steps": "\n".join(f"Step {n}" for n in range(11))}, "At most 10 onboarding steps"),
    ({"landing_url": "not a url"}, "Enter a valid URL."),
    ({"goal": "world_peace"}, "Select a valid choice."),
])
def test_invalid_program_input_re_renders_400_with_the_message(client, tenant_a, change, message):
    client.force_login(tenant_a.manager)

    response = client.post(url("program_create", tenant_a), program_data(**change))

    assert response.status_code == 400
    assert message in text(response)
    with scopes_disabled():
        assert not Program.objects.filter(workspace=tenant_a.workspace).exists()


def test_a_second_program_with_the_same_name_is_a_409_with_the_services_message(client, tenant_a):
    ProgramFactory(workspace=tenant_a.workspace, name="Reviews 2026")
    client.force_login(tenant_a.manager)

    response = client.post(url("program_create", tenant_a), program_data(name="reviews 2026"))

    assert response.status_code == 409
    assert "There is already a program called “reviews 2026”." in text(response)


def test_editing_a_program_prefills_the_form_and_saves_the_change(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Refs", objectives={"reference_calls": 12},
                             onboarding_steps=["Sign the NDA"])
    client.force_login(tenant_a.manager)
    html = client.get(url("program_edit", tenant_a, program.pk)).content.decode()
    assert 'name="objective_reference_calls" value="12"' in html and "Sign the NDA" in html

    response = client.post(url("program_edit", tenant_a, program.pk),
                           program_data(name="References", status="paused", objective_reviews="", objective_pipeline=""))

    assert response.status_code == 302
    program = reload(program)
    assert (program.name, program.status, program.objectives) == ("References", "paused", {})


# --- Program detail --------------------------------------------------------------------------


def test_program_page_shows_its_asks_progress_and_results_against_objectives(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, objectives={"reviews": 4, "pipeline": 1000, "revenue_won": 500,
                                                                       "referrals": 10})
    ask = AskFactory(program=program, kind="review", title="G2 review", capacity=4, overbook=2)
    done = approved(ask)
    AssignmentFactory(ask=ask, state=S.ACCEPTED)
    AssignmentFactory(ask=ask, state=S.OFFERED)
    with workspace_scope(tenant_a.workspace):
        record_outcome(assignment=done, actor=None, data={"kind": "deal", "deal_name": "Acme", "amount": Decimal("800"),
                                                          "deal_status": "won"})
        record_outcome(assignment=done, actor=None, data={"kind": "deal", "deal_name": "Beta", "amount": Decimal("200"),
                                                          "deal_status": "open"})
    client.force_login(tenant_a.viewer)

    response = client.get(url("program_detail", tenant_a, program.pk))
    body = text(response)

    # approved 1, in progress 1, waiting 1, wanted (4 - 1 - 1) * 2 - 1 = 3
    [row] = table_rows(response)
    assert row[0].startswith("G2 review") and row[2:] == ["1 of 4", "1", "1", "1", "3"]
    assert "Reviews published 1 of 4" in body
    assert f"Pipeline influenced 1,000 {tenant_a.workspace.currency} of 1,000" in body
    assert f"Influenced revenue won 800 {tenant_a.workspace.currency} of 500" in body
    assert "Referral leads measured in referrals of 10" in body


def test_program_page_filters_its_asks_by_status_with_counts(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    AskFactory(program=program, title="Open ask")
    AskFactory(program=program, title="Draft ask", status=AskStatus.DRAFT)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("program_detail", tenant_a, program.pk)))
    assert "Open ask" in body and "Draft ask" not in body and "Draft (1)" in body and "All (2)" in body
    assert "Draft ask" in text(client.get(url("program_detail", tenant_a, program.pk), {"status": "draft"}))


def test_program_outcomes_export_is_a_formula_safe_csv(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    done = approved(AskFactory(program=program))
    with workspace_scope(tenant_a.workspace):
        record_outcome(assignment=done, actor=None, data={"kind": "deal", "deal_name": "=HYPERLINK()", "amount": Decimal("5"),
                                                          "deal_status": "won"})
    client.force_login(tenant_a.viewer)
    response = client.get(url("program_outcomes_export", tenant_a, program.pk))
    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and "'=HYPERLINK()" in body and ",won," in body


# --- Ask form --------------------------------------------------------------------------------


def test_the_ask_form_suggests_points_by_effort_and_offers_the_workspace_tiers(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)

    html = client.get(url("ask_create", tenant_a, program.pk)).content.decode()

    points = json.loads(re.search(r'<script id="default-points" type="application/json">(.*?)</script>', html).group(1))
    assert points == {"small": 50, "medium": 150, "large": 300}
    assert 'name="points" value="50"' in html
    assert '<option value="Insider">Insider</option>' in html  # rewards.services.tier_ladder
    assert 'id="prospect" data-kind="reference_call"' in html and 'name="prospect_industry"' in html


def test_manager_creates_an_ask_with_its_audience(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)
    deadline = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(url("ask_create", tenant_a, program.pk), ask_data(min_tier="Insider", deadline=deadline))

    with scopes_disabled():
        ask = Ask.objects.get(program=program)
        tags = sorted(ask.audience_tags.values_list("name", flat=True))
    assert response.status_code == 302 and response["Location"] == url("ask_detail", tenant_a, ask.pk)
    assert (ask.title, ask.points, ask.capacity, ask.status, ask.min_tier) == ("Review us on G2", 75, 10, "open", "Insider")
    assert (ask.audience_types, ask.audience_motivations, ask.tenure_min_days, ask.tenure_max_days) == (["customer"], ["intrinsic"], 30, 90)
    assert tags == ["beta", "power user"]
    assert ask.deadline is not None and ask.needs_approval


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"tenure_min_days": "90", "tenure_max_days": "30"}, 400, "The tenure window's minimum is above its maximum."),
    ({"deadline": "2001-01-01T10:00"}, 400, "The deadline must be in the future."),
    ({"title": ""}, 400, "This field is required."),
    ({"points": "-5"}, 400, "greater than or equal to 0"),
    ({"capacity": "0"}, 400, "greater than or equal to 1"),
    ({"min_tier": "Platinum"}, 400, "Select a valid choice."),
    ({"kind": "skydiving"}, 400, "Select a valid choice."),
    ({"deadline": "tomorrow-ish"}, 400, "Enter a valid date/time."),
])
def test_invalid_ask_input_re_renders_with_the_message(client, tenant_a, change, status, message):
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)

    response = client.post(url("ask_create", tenant_a, program.pk), ask_data(**change))

    assert response.status_code == status
    assert message in text(response)
    with scopes_disabled():
        assert not Ask.objects.filter(program=program).exists()


def test_editing_an_ask_prefills_its_tags_and_saves_changes(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)
    client.post(url("ask_create", tenant_a, program.pk), ask_data())
    with scopes_disabled():
        ask = Ask.objects.get(program=program)
    html = client.get(url("ask_edit", tenant_a, ask.pk)).content.decode()
    assert 'value="beta, power user"' in html and 'name="status"' not in html

    response = client.post(url("ask_edit", tenant_a, ask.pk), ask_data(points="120", effort="medium", tags="beta"))

    assert response.status_code == 302
    ask = reload(ask)
    with scopes_disabled():
        assert list(ask.audience_tags.values_list("name", flat=True)) == ["beta"]
    assert (ask.points, ask.effort, ask.status) == (120, "medium", "open")


# --- Ask page ------------------------------------------------------------------------------


def test_ask_page_shows_progress_assignments_by_state_and_who_was_held_back_and_why(client, tenant_a):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), capacity=3, overbook=2)
    approved(ask, advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Ada Approved"))
    AssignmentFactory(ask=ask, state=S.SUBMITTED, advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Sam Submitted"))
    AssignmentFactory(ask=ask, state=S.OFFERED, advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Olga Offered"))
    held = AdvocateFactory(workspace=tenant_a.workspace, name="Hank Held")
    with workspace_scope(tenant_a.workspace):
        record_hold(advocate=held, subject_type="ask", subject_id=ask.pk, reason=HoldReason.BUDGET,
                    detail="4 contacts in the last 30 days; the limit is 4.")
    client.force_login(tenant_a.viewer)

    body = text(client.get(url("ask_detail", tenant_a, ask.pk)))

    assert "1 of 3 Approved" in body
    assert "1 More offers wanted" in body  # (3 - 1 approved - 1 in progress) * 2 - 1 waiting
    assert "Ada Approved" in body and "Sam Submitted" in body and "Olga Offered" in body
    assert "Held back (1)" in body and "Hank Held" in body
    assert "Contact budget used up: 4 contacts in the last 30 days; the limit is 4." in body

    submitted = text(client.get(url("ask_detail", tenant_a, ask.pk), {"state": "submitted"}))
    assert "Sam Submitted" in submitted and "Olga Offered" not in submitted
    assert "Olga Offered" in text(client.get(url("ask_detail", tenant_a, ask.pk), {"q": "olga"}))
    assert "Ada Approved" not in text(client.get(url("ask_detail", tenant_a, ask.pk), {"q": "olga"}))


def test_ask_assignments_export_lists_every_assignment(client, tenant_a):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace))
    a = AssignmentFactory(ask=ask, state=S.DECLINED, reason="+1 busy")
    client.force_login(tenant_a.viewer)
    body = b"".join(client.get(url("ask_assignments_export", tenant_a, ask.pk)).streaming_content).decode()
    assert body.splitlines()[0].startswith("id,advocate_email")
    assert f"{a.pk},{a.advocate.email}" in body and "'+1 busy" in body


# --- Offer by hand ---------------------------------------------------------------------------


@pytest.fixture
def open_ask(tenant_a):
    return AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), title="Speak at our meetup")


def _active(tenant, **fields):
    return AdvocateFactory(workspace=tenant.workspace, stage=Stage.ACTIVE, **fields)


def test_offer_search_finds_only_active_advocates(client, tenant_a, open_ask):
    _active(tenant_a, email="ana@customer.example")
    AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE, email="ann@customer.example")
    client.force_login(tenant_a.manager)

    body = text(client.get(url("ask_offer", tenant_a, open_ask.pk), {"q": "customer.example"}))

    assert "ana@customer.example" in body and "ann@customer.example" not in body


def test_offer_by_hand_makes_a_manual_offer_and_emails_it(client, tenant_a, open_ask, django_capture_on_commit_callbacks, mailoutbox):
    advocate = _active(tenant_a, email="ana@customer.example")
    client.force_login(tenant_a.manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": advocate.pk})

    assert response.status_code == 302 and response["Location"] == url("ask_detail", tenant_a, open_ask.pk)
    with scopes_disabled():
        offer = Assignment.objects.get(ask=open_ask, advocate=advocate)
    assert (offer.state, offer.source, offer.offered_by) == (S.OFFERED, "manual", tenant_a.manager)
    assert [m.to for m in mailoutbox] == [["ana@customer.example"]]


def test_offer_by_hand_held_back_by_fatigue_answers_409_with_the_reason(client, tenant_a, open_ask):
    advocate = _active(tenant_a, last_asked_at=timezone.now() - timedelta(days=2))
    client.force_login(tenant_a.manager)

    response = client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": advocate.pk})

    assert response.status_code == 409
    assert re.search(r"Held back: Last offered an ask on .*?; at least 7 days between offers", text(response))
    with scopes_disabled():
        assert not Assignment.objects.filter(ask=open_ask).exists()


def test_offer_by_hand_to_someone_already_offered_is_409(client, tenant_a, open_ask):
    advocate = _active(tenant_a, name="Ana Lopez")
    AssignmentFactory(ask=open_ask, advocate=advocate, state=S.DECLINED)
    client.force_login(tenant_a.manager)

    response = client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": advocate.pk})

    assert response.status_code == 409
    assert "Ana Lopez was already offered this ask." in text(response)


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999", "-1"])
def test_offer_by_hand_without_a_valid_advocate_is_400(client, tenant_a, open_ask, value):
    client.force_login(tenant_a.manager)
    response = client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": value})
    assert response.status_code == 400 and "Choose an advocate of this workspace" in text(response)


def test_offer_by_hand_of_another_workspaces_advocate_is_refused(client, tenant_a, tenant_b, open_ask):
    tenant_b.advocate.stage = Stage.ACTIVE
    with scopes_disabled():
        Advocate.objects.filter(pk=tenant_b.advocate.pk).update(stage=Stage.ACTIVE)
    client.force_login(tenant_a.manager)
    assert client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": tenant_b.advocate.pk}).status_code == 400
    with scopes_disabled():
        assert not Assignment.objects.exists()


def test_offer_from_the_advocates_page(client, tenant_a, open_ask):
    advocate = _active(tenant_a)
    client.force_login(tenant_a.manager)
    page = text(client.get(url("advocate_offer", tenant_a, advocate.pk)))
    assert "Speak at our meetup" in page

    response = client.post(url("advocate_offer", tenant_a, advocate.pk), {"ask": open_ask.pk})

    assert response.status_code == 302 and response["Location"] == url("advocate_detail", tenant_a, advocate.pk)
    again = client.post(url("advocate_offer", tenant_a, advocate.pk), {"ask": open_ask.pk})
    assert again.status_code == 409 and "already offered this ask" in text(again)


# --- Close and open --------------------------------------------------------------------------


def test_closing_asks_for_confirmation_saying_how_many_offers_are_withdrawn(client, tenant_a, open_ask):
    AssignmentFactory(ask=open_ask, state=S.OFFERED)
    AssignmentFactory(ask=open_ask, state=S.OFFERED)
    AssignmentFactory(ask=open_ask, state=S.ACCEPTED)
    submitted = AssignmentFactory(ask=open_ask, state=S.SUBMITTED)
    client.force_login(tenant_a.manager)

    body = text(client.get(url("ask_status", tenant_a, open_ask.pk, "close")))
    assert "3 offers will be withdrawn (2 waiting for an answer, 1 accepted and not yet submitted)" in body

    response = client.post(url("ask_status", tenant_a, open_ask.pk, "close"), {"reason": "Enough speakers"})

    assert response.status_code == 302
    assert reload(open_ask).status == AskStatus.CLOSED
    with scopes_disabled():
        assert Assignment.objects.filter(ask=open_ask, state=S.WITHDRAWN).count() == 3
    assert reload(submitted).state == S.SUBMITTED
    assert "is closed; 3 offers withdrawn" in text(client.get(response["Location"]))


def test_closing_a_closed_ask_is_409_and_opening_it_again_works(client, tenant_a, open_ask):
    client.force_login(tenant_a.manager)
    client.post(url("ask_status", tenant_a, open_ask.pk, "close"))

    again = client.post(url("ask_status", tenant_a, open_ask.pk, "close"))
    assert again.status_code == 409 and "already closed" in text(again)

    reopened = client.post(url("ask_status", tenant_a, open_ask.pk, "open"))
    assert reopened.status_code == 302 and reload(open_ask).status == AskStatus.OPEN
    twice = client.post(url("ask_status", tenant_a, open_ask.pk, "open"))
    assert twice.status_code == 409 and "This ask is already open." in text(twice)


def test_opening_an_ask_whose_deadline_passed_is_refused_with_the_message(client, tenant_a):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), status=AskStatus.CLOSED,
                     deadline=timezone.now() - timedelta(days=1))
    client.force_login(tenant_a.manager)
    response = client.post(url("ask_status", tenant_a, ask.pk, "open"))
    assert response.status_code == 400
    assert "Its deadline has passed: set a later deadline before opening it." in text(response)
    assert reload(ask).status == AskStatus.CLOSED


def test_an_unknown_ask_action_is_404(client, tenant_a, open_ask):
    client.force_login(tenant_a.manager)
    assert client.get(url("ask_status", tenant_a, open_ask.pk, "explode")).status_code == 404
    assert client.post(url("ask_status", tenant_a, open_ask.pk, "explode")).status_code == 404


def test_outcome_rows_are_not_needed_for_a_program_without_objectives(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)
    body = text(client.get(url("program_detail", tenant_a, program.pk)))
    assert "No targets set." in body and "No open asks" in body
    with scopes_disabled():
        assert not Outcome.objects.exists()


def test_a_held_back_offer_by_hand_is_listed_among_the_people_held_back(client, tenant_a, open_ask):
    advocate = _active(tenant_a, name="Hana Held", last_asked_at=timezone.now() - timedelta(days=2))
    client.force_login(tenant_a.manager)
    assert client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": advocate.pk}).status_code == 409

    body = text(client.get(url("ask_detail", tenant_a, open_ask.pk)))

    assert "Held back (1)" in body and "Hana Held" in body and "Offered too recently: Last offered an ask on" in body


def test_the_deadline_is_typed_and_shown_in_the_workspaces_time_zone(client, tenant_a):
    from advocacy.models import Workspace

    Workspace.objects.filter(pk=tenant_a.workspace.pk).update(timezone="Europe/Paris")
    program = ProgramFactory(workspace=tenant_a.workspace)
    client.force_login(tenant_a.manager)

    client.post(url("ask_create", tenant_a, program.pk), ask_data(deadline="2031-06-01T12:00"))

    with scopes_disabled():
        ask = Ask.objects.get(program=program)
    assert ask.deadline.isoformat() == "2031-06-01T10:00:00+00:00"  # 12:00 in Paris, summer time
    assert "1 Jun 2031 12:00 (Europe/Paris)" in text(client.get(url("ask_detail", tenant_a, ask.pk)))
    assert 'value="2031-06-01T12:00"' in client.get(url("ask_edit", tenant_a, ask.pk)).content.decode()


@pytest.mark.parametrize("path", [
    "programs/?q=%00&status=%00&page=zz", "programs/99999999999999999999/", "programs/99999999999999999999/edit/",
    "asks/99999999999999999999/", "asks/1/?state=%00&q=%00&page=-5", "asks/1/offer/?q=%00", "invitations/?q=%00&status=x",
    "tasks/?q=%00&kind=%00", "advocates/invite/?q=%00&stage=%00", "programs/1/outcomes.csv",
])
def test_garbage_in_page_urls_is_never_a_500(client, tenant_a, path):
    AskFactory(program=ProgramFactory(workspace=tenant_a.workspace))
    client.force_login(tenant_a.owner)
    assert client.get(f"/w/{tenant_a.workspace.slug}/{path}").status_code in (200, 404)


def test_a_nul_character_in_forms_is_a_400_not_a_500(client, tenant_a, open_ask):
    client.force_login(tenant_a.manager)
    assert client.post(url("program_create", tenant_a), program_data(name="x\x00y")).status_code == 400
    assert client.post(url("ask_edit", tenant_a, open_ask.pk), ask_data(title="x\x00y")).status_code == 400
    assert client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": "1", "q": "\x00"}).status_code == 400
    assert client.post(url("ask_status", tenant_a, open_ask.pk, "close"), {"reason": "\x00"}).status_code == 400
    assert reload(open_ask).status == AskStatus.OPEN


@pytest.mark.parametrize("raw", ["²", "١٢", "12a", "9" * 30])
def test_an_offer_by_hand_to_a_non_ascii_or_huge_id_is_refused_not_a_500(client, tenant_a, open_ask, raw):
    client.force_login(tenant_a.manager)
    assert client.post(url("ask_offer", tenant_a, open_ask.pk), {"advocate": raw}).status_code in (400, 404)
    assert client.get(url("advocate_bulk_invite", tenant_a) + f"?program={raw}").status_code in (200, 400)


def test_the_advocate_list_shows_who_is_held_back_and_why(client, tenant_a):
    _active(tenant_a, name="Rita Rested", last_asked_at=timezone.now() - timedelta(days=2))
    _active(tenant_a, name="Fred Free")
    client.force_login(tenant_a.viewer)
    body = text(client.get(reverse("advocate_list", args=[tenant_a.workspace.slug])))
    assert "Fatigue" in body
    assert re.search(r"Rita Rested.*Held Last offered an ask on", body)
    assert re.search(r"Fred Free.*can be asked", body)
