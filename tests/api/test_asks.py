"""/api/v1/asks/: create and update through programs.services (audience tags by name),
validation as 400 with field errors, filters, read-only progress counted for a whole page in
one query, close (withdraws outstanding offers), open, and a manager's offer by hand with
every refusal as 409 and its code; another workspace's ids, in the URL or the body, are
404. PRODUCT.md "Programs and asks", "Fatigue"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advocacy.models import Contact, ContactHold, ContactKind, Stage
from advocacy.scoping import scopes_disabled
from programs.fatigue import Hold
from programs.models import Ask, Assignment, AssignmentState, Enrollment
from tests.api.helpers import error_of, patch_json, post_json
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

S = AssignmentState
URL = "/api/v1/asks/"
# Authenticate the key (1), count (1), page (1), audience tags (1), assignment counts (1).
LIST_QUERIES = 5


def future(days=30) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def asks(workspace) -> list[Ask]:
    with scopes_disabled():
        return list(Ask.objects.filter(workspace=workspace))


@pytest.fixture
def program(tenant_a):
    return ProgramFactory(workspace=tenant_a.workspace, name="Reviews")


def payload(program, **extra):
    return {"program": program.pk, "kind": "review", "title": "Review us on G2"} | extra


# --- create and update -----------------------------------------------------------------------


def test_create_returns_the_ask_with_its_audience_and_progress(api_a, program):
    deadline = future()
    response = post_json(api_a, URL, payload(
        program, effort="medium", points=150, capacity=3, overbook=2, deadline=deadline, needs_approval=True,
        audience_tags=["vip", "Beta", "vip"], audience_types=["customer"], audience_motivations=["intrinsic"],
        tenure_min_days=30, tenure_max_days=90, instructions="Two sentences are plenty.",
    ))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body | {
        "program": program.pk, "kind": "review", "title": "Review us on G2", "effort": "medium", "points": 150, "capacity": 3,
        "overbook": 2, "status": "open", "audience_types": ["customer"], "audience_motivations": ["intrinsic"],
        "tenure_min_days": 30, "tenure_max_days": 90, "closed_at": None, "closed_reason": "",
        "progress": {"approved": 0, "in_progress": 0, "outstanding": 0, "wanted": 6},
    } == body
    assert body["audience_tags"] == ["beta", "vip"]  # names normalised, de-duplicated and sorted
    assert [a.pk for a in asks(program.workspace)] == [body["id"]]


def test_create_with_the_least_takes_the_defaults(api_a, program):
    body = post_json(api_a, URL, payload(program)).json()
    assert body | {"effort": "small", "capacity": 1, "overbook": 2, "needs_approval": True, "status": "open", "deadline": None,
                   "audience_tags": [], "progress": {"approved": 0, "in_progress": 0, "outstanding": 0, "wanted": 2}} == body


def test_a_draft_wants_no_offers(api_a, program):
    assert post_json(api_a, URL, payload(program, status="draft")).json()["progress"]["wanted"] == 0


@pytest.mark.parametrize(("extra", "field"), [
    ({"kind": "poem"}, "kind"),
    ({"effort": "huge"}, "effort"),
    ({"capacity": -1}, "capacity"),
    ({"capacity": 0}, "capacity"),
    ({"overbook": 11}, "overbook"),
    ({"points": -5}, "points"),
    ({"points": 100_001}, "points"),
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"status": "closed"}, "status"),
    ({"status": "archived"}, "status"),
    ({"deadline": "2001-01-01T00:00:00Z"}, "deadline"),
    ({"deadline": "tomorrow"}, "deadline"),
    ({"audience_types": ["martian"]}, "audience_types"),
    ({"audience_motivations": ["unknown"]}, "audience_motivations"),
    ({"audience_expressiveness": ["loud"]}, "audience_expressiveness"),
    ({"audience_tags": ["x" * 51]}, "audience_tags"),
    ({"audience_tags": "vip"}, "audience_tags"),
    ({"tenure_min_days": 90, "tenure_max_days": 30}, "tenure_max_days"),
    ({"tenure_min_days": -1}, "tenure_min_days"),
    ({"min_tier": "Diamond"}, "min_tier"),
    ({"program": None}, "program"),
    ({"program": "one"}, "program"),
])
def test_invalid_input_is_400_with_the_field_named(api_a, program, extra, field):
    error = error_of(post_json(api_a, URL, payload(program) | extra), 400)
    assert field in error["fields"], error
    assert asks(program.workspace) == []


def test_a_program_is_required(api_a, program):
    body = payload(program)
    del body["program"]
    assert "program" in error_of(post_json(api_a, URL, body), 400)["fields"]


def test_another_workspaces_program_is_404_and_creates_nothing(api_a, tenant_a, tenant_b):
    theirs = ProgramFactory(workspace=tenant_b.workspace)
    before = db_fingerprint()
    foreign = post_json(api_a, URL, payload(theirs))
    missing = post_json(api_a, URL, {**payload(theirs), "program": 2_000_000_000})
    error_of(foreign, 404, "not_found")
    assert foreign.json() == missing.json()
    assert_unchanged(before, "an ask in another workspace's program")


def test_patch_replaces_the_audience_tags_and_keeps_the_rest(api_a, program):
    ask = post_json(api_a, URL, payload(program, audience_tags=["vip", "beta"], points=70)).json()
    body = patch_json(api_a, f"{URL}{ask['id']}/", {"audience_tags": ["emea"], "title": "  New   title "}).json()
    assert (body["audience_tags"], body["title"], body["points"]) == (["emea"], "New title", 70)
    assert patch_json(api_a, f"{URL}{ask['id']}/", {"points": 80}).json()["audience_tags"] == ["emea"]
    assert patch_json(api_a, f"{URL}{ask['id']}/", {"audience_tags": []}).json()["audience_tags"] == []


def test_patch_with_a_past_deadline_is_400_and_changes_nothing(api_a, program):
    ask = AskFactory(program=program, deadline=timezone.now() + timedelta(days=3))
    before = db_fingerprint()
    error = error_of(patch_json(api_a, f"{URL}{ask.pk}/", {"deadline": "2001-01-01T00:00:00Z", "title": "Changed"}), 400)
    assert error["fields"] == {"deadline": ["In the past."]}
    assert_unchanged(before, "refused update")


def test_patch_cannot_close_an_ask_but_can_make_it_a_draft(api_a, program):
    ask = AskFactory(program=program)
    assert "status" in error_of(patch_json(api_a, f"{URL}{ask.pk}/", {"status": "closed"}), 400)["fields"]
    assert patch_json(api_a, f"{URL}{ask.pk}/", {"status": "draft"}).json()["status"] == "draft"


def test_lowering_capacity_to_the_approved_count_closes_the_ask(api_a, program, no_scopes):
    ask = AskFactory(program=program, capacity=3)
    AssignmentFactory(ask=ask, state=S.APPROVED)
    waiting = AssignmentFactory(ask=ask, state=S.OFFERED)
    body = patch_json(api_a, f"{URL}{ask.pk}/", {"capacity": 1}).json()
    assert body["status"] == "closed"
    assert Assignment.objects.get(pk=waiting.pk).state == S.WITHDRAWN


def test_asks_cannot_be_deleted(api_a, program):
    ask = AskFactory(program=program)
    assert api_a.delete(f"{URL}{ask.pk}/").status_code == 405
    assert len(asks(program.workspace)) == 1


# --- reading ---------------------------------------------------------------------------------


def test_list_is_newest_first_and_filters(api_a, tenant_a, program):
    other = ProgramFactory(workspace=tenant_a.workspace)
    with time_machine.travel("2026-03-01T10:00:00Z"):
        old = AskFactory(program=program, kind="review", effort="small")
    with time_machine.travel("2026-04-01T10:00:00Z"):
        new = AskFactory(program=other, kind="reference_call", effort="large", status="draft")

    def ids(query=""):
        response = api_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["results"]]

    assert ids() == [new.pk, old.pk]
    assert ids(f"program={program.pk}") == [old.pk]
    assert ids("status=draft") == [new.pk]
    assert ids("kind=reference_call") == [new.pk]
    assert ids("effort=small") == [old.pk]
    for bad in ("status=gone", "kind=poem", "effort=huge", "program=abc"):
        error_of(api_a.get(f"{URL}?{bad}"), 400)


def test_filtering_by_another_workspaces_program_is_refused(api_a, tenant_b):
    theirs = AskFactory(program=ProgramFactory(workspace=tenant_b.workspace))
    error_of(api_a.get(f"{URL}?program={theirs.program_id}"), 400)


def test_progress_counts_the_assignments_by_state(api_a, program):
    ask = AskFactory(program=program, capacity=4, overbook=2)
    for state, n in ((S.APPROVED, 1), (S.ACCEPTED, 1), (S.SUBMITTED, 1), (S.OFFERED, 2), (S.DECLINED, 3), (S.EXPIRED, 1)):
        for _ in range(n):
            AssignmentFactory(ask=ask, state=state)
    expected = {"approved": 1, "in_progress": 2, "outstanding": 2, "wanted": (4 - 1 - 2) * 2 - 2}
    assert api_a.get(f"{URL}{ask.pk}/").json()["progress"] == expected
    assert api_a.get(URL).json()["results"][0]["progress"] == expected


@pytest.fixture
def frozen():
    with time_machine.travel("2026-05-10T12:00:00Z", tick=False):
        yield


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def add_asks(program, n: int) -> None:
    from advocacy.services.advocates import ensure_tags
    from programs.models import AskAudienceTag

    tags = list(ensure_tags(program.workspace, ["vip", "beta"]).values())
    for _ in range(n):
        ask = AskFactory(program=program, capacity=2)
        AskAudienceTag.objects.with_scopes_disabled().bulk_create(
            [AskAudienceTag(workspace=program.workspace, ask=ask, tag=t) for t in tags])
        AssignmentFactory(ask=ask, state=S.OFFERED)
        AssignmentFactory(ask=ask, state=S.APPROVED)


def test_the_list_runs_the_same_queries_for_5_and_50_asks(api_a, program, frozen, no_scopes):
    url = f"{URL}?page_size=200"
    api_a.get(url)
    add_asks(program, 5)
    five = count_queries(api_a, url)
    add_asks(program, 45)
    fifty = count_queries(api_a, url)
    body = api_a.get(url).json()
    assert body["count"] == 50
    assert all(a["audience_tags"] == ["beta", "vip"] for a in body["results"])
    assert all(a["progress"] == {"approved": 1, "in_progress": 0, "outstanding": 1, "wanted": 1} for a in body["results"])
    assert five == fifty == LIST_QUERIES


# --- close and open --------------------------------------------------------------------------


def test_close_withdraws_offers_and_accepted_work_but_not_submitted_proof(api_a, program, no_scopes):
    ask = AskFactory(program=program, capacity=5)
    offered, accepted, submitted, approved = (AssignmentFactory(ask=ask, state=s) for s in (S.OFFERED, S.ACCEPTED, S.SUBMITTED, S.APPROVED))
    response = post_json(api_a, f"{URL}{ask.pk}/close/", {"reason": "Campaign over"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["closed_reason"]) == ("closed", "Campaign over")
    states = {a.pk: a.state for a in Assignment.objects.filter(ask=ask)}
    assert states == {offered.pk: S.WITHDRAWN, accepted.pk: S.WITHDRAWN, submitted.pk: S.SUBMITTED, approved.pk: S.APPROVED}
    assert Assignment.objects.get(pk=offered.pk).reason == "The ask was closed: Campaign over"


def test_close_without_a_reason_and_closing_again_changes_nothing(api_a, program):
    ask = AskFactory(program=program)
    first = post_json(api_a, f"{URL}{ask.pk}/close/", {}).json()
    assert first["closed_reason"] == "Closed by a manager"
    before = db_fingerprint()
    again = post_json(api_a, f"{URL}{ask.pk}/close/", {"reason": "Other"})
    assert again.status_code == 200
    assert again.json()["closed_reason"] == "Closed by a manager"
    assert_unchanged(before, "closing a closed ask")


def test_close_refuses_an_overlong_reason(api_a, program):
    ask = AskFactory(program=program)
    assert "reason" in error_of(post_json(api_a, f"{URL}{ask.pk}/close/", {"reason": "x" * 201}), 400)["fields"]


def test_open_reopens_a_closed_or_draft_ask_and_refuses_an_open_one(api_a, program):
    closed = AskFactory(program=program, status="closed", closed_reason="filled")
    draft = AskFactory(program=program, status="draft")
    body = post_json(api_a, f"{URL}{closed.pk}/open/", {}).json()
    assert (body["status"], body["closed_reason"], body["closed_at"]) == ("open", "", None)
    assert post_json(api_a, f"{URL}{draft.pk}/open/", {}).json()["status"] == "open"
    error_of(post_json(api_a, f"{URL}{draft.pk}/open/", {}), 409, "invalid_transition")


def test_open_refuses_an_ask_whose_deadline_passed(api_a, program):
    ask = AskFactory(program=program, status="closed", deadline=timezone.now() - timedelta(days=1))
    error = error_of(post_json(api_a, f"{URL}{ask.pk}/open/", {}), 400)
    assert error["fields"] == {"deadline": ["In the past."]}
    with scopes_disabled():
        assert Ask.objects.get(pk=ask.pk).status == "closed"


# --- a manager's offer -----------------------------------------------------------------------


def offer(client, ask, advocate_id, **extra):
    return post_json(client, f"{URL}{ask.pk}/offer/", {"advocate": advocate_id}, **extra)


def test_offer_makes_a_manual_offer_and_counts_the_contact(api_a, tenant_a, program, no_scopes):
    ask = AskFactory(program=program)
    response = offer(api_a, ask, tenant_a.advocate.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body | {"ask": ask.pk, "advocate": tenant_a.advocate.pk, "state": "offered", "source": "manual"} == body
    assignment = Assignment.objects.get(pk=body["id"])
    assert assignment.offer_expires_at - assignment.offered_at == timedelta(days=7)
    assert Contact.objects.filter(advocate=tenant_a.advocate, kind=ContactKind.OFFER, subject=f"assignment:{assignment.pk}").count() == 1
    assert api_a.get(f"{URL}{ask.pk}/").json()["progress"]["outstanding"] == 1


def test_offer_replays_with_its_idempotency_key(api_a, tenant_a, program, no_scopes):
    ask = AskFactory(program=program)
    first = offer(api_a, ask, tenant_a.advocate.pk, HTTP_IDEMPOTENCY_KEY="offer-1")
    again = offer(api_a, ask, tenant_a.advocate.pk, HTTP_IDEMPOTENCY_KEY="offer-1")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.json() == first.json()
    assert Assignment.objects.filter(ask=ask).count() == 1
    error_of(offer(api_a, ask, tenant_a.advocate.pk), 409, "already_offered")


def refused(client, ask, advocate, code) -> dict:
    before = db_fingerprint()
    error = error_of(offer(client, ask, advocate.pk), 409, code)
    assert_unchanged(before, f"offer refused with {code}")
    return error


def test_offer_of_a_closed_or_draft_ask_is_409(api_a, tenant_a, program):
    for status in ("closed", "draft"):
        error = refused(api_a, AskFactory(program=program, status=status), tenant_a.advocate, "ask_not_open")
        assert status in error["message"]


@pytest.mark.parametrize("stage", [s for s in Stage.values if s != Stage.ACTIVE])
def test_offer_to_an_advocate_who_is_not_active_is_409(api_a, tenant_a, program, stage):
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=stage)
    refused(api_a, AskFactory(program=program), advocate, "advocate_not_active")


def test_offer_of_an_ask_already_offered_to_them_is_409(api_a, tenant_a, program):
    ask = AskFactory(program=program)
    AssignmentFactory(ask=ask, advocate=tenant_a.advocate, state=S.DECLINED)
    refused(api_a, ask, tenant_a.advocate, "already_offered")


def test_offer_before_the_programs_onboarding_is_done_is_409(api_a, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, onboarding_steps=["Accept the terms"])
    ask = AskFactory(program=program)
    refused(api_a, ask, tenant_a.advocate, "not_onboarded")
    Enrollment.objects.with_scopes_disabled().create(workspace=tenant_a.workspace, program=program, advocate=tenant_a.advocate,
                                                     onboarded_at=timezone.now())
    assert offer(api_a, ask, tenant_a.advocate.pk).status_code == 201


HOLD = Hold("spacing", "offered another ask 3 days ago; 7 days between offers")


def test_offer_held_back_by_the_contact_budget_is_409_with_the_holds_sentence_and_the_hold_is_kept(api_a, tenant_a, program, monkeypatch):
    monkeypatch.setattr("programs.fatigue.offer_hold", lambda *, advocate, ask, now: HOLD)
    ask = AskFactory(program=program)
    error = error_of(offer(api_a, ask, tenant_a.advocate.pk), 409, "held_spacing")
    assert error["message"] == f"Held back: {HOLD.detail}"
    with scopes_disabled():
        assert not Assignment.objects.filter(ask=ask).exists()
        hold = ContactHold.objects.get(advocate=tenant_a.advocate, subject_type="ask", subject_id=ask.pk)
    assert (hold.reason, hold.detail) == (HOLD.reason, HOLD.detail)


def test_a_held_offer_sent_with_an_idempotency_key_keeps_the_hold_too(api_a, tenant_a, program, monkeypatch):
    monkeypatch.setattr("programs.fatigue.offer_hold", lambda *, advocate, ask, now: HOLD)
    ask = AskFactory(program=program)
    error_of(offer(api_a, ask, tenant_a.advocate.pk, HTTP_IDEMPOTENCY_KEY="held-1"), 409, "held_spacing")
    with scopes_disabled():
        assert ContactHold.objects.filter(advocate=tenant_a.advocate, subject_id=ask.pk).exists()


def test_offer_to_another_workspaces_advocate_is_404(api_a, tenant_a, tenant_b, program):
    ask = AskFactory(program=program)
    before = db_fingerprint()
    foreign = offer(api_a, ask, tenant_b.advocate.pk)
    missing = offer(api_a, ask, 2_000_000_000)
    error_of(foreign, 404, "not_found")
    assert foreign.json() == missing.json()
    assert_unchanged(before, "offer to B's advocate")


@pytest.mark.parametrize("body", [{}, {"advocate": "me"}, {"advocate": 0}, {"advocate": None}, []])
def test_offer_with_a_bad_body_is_400(api_a, program, body):
    ask = AskFactory(program=program)
    error_of(post_json(api_a, f"{URL}{ask.pk}/offer/", body), 400)


# --- other workspaces ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "", None), ("patch", "", {"title": "Hijacked"}), ("put", "", {"title": "Hijacked", "kind": "review"}),
    ("post", "close/", {}), ("post", "open/", {}), ("post", "offer/", {"advocate": 0}),
])
def test_another_workspaces_key_gets_404(tenant_a, tenant_b, method, path, body):
    ask = AskFactory(program=ProgramFactory(workspace=tenant_a.workspace), status="draft")
    if path == "offer/":
        body = {"advocate": tenant_b.advocate.pk}
    before = db_fingerprint()
    response = getattr(tenant_b.api(), method)(f"{URL}{ask.pk}/{path}", body, format="json")
    error_of(response, 404, "not_found")
    assert_unchanged(before, f"{method} {path} with B's key")
    assert tenant_b.api().get(URL).json()["count"] == 0
