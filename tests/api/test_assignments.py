"""/api/v1/assignments/: an endpoint per transition. Every transition the state table
(programs/states.py) does not allow is 409 `invalid_transition` with its message and
changes nothing; approval credits the ask's points exactly once (Idempotency-Key too);
proof as JSON or multipart; outcomes of approved assignments; pinned query counts; another
workspace's key gets 404. PRODUCT.md "Programs and asks", "Closing the loop"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled
from programs import states
from programs.models import AskStatus, Assignment, AssignmentState, Outcome
from rewards.models import LedgerEntry
from tests.api.helpers import error_of, patch_json, post_json
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

S = AssignmentState
URL = "/api/v1/assignments/"
# What each endpoint asks for, and the body it needs to succeed.
ENDPOINTS = {
    "accept": (S.ACCEPTED, {}),
    "decline": (S.DECLINED, {"reason": "Too busy this month"}),
    "submit": (S.SUBMITTED, {"proof_url": "https://reviews.example/123"}),
    "approve": (S.APPROVED, {}),
    "reject": (S.REJECTED, {"reason": "The link shows no review"}),
    "withdraw": (S.WITHDRAWN, {"reason": "Plans changed"}),
}
CASES = [(state, endpoint) for state in states.TRANSITIONS for endpoint in ENDPOINTS]
ILLEGAL = [(s, e) for s, e in CASES if ENDPOINTS[e][0] not in states.TRANSITIONS[s]]
LEGAL = [(s, e) for s, e in CASES if ENDPOINTS[e][0] in states.TRANSITIONS[s]]
# Authenticate the key (1), count (1), the page with its ask and advocate (1).
LIST_QUERIES = 3
OUTCOME_LIST_QUERIES = 3


def make(workspace, state=S.OFFERED, advocate=None, ask=None, **fields) -> Assignment:
    ask = ask or AskFactory(program=ProgramFactory(workspace=workspace), points=120)
    return AssignmentFactory(ask=ask, advocate=advocate or AdvocateFactory(workspace=workspace), state=state, **fields)


def act(client, assignment, endpoint, body=None, **extra):
    return post_json(client, f"{URL}{assignment.pk}/{endpoint}/", body if body is not None else ENDPOINTS[endpoint][1], **extra)


def reload(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


def ledger(advocate) -> list[LedgerEntry]:
    with scopes_disabled():
        return list(LedgerEntry.objects.filter(advocate=advocate))


# --- the state table ------------------------------------------------------------------------


def test_the_cases_cover_every_state_and_every_endpoint():
    assert {s for s, _ in CASES} == set(S.values)
    assert len(CASES) == len(S.values) * len(ENDPOINTS) == len(ILLEGAL) + len(LEGAL)
    assert {ENDPOINTS[e][0] for e in ENDPOINTS} == set(S.values) - {S.OFFERED, S.EXPIRED}


@pytest.mark.parametrize(("state", "endpoint"), ILLEGAL, ids=[f"{s}-{e}" for s, e in ILLEGAL])
def test_an_illegal_transition_is_409_invalid_transition_and_changes_nothing(api_a, tenant_a, state, endpoint):
    assignment = make(tenant_a.workspace, state)
    before = db_fingerprint()

    error = error_of(act(api_a, assignment, endpoint), 409, "invalid_transition")

    assert error["message"] == states.refusal(state, ENDPOINTS[endpoint][0])
    assert_unchanged(before, f"{endpoint} of a {state} assignment")


@pytest.mark.parametrize(("state", "endpoint"), LEGAL, ids=[f"{s}-{e}" for s, e in LEGAL])
def test_a_legal_transition_answers_200_with_the_new_state(api_a, tenant_a, state, endpoint):
    assignment = make(tenant_a.workspace, state)
    response = act(api_a, assignment, endpoint)
    assert response.status_code == 200, response.content
    target = ENDPOINTS[endpoint][0]
    assert response.json()["state"] == reload(assignment).state == target
    assert response.json()["actions"] == sorted(
        states.VERBS[t] for t in states.TRANSITIONS[target] if t != S.EXPIRED
    )


def test_the_message_says_what_is_possible_instead(api_a, tenant_a):
    error = error_of(act(api_a, make(tenant_a.workspace, S.OFFERED), "approve"), 409, "invalid_transition")
    assert error["message"] == "This assignment is offered, so it cannot be approved (it can only be accepted or declined or expired or withdrawn)."
    error = error_of(act(api_a, make(tenant_a.workspace, S.APPROVED), "withdraw"), 409, "invalid_transition")
    assert "approved is final" in error["message"]


# --- the happy path and exactly-once points -------------------------------------------------


def test_offer_accept_submit_approve_credits_the_points_once(api_a, tenant_a, no_scopes):
    advocate = tenant_a.advocate
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), points=120, capacity=3)

    offered = post_json(api_a, f"/api/v1/asks/{ask.pk}/offer/", {"advocate": advocate.pk})
    assert offered.status_code == 201, offered.content
    body = offered.json()
    assert body | {"ask": ask.pk, "advocate": advocate.pk, "state": "offered", "source": "manual", "points": 120,
                   "actions": ["accept", "decline", "withdraw"], "points_entry": None} == body
    pk = body["id"]
    assignment = Assignment.objects.get(pk=pk)

    assert act(api_a, assignment, "accept").json()["state"] == "accepted"
    submitted = act(api_a, assignment, "submit", {"proof_url": "https://g2.example/r/1", "proof_text": "Posted it"}).json()
    assert (submitted["state"], submitted["proof_url"], submitted["proof_text"]) == ("submitted", "https://g2.example/r/1", "Posted it")
    approved = act(api_a, assignment, "approve")
    assert approved.status_code == 200, approved.content

    [entry] = ledger(advocate)
    assert (entry.idempotency_key, entry.amount, entry.kind, entry.program_id) == (f"assignment:{pk}", 120, "earn_ask", ask.program_id)
    assert approved.json()["points_entry"] == entry.pk
    assert approved.json()["actions"] == []
    assert Advocate.objects.get(pk=advocate.pk).points_balance == 120

    again = act(api_a, assignment, "approve")
    error_of(again, 409, "invalid_transition")
    assert len(ledger(advocate)) == 1
    assert Advocate.objects.get(pk=advocate.pk).points_balance == 120


def test_approval_that_fills_the_ask_closes_it_and_withdraws_its_outstanding_offers(api_a, tenant_a, no_scopes):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), capacity=2)
    done = make(tenant_a.workspace, S.APPROVED, ask=ask)
    last = make(tenant_a.workspace, S.SUBMITTED, ask=ask)
    waiting = make(tenant_a.workspace, S.OFFERED, ask=ask)
    working = make(tenant_a.workspace, S.ACCEPTED, ask=ask)
    other_proof = make(tenant_a.workspace, S.SUBMITTED, ask=ask)

    assert act(api_a, last, "approve").status_code == 200

    ask.refresh_from_db()
    assert ask.status == AskStatus.CLOSED
    assert ask.closed_reason == "filled: 2 of 2 completed"
    assert reload(waiting).state == reload(working).state == S.WITHDRAWN
    assert reload(other_proof).state == S.SUBMITTED  # proof handed in still gets its decision
    assert reload(done).state == S.APPROVED
    body = api_a.get(f"/api/v1/asks/{ask.pk}/").json()
    assert body["status"] == "closed"
    assert body["progress"] == {"approved": 2, "in_progress": 1, "outstanding": 0, "wanted": 0}


def test_approve_with_an_idempotency_key_replays_and_credits_once(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.SUBMITTED)
    first = act(api_a, assignment, "approve", HTTP_IDEMPOTENCY_KEY="approve-1")
    replay = act(api_a, assignment, "approve", HTTP_IDEMPOTENCY_KEY="approve-1")
    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert len(ledger(assignment.advocate)) == 1
    other = make(tenant_a.workspace, S.SUBMITTED)
    error_of(act(api_a, other, "approve", HTTP_IDEMPOTENCY_KEY="approve-1"), 409, "idempotency_key_reused")
    assert reload(other).state == S.SUBMITTED


def test_a_refused_approval_does_not_use_up_its_idempotency_key(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.ACCEPTED)
    error_of(act(api_a, assignment, "approve", HTTP_IDEMPOTENCY_KEY="k"), 409, "invalid_transition")
    act(api_a, assignment, "submit")
    assert act(api_a, assignment, "approve", HTTP_IDEMPOTENCY_KEY="k").status_code == 200


def test_an_ask_without_approval_is_approved_and_credited_on_submission(api_a, tenant_a):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), needs_approval=False, points=80)
    assignment = make(tenant_a.workspace, S.ACCEPTED, ask=ask)
    body = act(api_a, assignment, "submit").json()
    assert body["state"] == "approved"
    assert [e.amount for e in ledger(assignment.advocate)] == [80]


# --- bodies ---------------------------------------------------------------------------------


def test_decline_keeps_the_optional_reason(api_a, tenant_a):
    a, b = make(tenant_a.workspace), make(tenant_a.workspace)
    assert act(api_a, a, "decline", {"reason": "  Too   busy "}).json()["reason"] == "Too busy"
    assert act(api_a, b, "decline", {}).json()["reason"] == ""


def test_withdraw_without_a_reason_says_a_manager_withdrew_it(api_a, tenant_a):
    assert act(api_a, make(tenant_a.workspace, S.ACCEPTED), "withdraw", {}).json()["reason"] == "Withdrawn by a manager"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 301}, {"reason": None}])
def test_reject_needs_a_reason(api_a, tenant_a, body):
    assignment = make(tenant_a.workspace, S.SUBMITTED)
    error = error_of(act(api_a, assignment, "reject", body), 400)
    assert "reason" in error["fields"]
    assert reload(assignment).state == S.SUBMITTED


def test_reject_keeps_the_reason_for_the_advocate(api_a, tenant_a):
    body = act(api_a, make(tenant_a.workspace, S.SUBMITTED), "reject", {"reason": "The link shows no review"}).json()
    assert (body["state"], body["reason"]) == ("rejected", "The link shows no review")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "proof"),
    ({"proof_url": "", "proof_text": "   "}, "proof"),
    ({"proof_url": "not a link"}, "proof_url"),
    ({"proof_url": "ftp://files.example/x"}, "proof_url"),
    ({"proof_text": "x" * 5001}, "proof_text"),
    ({"proof_file": "not-a-file.png"}, "proof_file"),
])
def test_submit_refuses_missing_or_bad_proof(api_a, tenant_a, body, field):
    assignment = make(tenant_a.workspace, S.ACCEPTED)
    error = error_of(act(api_a, assignment, "submit", body), 400)
    assert field in error["fields"], error
    assert reload(assignment).state == S.ACCEPTED


def test_submit_takes_a_file_as_multipart(api_a, tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assignment = make(tenant_a.workspace, S.ACCEPTED)
    upload = SimpleUploadedFile("screenshot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    response = api_a.post(f"{URL}{assignment.pk}/submit/", {"proof_file": upload, "proof_text": "See the screenshot"}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"
    assert response.json()["proof_file"].startswith("screenshot") and response.json()["proof_file"].endswith(".png")
    assert reload(assignment).proof_file.read().startswith(b"\x89PNG")


@pytest.mark.parametrize(("name", "content_type", "size"), [
    ("virus.exe", "application/octet-stream", 10),
    ("fake.png", "application/pdf", 10),
    ("huge.pdf", "application/pdf", 10 * 1024 * 1024 + 1),
])
def test_submit_refuses_a_file_of_the_wrong_type_or_size(api_a, tenant_a, settings, tmp_path, name, content_type, size):
    settings.MEDIA_ROOT = tmp_path
    assignment = make(tenant_a.workspace, S.ACCEPTED)
    upload = SimpleUploadedFile(name, b"0" * size, content_type=content_type)
    error = error_of(api_a.post(f"{URL}{assignment.pk}/submit/", {"proof_file": upload}, format="multipart"), 400)
    assert "proof_file" in error["fields"]
    assert reload(assignment).state == S.ACCEPTED
    assert not list(tmp_path.rglob("*.*"))


def test_other_endpoints_take_json_only(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.OFFERED)
    response = api_a.post(f"{URL}{assignment.pk}/decline/", {"reason": "x"}, format="multipart")
    error_of(response, 415)
    assert reload(assignment).state == S.OFFERED


def test_an_offer_past_its_week_is_expired_when_answered(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.OFFERED)
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        error = error_of(act(api_a, assignment, "accept"), 409, "expired")
    assert "not taken within 7 days" in error["message"]
    assert reload(assignment).state == S.EXPIRED


def test_malformed_json_is_400(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.SUBMITTED)
    response = api_a.post(f"{URL}{assignment.pk}/reject/", data="{nope", content_type="application/json")
    error_of(response, 400, "malformed_json")


# --- reading ----------------------------------------------------------------------------------


def test_list_filters_by_ask_program_advocate_and_state(api_a, tenant_a, no_scopes):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace))
    offered = make(tenant_a.workspace, S.OFFERED, ask=ask)
    mine = make(tenant_a.workspace, S.SUBMITTED, advocate=tenant_a.advocate)
    other = make(tenant_a.workspace, S.APPROVED)

    def ids(query):
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("") == {offered.pk, mine.pk, other.pk}
    assert ids(f"ask={ask.pk}") == {offered.pk}
    assert ids(f"program={other.program_id}") == {other.pk}
    assert ids(f"advocate={tenant_a.advocate.pk}") == {mine.pk}
    assert ids("state=submitted") == {mine.pk}
    error_of(api_a.get(f"{URL}?state=finished"), 400)


def test_filters_with_another_workspaces_ids_are_refused(api_a, tenant_b):
    foreign = make(tenant_b.workspace, S.OFFERED)
    for query in (f"ask={foreign.ask_id}", f"program={foreign.program_id}", f"advocate={foreign.advocate_id}"):
        error_of(api_a.get(f"{URL}?{query}"), 400)


def test_detail_shows_the_assignment(api_a, tenant_a):
    assignment = make(tenant_a.workspace, S.OFFERED, advocate=tenant_a.advocate)
    body = api_a.get(f"{URL}{assignment.pk}/").json()
    assert body | {
        "id": assignment.pk, "ask": assignment.ask_id, "ask_title": assignment.ask.title, "ask_kind": "review",
        "program": assignment.program_id, "advocate": tenant_a.advocate.pk, "advocate_name": "Advocate of alpha",
        "state": "offered", "actions": ["accept", "decline", "withdraw"], "proof_file": None,
    } == body


@pytest.fixture
def frozen():
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        yield


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_the_list_runs_the_same_queries_for_5_and_50_assignments(api_a, tenant_a, frozen):
    url = f"{URL}?page_size=200"
    api_a.get(url)
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace))
    for _ in range(5):
        make(tenant_a.workspace, ask=ask)
    five = count_queries(api_a, url)
    for _ in range(45):
        make(tenant_a.workspace)
    fifty = count_queries(api_a, url)
    assert api_a.get(url).json()["count"] == 50
    assert five == fifty == LIST_QUERIES


# --- outcomes -------------------------------------------------------------------------------

DEAL = {"kind": "deal", "deal_name": "Acme renewal", "amount": "48000.00", "deal_status": "open", "note": "Your call helped"}


def test_an_outcome_is_recorded_on_an_approved_assignment(api_a, tenant_a, no_scopes):
    assignment = make(tenant_a.workspace, S.APPROVED)
    response = post_json(api_a, f"{URL}{assignment.pk}/outcomes/", DEAL)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body | {**DEAL, "assignment": assignment.pk, "program": assignment.program_id, "advocate": assignment.advocate_id,
                   "url": "", "reach": None} == body
    listed = api_a.get(f"{URL}{assignment.pk}/outcomes/").json()
    assert (listed["count"], [o["id"] for o in listed["results"]]) == (1, [body["id"]])


def test_an_outcome_replays_with_its_idempotency_key(api_a, tenant_a, no_scopes):
    assignment = make(tenant_a.workspace, S.APPROVED)
    first = post_json(api_a, f"{URL}{assignment.pk}/outcomes/", DEAL, HTTP_IDEMPOTENCY_KEY="o1")
    again = post_json(api_a, f"{URL}{assignment.pk}/outcomes/", DEAL, HTTP_IDEMPOTENCY_KEY="o1")
    assert (first.status_code, again.status_code, again.json()) == (201, 201, first.json())
    assert Outcome.objects.filter(assignment=assignment).count() == 1


@pytest.mark.parametrize("state", [s for s in S.values if s != S.APPROVED])
def test_an_outcome_on_an_unapproved_assignment_is_409(api_a, tenant_a, state, no_scopes):
    assignment = make(tenant_a.workspace, state)
    error_of(post_json(api_a, f"{URL}{assignment.pk}/outcomes/", DEAL), 409, "invalid_transition")
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "deal", "deal_name": "Acme", "deal_status": "won"}, "amount"),
    ({"kind": "deal", "deal_name": "Acme", "amount": "-1", "deal_status": "won"}, "amount"),
    ({"kind": "deal", "amount": "10", "deal_status": "won"}, "deal_name"),
    ({"kind": "deal", "deal_name": "Acme", "amount": "10", "deal_status": "maybe"}, "deal_status"),
    ({"kind": "review"}, "url"),
    ({"kind": "review", "url": "javascript:alert(1)"}, "url"),
    ({"kind": "reach", "reach": 0}, "reach"),
    ({"kind": "reach"}, "reach"),
    ({"kind": "award"}, "kind"),
])
def test_an_outcome_without_what_its_kind_needs_is_400(api_a, tenant_a, body, field, no_scopes):
    assignment = make(tenant_a.workspace, S.APPROVED)
    error = error_of(post_json(api_a, f"{URL}{assignment.pk}/outcomes/", body), 400)
    assert field in error["fields"], error
    assert not Outcome.objects.exists()


def test_outcomes_list_filters_and_patch_updates(api_a, tenant_a, no_scopes):
    deal = make(tenant_a.workspace, S.APPROVED, advocate=tenant_a.advocate)
    review = make(tenant_a.workspace, S.APPROVED)
    d = post_json(api_a, f"{URL}{deal.pk}/outcomes/", DEAL).json()
    r = post_json(api_a, f"{URL}{review.pk}/outcomes/", {"kind": "review", "url": "https://g2.example/r/9"}).json()

    def ids(query=""):
        return [o["id"] for o in api_a.get(f"/api/v1/outcomes/?{query}").json()["results"]]

    assert ids() == [r["id"], d["id"]]
    assert ids(f"advocate={tenant_a.advocate.pk}") == [d["id"]]
    assert ids(f"program={review.program_id}") == [r["id"]]
    assert ids("kind=review") == [r["id"]]
    assert ids(f"assignment={deal.pk}") == [d["id"]]

    won = patch_json(api_a, f"/api/v1/outcomes/{d['id']}/", {"deal_status": "won"})
    assert won.status_code == 200, won.content
    assert won.json() | {"deal_status": "won", "deal_name": "Acme renewal", "amount": "48000.00"} == won.json()
    error = error_of(patch_json(api_a, f"/api/v1/outcomes/{r['id']}/", {"kind": "deal"}), 400)
    assert "deal_name" in error["fields"]
    assert Outcome.objects.get(pk=r["id"]).kind == "review"
    assert api_a.put(f"/api/v1/outcomes/{d['id']}/", DEAL, format="json").status_code == 405
    assert api_a.delete(f"/api/v1/outcomes/{d['id']}/").status_code == 405


def test_the_outcome_list_runs_the_same_queries_for_5_and_50(api_a, tenant_a, frozen, no_scopes):
    url = "/api/v1/outcomes/?page_size=200"
    api_a.get(url)

    def add(n):
        for _ in range(n):
            a = make(tenant_a.workspace, S.APPROVED)
            Outcome.objects.create(workspace=tenant_a.workspace, assignment=a, program_id=a.program_id, advocate_id=a.advocate_id,
                                   kind="reach", reach=5)

    add(5)
    five = count_queries(api_a, url)
    add(45)
    assert count_queries(api_a, url) == five == OUTCOME_LIST_QUERIES


# --- other workspaces -----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [*ENDPOINTS, "outcomes"])
def test_another_workspaces_key_gets_404_on_every_endpoint(tenant_a, tenant_b, endpoint):
    assignment = make(tenant_a.workspace, S.APPROVED if endpoint == "outcomes" else S.SUBMITTED)
    before = db_fingerprint()
    body = DEAL if endpoint == "outcomes" else ENDPOINTS[endpoint][1]
    error_of(act(tenant_b.api(), assignment, endpoint, body), 404, "not_found")
    error_of(tenant_b.api().get(f"{URL}{assignment.pk}/"), 404)
    assert_unchanged(before, f"{endpoint} with B's key")
    assert assignment.pk not in {r["id"] for r in tenant_b.api().get(URL).json()["results"]}


def test_without_a_key_it_is_401(client, tenant_a):
    assignment = make(tenant_a.workspace, S.SUBMITTED)
    error_of(post_json(client, f"{URL}{assignment.pk}/approve/", {}), 401)
    assert reload(assignment).state == S.SUBMITTED
