"""The approval queue and one assignment's page: approve (points credited once), reject with
a required reason, withdraw; an illegal transition is a 409 page with the service's message,
never a 500; the proof file only for the workspace's staff; recording and editing outcomes."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advocacy.scoping import scopes_disabled, workspace_scope
from programs.models import Assignment, AssignmentState, Outcome
from programs.services import approve_assignment, record_outcome
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory
from tests.programs.pages import post_forms, reload, text, url

pytestmark = pytest.mark.django_db
S = AssignmentState


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def submitted(tenant, *, points=80, advocate=None, at=None, **fields):
    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace), points=points, capacity=5)
    at = at or timezone.now()
    return AssignmentFactory(ask=ask, advocate=advocate or AdvocateFactory(workspace=tenant.workspace, stage="active"),
                             state=S.SUBMITTED, offered_at=at - timezone.timedelta(days=2), accepted_at=at - timezone.timedelta(days=1),
                             submitted_at=at, **fields)


def approved(tenant, **fields):
    a = submitted(tenant, **fields)
    with workspace_scope(tenant.workspace):
        return approve_assignment(assignment=a, actor=None)


# --- The queue --------------------------------------------------------------------------------


def test_queue_lists_submitted_proof_oldest_first_with_its_proof(client, tenant_a):
    newer = submitted(tenant_a, proof_url="https://g2.example/review/2", advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Newer"))
    older = submitted(tenant_a, proof_text="I posted it on LinkedIn", at=timezone.now() - timezone.timedelta(days=2),
                      advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Older"))
    AssignmentFactory(ask=newer.ask, state=S.ACCEPTED, advocate=AdvocateFactory(workspace=tenant_a.workspace, name="NotYet"))
    client.force_login(tenant_a.manager)

    response = client.get(url("approval_queue", tenant_a))

    body = text(response)
    assert response.status_code == 200
    assert body.index("Older") < body.index("Newer") and "NotYet" not in body
    assert "I posted it on LinkedIn" in body and 'href="https://g2.example/review/2"' in response.content.decode()
    assert len(post_forms(response)) == 2  # one Approve per row
    assert older.pk


def test_queue_shows_an_empty_state(client, tenant_a):
    client.force_login(tenant_a.viewer)
    assert "Nothing waits for approval" in text(client.get(url("approval_queue", tenant_a)))


def test_viewer_sees_the_queue_and_the_assignment_without_forms_and_cannot_act(client, tenant_a):
    a = submitted(tenant_a)
    client.force_login(tenant_a.viewer)

    for name in ("approval_queue",):
        response = client.get(url(name, tenant_a))
        assert response.status_code == 200 and post_forms(response) == []
    response = client.get(url("assignment_detail", tenant_a, a.pk))
    assert response.status_code == 200 and post_forms(response) == [] and "Approve" not in text(response)
    for action in ("approve", "reject", "withdraw"):
        assert client.post(url("assignment_action", tenant_a, a.pk, action), {"reason": "x"}).status_code == 403
    assert reload(a).state == S.SUBMITTED


def test_the_queue_takes_the_same_queries_for_few_and_many_submissions(client, tenant_a):
    client.force_login(tenant_a.manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("approval_queue", tenant_a)).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        submitted(tenant_a, proof_url="https://example.com/p")
    few = count()
    for _ in range(15):
        submitted(tenant_a, proof_text="done", proof_file=ContentFile(b"x", name="proof.txt"))
    assert count() == few


# --- Approve, reject, withdraw -------------------------------------------------------------------


def test_approving_from_the_queue_credits_the_points_once(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    a = submitted(tenant_a, points=120)
    client.force_login(tenant_a.manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("assignment_action", tenant_a, a.pk, "approve"), {"next": "queue"})

    assert response.status_code == 302 and response["Location"] == url("approval_queue", tenant_a)
    assert reload(a).state == S.APPROVED and reload(a.advocate).points_balance == 120
    assert len(mailoutbox) == 1  # the thanks

    again = client.post(url("assignment_action", tenant_a, a.pk, "approve"), {"next": "queue"})

    assert again.status_code == 409
    assert "This assignment is approved, so it cannot be approved; approved is final." in text(again)
    assert reload(a.advocate).points_balance == 120


def test_an_illegal_transition_is_a_409_page_with_the_services_message(client, tenant_a):
    a = AssignmentFactory(ask=AskFactory(program=ProgramFactory(workspace=tenant_a.workspace)), state=S.OFFERED)
    client.force_login(tenant_a.manager)

    page = client.get(url("assignment_action", tenant_a, a.pk, "approve"))
    assert page.status_code == 200 and "This assignment is offered, so it cannot be approved" in text(page)
    assert post_forms(page) == []

    response = client.post(url("assignment_action", tenant_a, a.pk, "approve"))

    assert response.status_code == 409
    assert "This assignment is offered, so it cannot be approved (it can only be accepted or declined or expired or withdrawn)." in text(response)
    assert reload(a).state == S.OFFERED


def test_rejecting_needs_a_reason_which_the_advocate_reads(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    a = submitted(tenant_a)
    client.force_login(tenant_a.manager)
    form = client.get(url("assignment_action", tenant_a, a.pk, "reject") + "?next=queue")
    assert 'name="reason"' in form.content.decode() and 'name="next" value="queue"' in form.content.decode()

    empty = client.post(url("assignment_action", tenant_a, a.pk, "reject"), {"reason": "   "})
    assert empty.status_code == 400 and "Give a reason: the advocate sees it." in text(empty)
    assert reload(a).state == S.SUBMITTED

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url("assignment_action", tenant_a, a.pk, "reject"), {"reason": "The link shows no review", "next": "queue"})

    assert done.status_code == 302 and done["Location"] == url("approval_queue", tenant_a)
    a = reload(a)
    assert (a.state, a.reason, a.decided_by) == (S.REJECTED, "The link shows no review", tenant_a.manager)
    assert reload(a.advocate).points_balance == 0
    assert len(mailoutbox) == 1 and "The link shows no review" in mailoutbox[0].body


def test_withdrawing_an_offer_and_then_approving_it_is_refused(client, tenant_a):
    a = AssignmentFactory(ask=AskFactory(program=ProgramFactory(workspace=tenant_a.workspace)), state=S.ACCEPTED)
    client.force_login(tenant_a.manager)

    response = client.post(url("assignment_action", tenant_a, a.pk, "withdraw"), {"reason": ""})

    assert response.status_code == 302 and response["Location"] == url("assignment_detail", tenant_a, a.pk)
    assert (reload(a).state, reload(a).reason) == (S.WITHDRAWN, "Withdrawn by a manager")
    again = client.post(url("assignment_action", tenant_a, a.pk, "reject"), {"reason": "late"})
    assert again.status_code == 409 and "withdrawn is final" in text(again)


def test_an_unknown_action_is_404(client, tenant_a):
    a = submitted(tenant_a)
    client.force_login(tenant_a.manager)
    assert client.get(url("assignment_action", tenant_a, a.pk, "accept")).status_code == 404
    assert client.post(url("assignment_action", tenant_a, a.pk, "accept")).status_code == 404


# --- The assignment's page -----------------------------------------------------------------------


def test_assignment_page_shows_its_timeline_proof_and_the_allowed_actions(client, tenant_a):
    a = submitted(tenant_a, proof_text="Posted!", proof_file=ContentFile(b"%PDF-1.4", name="proof.pdf"))
    client.force_login(tenant_a.manager)

    response = client.get(url("assignment_detail", tenant_a, a.pk))

    body = text(response)
    assert re.search(r"Offered .*by rotation.* Accepted .* Proof submitted", body)
    assert "Posted!" in body and "Download the file" in body
    actions = re.findall(r'action="([^"]+)"', response.content.decode())
    assert url("assignment_action", tenant_a, a.pk, "approve") in actions
    assert url("assignment_action", tenant_a, a.pk, "reject") in response.content.decode()
    assert url("assignment_action", tenant_a, a.pk, "withdraw") not in response.content.decode()  # not from submitted
    assert "Record outcome" not in body


def test_the_timeline_ends_with_the_decision_and_its_reason(client, tenant_a):
    a = AssignmentFactory(ask=AskFactory(program=ProgramFactory(workspace=tenant_a.workspace)), state=S.DECLINED,
                          decided_at=timezone.now(), reason="Too busy this month")
    client.force_login(tenant_a.viewer)
    body = text(client.get(url("assignment_detail", tenant_a, a.pk)))
    assert re.search(r"Declined \d+ \w+ \d{4} \d\d:\d\d Too busy this month", body)
    assert "Withdraw" not in body


# --- The proof file --------------------------------------------------------------------------


def test_the_proof_file_downloads_for_the_workspaces_staff(client, tenant_a):
    a = submitted(tenant_a, proof_file=ContentFile(b"%PDF-1.4 proof", name="review.pdf"))
    client.force_login(tenant_a.viewer)

    response = client.get(url("assignment_proof", tenant_a, a.pk))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 proof"
    assert response["Content-Type"] == "application/pdf" and response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_another_workspaces_proof_file_is_404(client, tenant_a, tenant_b):
    theirs = submitted(tenant_b, proof_file=ContentFile(b"secret", name="secret.pdf"))
    client.force_login(tenant_a.owner)
    assert client.get(url("assignment_proof", tenant_a, theirs.pk)).status_code == 404
    assert client.get(url("assignment_proof", tenant_b, theirs.pk)).status_code == 404


def test_no_proof_file_or_a_missing_one_is_404(client, tenant_a):
    none = submitted(tenant_a)
    gone = submitted(tenant_a)
    with scopes_disabled():
        Assignment.objects.filter(pk=gone.pk).update(proof_file="proofs/2026/01/vanished.pdf")
    client.force_login(tenant_a.manager)
    assert client.get(url("assignment_proof", tenant_a, none.pk)).status_code == 404
    assert client.get(url("assignment_proof", tenant_a, gone.pk)).status_code == 404


def test_media_files_have_no_public_url(client, tenant_a):
    a = submitted(tenant_a, proof_file=ContentFile(b"secret", name="secret.pdf"))
    with scopes_disabled():
        name = Assignment.objects.get(pk=a.pk).proof_file.name
    assert client.get(f"/media/{name}").status_code == 404


# --- Outcomes ---------------------------------------------------------------------------------


def test_recording_a_deal_on_an_approved_assignment_tells_the_advocate(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    a = approved(tenant_a)
    client.force_login(tenant_a.manager)
    assert "Record outcome" in text(client.get(url("assignment_detail", tenant_a, a.pk)))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("outcome_create", tenant_a, a.pk), {
            "kind": "deal", "deal_name": "Acme renewal", "amount": "12000.50", "deal_status": "open", "note": "Thanks to you!"})

    assert response.status_code == 302
    with scopes_disabled():
        outcome = Outcome.objects.get(assignment=a)
    assert (outcome.deal_name, outcome.amount, outcome.deal_status, outcome.recorded_by) == (
        "Acme renewal", Decimal("12000.50"), "open", tenant_a.manager)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [a.advocate.email]
    body = text(client.get(response["Location"]))
    assert "Acme renewal" in body and "12,000.50" in body


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "deal", "deal_name": "", "amount": "10", "deal_status": "won"}, "Name the deal."),
    ({"kind": "deal", "deal_name": "Acme", "amount": "", "deal_status": "won"}, "Give the deal's amount: a number, 0 or more."),
    ({"kind": "deal", "deal_name": "Acme", "amount": "10", "deal_status": ""}, "Say whether the deal is open, won or lost."),
    ({"kind": "review", "url": ""}, "Give the published review's link"),
    ({"kind": "reach", "reach": ""}, "Give how many people it reached."),
    ({"kind": "reach", "reach": "-3"}, "greater than or equal to 1"),
    ({"kind": "astral"}, "Select a valid choice."),
    ({"kind": "deal", "deal_name": "Acme", "amount": "1e30", "deal_status": "won"}, "digits"),
])
def test_an_invalid_outcome_re_renders_the_assignment_page_400_with_the_message(client, tenant_a, data, message):
    a = approved(tenant_a)
    client.force_login(tenant_a.manager)

    response = client.post(url("outcome_create", tenant_a, a.pk), data)

    assert response.status_code == 400
    assert message in text(response)
    with scopes_disabled():
        assert not Outcome.objects.exists()


def test_an_outcome_on_an_assignment_not_approved_is_409(client, tenant_a):
    a = submitted(tenant_a)
    client.force_login(tenant_a.manager)
    response = client.post(url("outcome_create", tenant_a, a.pk), {"kind": "reach", "reach": "100"})
    assert response.status_code == 409
    assert "Outcomes are recorded on approved assignments; this one is submitted." in text(response)


def test_editing_an_outcome_marks_the_deal_won_and_tells_the_advocate(client, tenant_a, django_capture_on_commit_callbacks, mailoutbox):
    a = approved(tenant_a)
    with workspace_scope(tenant_a.workspace):
        outcome = record_outcome(assignment=a, actor=None, data={"kind": "deal", "deal_name": "Acme", "amount": Decimal("500"),
                                                                 "deal_status": "open"})
    client.force_login(tenant_a.manager)
    form = client.get(url("outcome_edit", tenant_a, outcome.pk))
    assert 'name="deal_name" value="Acme"' in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("outcome_edit", tenant_a, outcome.pk),
                               {"kind": "deal", "deal_name": "Acme", "amount": "500", "deal_status": "won"})

    assert response.status_code == 302
    assert reload(outcome).deal_status == "won"
    assert len(mailoutbox) == 1

    bad = client.post(url("outcome_edit", tenant_a, outcome.pk), {"kind": "review", "url": "ftp://nope"})
    assert bad.status_code == 400 and reload(outcome).kind == "deal"


def test_viewer_cannot_record_or_edit_outcomes(client, tenant_a):
    a = approved(tenant_a)
    with workspace_scope(tenant_a.workspace):
        outcome = record_outcome(assignment=a, actor=None, data={"kind": "reach", "reach": 10})
    client.force_login(tenant_a.viewer)
    page = client.get(url("assignment_detail", tenant_a, a.pk))
    assert page.status_code == 200 and "10 people reached" in text(page) and post_forms(page) == []
    assert client.post(url("outcome_create", tenant_a, a.pk), {"kind": "reach", "reach": "5"}).status_code == 403
    assert client.get(url("outcome_edit", tenant_a, outcome.pk)).status_code == 403
    assert client.post(url("outcome_edit", tenant_a, outcome.pk), {"kind": "reach", "reach": "5"}).status_code == 403
    assert reload(outcome).reach == 10


@pytest.mark.parametrize("path", [
    "approvals/?page=abc", "approvals/?page=-1", "assignments/99999999999999999999/", "assignments/99999999999999999999/proof/",
    "assignments/1/approve/", "outcomes/99999999999999999999/edit/",
])
def test_garbage_in_assignment_urls_is_never_a_500(client, tenant_a, path):
    client.force_login(tenant_a.owner)
    assert client.get(f"/w/{tenant_a.workspace.slug}/{path}").status_code in (200, 404)


def test_a_nul_character_in_a_reason_is_a_400_not_a_500(client, tenant_a):
    a = submitted(tenant_a)
    client.force_login(tenant_a.manager)
    response = client.post(url("assignment_action", tenant_a, a.pk, "reject"), {"reason": "bad\x00proof"})
    assert response.status_code == 400 and reload(a).state == S.SUBMITTED


def test_the_queue_lists_recent_approvals_with_a_way_to_record_their_outcome(client, tenant_a):
    done = approved(tenant_a)
    client.force_login(tenant_a.manager)
    body = client.get(url("approval_queue", tenant_a)).content.decode()
    assert "Recently approved" in body
    assert f'{url("assignment_detail", tenant_a, done.pk)}#outcome' in body
