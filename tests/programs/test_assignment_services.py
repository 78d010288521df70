"""The assignment's life through its services (programs/services.py): every transition of
programs/states.TRANSITIONS allowed or refused with its message, approval credits the
points once, a filled ask closes and withdraws its offers, rejection needs a reason, proof
is validated, an offer past its time expires when answered, outcomes are validated per kind
and recorded only on approved work."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from advocacy.errors import InvalidTransition, ValidationFailed
from advocacy.models import Advocate
from advocacy.scoping import scopes_disabled, workspace_scope
from programs import states
from programs.models import (
    Ask,
    AskKind,
    AskStatus,
    Assignment,
    AssignmentState,
    DealStatus,
    Outcome,
    OutcomeKind,
)
from programs.services import (
    MAX_PROOF_BYTES,
    accept_assignment,
    approve_assignment,
    decline_assignment,
    expire_assignments,
    record_outcome,
    reject_assignment,
    submit_proof,
    update_outcome,
    withdraw_assignment,
)
from rewards.models import LedgerEntry
from tests.factories import AdvocateFactory, AskFactory, AssignmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db
S = AssignmentState

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ws(tenant_a):
    with workspace_scope(tenant_a.workspace):
        yield tenant_a


def make(tenant, state=S.OFFERED, advocate=None, ask=None, **ask_fields) -> Assignment:
    ask = ask or AskFactory(program=ProgramFactory(workspace=tenant.workspace), **ask_fields)
    return AssignmentFactory(ask=ask, advocate=advocate or AdvocateFactory(workspace=tenant.workspace), state=state)


def state_of(a) -> str:
    with scopes_disabled():
        return Assignment.objects.get(pk=a.pk).state


# Each target state, reached through its service (expiry is the job's, tested below).
SERVICES = {
    S.ACCEPTED: lambda a, t: accept_assignment(assignment=a, actor=t.advocate_user),
    S.DECLINED: lambda a, t: decline_assignment(assignment=a, actor=t.advocate_user, reason="busy"),
    S.SUBMITTED: lambda a, t: submit_proof(assignment=a, actor=t.advocate_user, url="https://example.com/proof"),
    S.APPROVED: lambda a, t: approve_assignment(assignment=a, actor=t.manager),
    S.REJECTED: lambda a, t: reject_assignment(assignment=a, actor=t.manager, reason="The link does not open."),
    S.WITHDRAWN: lambda a, t: withdraw_assignment(assignment=a, actor=t.manager),
}
PAIRS = [(source, target) for source in S.values for target in SERVICES]


@pytest.mark.parametrize("source, target", PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_every_transition_is_allowed_or_refused_exactly_as_the_table_says(ws, source, target):
    a = make(ws, source)

    if target in states.TRANSITIONS[source]:
        SERVICES[target](a, ws)
        assert state_of(a) == target
    else:
        with pytest.raises(InvalidTransition) as err:
            SERVICES[target](a, ws)
        assert err.value.status == 409
        assert err.value.message == states.refusal(source, target)
        assert state_of(a) == source


def test_the_refusal_says_what_is_possible_instead():
    assert states.refusal(S.OFFERED, S.SUBMITTED) == (
        "This assignment is offered, so it cannot be submitted (it can only be accepted or declined or expired or withdrawn).")
    assert states.refusal(S.APPROVED, S.REJECTED) == "This assignment is approved, so it cannot be rejected; approved is final."


def test_every_final_state_has_no_way_out_and_every_state_is_in_the_table():
    assert set(states.TRANSITIONS) == set(S.values)
    assert set(states.FINAL) == {S.APPROVED, S.DECLINED, S.EXPIRED, S.REJECTED, S.WITHDRAWN}


def test_an_advocate_acting_on_someone_elses_assignment_is_refused(ws):
    a = make(ws)
    stranger = AdvocateFactory(workspace=ws.workspace)
    for act in (lambda: accept_assignment(assignment=a, actor=None, advocate=stranger),
                lambda: decline_assignment(assignment=a, actor=None, advocate=stranger),
                lambda: submit_proof(assignment=a, actor=None, advocate=stranger, text="mine")):
        with pytest.raises(ValidationFailed, match="not your assignment"):
            act()
    assert state_of(a) == S.OFFERED


# --- Expiry ---------------------------------------------------------------------------------


def test_the_expiry_job_expires_untaken_offers_after_7_days_and_work_past_its_deadline(ws):
    now = timezone.now()
    old_offer = make(ws)
    fresh_offer = make(ws)
    late = make(ws, S.ACCEPTED, deadline=now + timedelta(days=1))
    submitted = make(ws, S.SUBMITTED, ask=late.ask)
    Assignment.objects.filter(pk=old_offer.pk).update(offer_expires_at=now - timedelta(seconds=1))

    with time_machine.travel(now + timedelta(days=1, seconds=1)):
        expired = expire_assignments(workspace=ws.workspace)

    assert expired == 2
    assert [state_of(a) for a in (old_offer, fresh_offer, late, submitted)] == [S.EXPIRED, S.OFFERED, S.EXPIRED, S.SUBMITTED]
    assert Assignment.objects.get(pk=old_offer.pk).reason == "The offer was not taken within 7 days."
    assert Assignment.objects.get(pk=late.pk).reason == "The ask's deadline passed."
    assert Ask.objects.get(pk=late.ask_id).status == AskStatus.CLOSED
    with time_machine.travel(now + timedelta(days=1, seconds=2)):
        assert expire_assignments(workspace=ws.workspace) == 0  # a rerun finds nothing


def test_answering_an_offer_past_its_week_is_refused_as_expired_and_it_stays_expired(ws):
    a = make(ws)
    with time_machine.travel(a.offer_expires_at + timedelta(seconds=1)), pytest.raises(InvalidTransition) as err:
        accept_assignment(assignment=a, actor=None)
    assert err.value.code == "expired"
    assert err.value.message == "This offer has expired: the offer was not taken within 7 days."
    fresh = Assignment.objects.get(pk=a.pk)
    assert fresh.state == S.EXPIRED and fresh.decided_at is not None


def test_proof_for_work_past_its_deadline_is_refused_as_expired(ws):
    a = make(ws, S.ACCEPTED, deadline=timezone.now() + timedelta(hours=1))
    with time_machine.travel(timezone.now() + timedelta(hours=2)), \
            pytest.raises(InvalidTransition, match=r"This offer has expired: the ask's deadline passed\."):
        submit_proof(assignment=a, actor=None, text="done")
    assert state_of(a) == S.EXPIRED


def test_accepting_just_inside_the_week_works(ws):
    a = make(ws)
    with time_machine.travel(a.offer_expires_at - timedelta(seconds=1)):
        accept_assignment(assignment=a, actor=None)
    assert state_of(a) == S.ACCEPTED


# --- Approval and points --------------------------------------------------------------------


def test_approval_credits_the_asks_points_once_under_the_assignments_key_and_program(ws):
    a = make(ws, S.SUBMITTED, points=150, title="Write a case study")

    approve_assignment(assignment=a, actor=ws.manager)
    with pytest.raises(InvalidTransition):
        approve_assignment(assignment=a, actor=ws.manager)

    [entry] = LedgerEntry.objects.filter(advocate=a.advocate)
    assert (entry.amount, entry.idempotency_key, entry.program_id) == (150, f"assignment:{a.pk}", a.program_id)
    assert "Write a case study" in entry.reason
    assert Advocate.objects.get(pk=a.advocate_id).points_balance == 150
    fresh = Assignment.objects.get(pk=a.pk)
    assert fresh.points_entry_id == entry.pk and fresh.decided_at is not None and fresh.decided_by == ws.manager


def test_an_ask_worth_no_points_is_approved_without_a_ledger_entry(ws):
    a = make(ws, S.SUBMITTED, points=0)
    approve_assignment(assignment=a, actor=ws.manager)
    assert state_of(a) == S.APPROVED and not LedgerEntry.objects.exists()


def test_proof_for_an_ask_without_approval_is_approved_and_credited_at_once(ws):
    a = make(ws, S.ACCEPTED, needs_approval=False, points=60)
    fresh = submit_proof(assignment=a, actor=None, text="Posted it")
    assert fresh.state == S.APPROVED
    assert Advocate.objects.get(pk=a.advocate_id).points_balance == 60


def test_a_filled_ask_closes_and_withdraws_its_outstanding_offers_but_not_submitted_proof(ws):
    ask = AskFactory(program=ProgramFactory(workspace=ws.workspace), capacity=2)
    first, second = make(ws, S.SUBMITTED, ask=ask), make(ws, S.SUBMITTED, ask=ask)
    waiting = make(ws, S.SUBMITTED, ask=ask)
    offer, accepted, declined = make(ws, S.OFFERED, ask=ask), make(ws, S.ACCEPTED, ask=ask), make(ws, S.DECLINED, ask=ask)

    approve_assignment(assignment=first, actor=ws.manager)
    assert Ask.objects.get(pk=ask.pk).status == AskStatus.OPEN and state_of(offer) == S.OFFERED  # 1 of 2
    approve_assignment(assignment=second, actor=ws.manager)

    closed = Ask.objects.get(pk=ask.pk)
    assert closed.status == AskStatus.CLOSED and "filled: 2 of 2" in closed.closed_reason
    assert [state_of(a) for a in (offer, accepted, declined, waiting)] == [S.WITHDRAWN, S.WITHDRAWN, S.DECLINED, S.SUBMITTED]
    assert "The ask was closed: filled" in Assignment.objects.get(pk=offer.pk).reason


# --- Rejection ------------------------------------------------------------------------------


@pytest.mark.parametrize("reason, message", [("", "Give a reason"), ("   ", "Give a reason"), ("x" * 301, "at most 300")])
def test_a_rejection_needs_a_reason_of_at_most_300_characters(ws, reason, message):
    a = make(ws, S.SUBMITTED)
    with pytest.raises(ValidationFailed, match=message):
        reject_assignment(assignment=a, actor=ws.manager, reason=reason)
    assert state_of(a) == S.SUBMITTED


def test_a_rejection_keeps_its_reason_and_credits_nothing(ws):
    a = make(ws, S.SUBMITTED, points=100)
    reject_assignment(assignment=a, actor=ws.manager, reason="  The   link does not open. ")
    fresh = Assignment.objects.get(pk=a.pk)
    assert (fresh.state, fresh.reason) == (S.REJECTED, "The link does not open.")
    assert not LedgerEntry.objects.exists()


# --- Proof ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({}, "Add a link, a few words or a file"),
    ({"url": "   ", "text": "  "}, "Add a link, a few words or a file"),
    ({"url": "ftp://example.com/x"}, "must start with http:// or https://"),
    ({"url": "javascript:alert(1)"}, "must start with http:// or https://"),
    ({"url": "https://example.com/" + "x" * 500}, "at most 500 characters"),
    ({"text": "x" * 5001}, "at most 5,000"),
    ({"upload": SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")}, "Upload a "),
    ({"upload": SimpleUploadedFile("noext", b"x")}, "Upload a "),
    ({"upload": SimpleUploadedFile("fake.png", b"%PDF", content_type="application/pdf")}, "does not match its name"),
])
def test_bad_proof_is_refused_with_a_message_and_nothing_changes(ws, _media, kwargs, message):
    a = make(ws, S.ACCEPTED)
    with pytest.raises(ValidationFailed, match=message):
        submit_proof(assignment=a, actor=None, **kwargs)
    fresh = Assignment.objects.get(pk=a.pk)
    assert fresh.state == S.ACCEPTED and not fresh.proof_file and not fresh.proof_url
    assert not _media.exists()


def test_a_file_over_the_limit_is_refused_and_one_at_the_limit_is_taken(ws, _media):
    too_big = SimpleUploadedFile("big.png", b"\0" * (MAX_PROOF_BYTES + 1), content_type="image/png")
    a = make(ws, S.ACCEPTED)
    with pytest.raises(ValidationFailed, match="the limit is 10 MB"):
        submit_proof(assignment=a, actor=None, upload=too_big)
    assert not _media.exists()

    at_limit = SimpleUploadedFile("ok.png", b"\0" * MAX_PROOF_BYTES, content_type="image/png")
    submit_proof(assignment=a, actor=None, upload=at_limit)
    assert state_of(a) == S.SUBMITTED


def test_a_png_proof_is_stored_and_linked_to_the_assignment(ws, _media):
    a = make(ws, S.ACCEPTED)
    submit_proof(assignment=a, actor=None, upload=SimpleUploadedFile("Shot 1.PNG", PNG, content_type="image/png"),
                 text="Here it is")
    fresh = Assignment.objects.get(pk=a.pk)
    assert fresh.state == S.SUBMITTED and fresh.proof_text == "Here it is"
    assert (_media / fresh.proof_file.name).read_bytes() == PNG


# --- Outcomes -------------------------------------------------------------------------------

DEAL = {"kind": OutcomeKind.DEAL, "deal_name": "Acme", "amount": Decimal("45000"), "deal_status": DealStatus.WON}


@pytest.mark.parametrize("data, field", [
    ({"kind": "rumour"}, "kind"),
    ({**DEAL, "deal_name": " "}, "deal_name"),
    ({**DEAL, "amount": None}, "amount"),
    ({**DEAL, "amount": Decimal("-1")}, "amount"),
    ({**DEAL, "amount": Decimal(10) ** 12}, "amount"),
    ({**DEAL, "deal_status": "maybe"}, "deal_status"),
    ({"kind": OutcomeKind.REVIEW, "url": ""}, "url"),
    ({"kind": OutcomeKind.REVIEW, "url": "g2.com/review"}, "url"),
    ({"kind": OutcomeKind.REACH}, "reach"),
    ({"kind": OutcomeKind.REACH, "reach": 0}, "reach"),
    ({"kind": OutcomeKind.REACH, "reach": True}, "reach"),
])
def test_an_outcome_is_validated_for_its_kind(ws, data, field):
    a = make(ws, S.APPROVED)
    with pytest.raises(ValidationFailed) as err:
        record_outcome(assignment=a, actor=ws.manager, data=data)
    assert field in err.value.fields
    assert not Outcome.objects.exists()


def test_a_non_numeric_deal_amount_is_a_validation_error(ws):
    a = make(ws, S.APPROVED)
    with pytest.raises(ValidationFailed):
        record_outcome(assignment=a, actor=ws.manager, data={**DEAL, "amount": "lots"})


@pytest.mark.parametrize("data, kept", [
    ({**DEAL, "url": "https://x.example", "reach": 5}, {"deal_name": "Acme", "amount": Decimal("45000"), "url": "", "reach": None}),
    ({"kind": OutcomeKind.REVIEW, "url": "https://g2.com/r/1", "deal_name": "x", "reach": 5},
     {"url": "https://g2.com/r/1", "deal_name": "", "amount": None, "reach": None}),
    ({"kind": OutcomeKind.REACH, "reach": 1200, "deal_name": "x"}, {"reach": 1200, "deal_name": "", "deal_status": ""}),
])
def test_a_valid_outcome_keeps_only_the_fields_of_its_kind(ws, data, kept):
    a = make(ws, S.APPROVED)
    outcome = record_outcome(assignment=a, actor=ws.manager, data=data)
    for field, value in kept.items():
        assert getattr(outcome, field) == value, field
    assert (outcome.advocate_id, outcome.program_id) == (a.advocate_id, a.program_id)


@pytest.mark.parametrize("state", [s for s in S.values if s != S.APPROVED])
def test_an_outcome_is_recorded_only_on_approved_work(ws, state):
    a = make(ws, state)
    with pytest.raises(InvalidTransition, match="Outcomes are recorded on approved assignments"):
        record_outcome(assignment=a, actor=ws.manager, data=DEAL)
    assert not Outcome.objects.exists()


def test_updating_an_outcome_revalidates_it(ws):
    a = make(ws, S.APPROVED, kind=AskKind.REFERENCE_CALL)
    outcome = record_outcome(assignment=a, actor=ws.manager, data={**DEAL, "deal_status": DealStatus.OPEN})
    with pytest.raises(ValidationFailed):
        update_outcome(outcome=outcome, actor=ws.manager, data={"amount": Decimal("-5")})
    updated = update_outcome(outcome=outcome, actor=ws.manager, data={"deal_status": DealStatus.WON})
    assert Outcome.objects.get(pk=updated.pk).deal_status == DealStatus.WON
