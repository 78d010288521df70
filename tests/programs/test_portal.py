"""The advocate's side of the journey in the portal (offers, accept, decline, proof, status,
history, onboarding, impact, home) and the public invitation page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advocacy.models import Advocate, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from programs.invitations import invite_advocate
from programs.models import (
    AskKind,
    Assignment,
    AssignmentState,
    DealStatus,
    Enrollment,
    Invitation,
    OutcomeKind,
)
from programs.services import MAX_PROOF_BYTES, approve_assignment, record_outcome
from tests.factories import (
    AdvocateFactory,
    AskFactory,
    AssignmentFactory,
    ProgramFactory,
    UserFactory,
)
from tests.isolation.helpers import assert_unchanged, db_fingerprint

pytestmark = pytest.mark.django_db

S = AssignmentState

# The smallest valid PNG (1x1, transparent).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def assignment(tenant, state=S.OFFERED, advocate=None, **ask_fields):
    ask = AskFactory(program=ProgramFactory(workspace=tenant.workspace), **ask_fields)
    return AssignmentFactory(ask=ask, advocate=advocate or tenant.advocate, state=state)


def state_of(a) -> str:
    with scopes_disabled():
        return Assignment.objects.get(pk=a.pk).state


def url(name, tenant, *args):
    return reverse(name, args=[tenant.workspace.slug, *args])


@pytest.fixture
def advocate_client(client, tenant_a):
    client.force_login(tenant_a.advocate_user)
    return client


# --- The asks page ---------------------------------------------------------------------


def test_asks_page_shows_offers_work_in_progress_review_and_history_of_the_advocate_only(advocate_client, tenant_a, tenant_b):
    deadline = timezone.now() + timedelta(days=20)
    offer = assignment(tenant_a, title="Review us on G2", points=80, kind=AskKind.REVIEW, deadline=deadline,
                       instructions="Two sentences are plenty.")
    accepted = assignment(tenant_a, S.ACCEPTED, title="Answer a community question")
    assignment(tenant_a, S.SUBMITTED, title="Share our launch post")
    approved = assignment(tenant_a, S.APPROVED, title="Beta feedback round", points=120)
    with scopes_disabled():
        Assignment.objects.filter(pk__in=[approved.pk]).update(decided_at=timezone.now())
    rejected = assignment(tenant_a, S.REJECTED, title="Testimonial video")
    declined = assignment(tenant_a, S.DECLINED, title="Speak at our meetup")
    with scopes_disabled():
        Assignment.objects.filter(pk=rejected.pk).update(reason="The link does not open.", decided_at=timezone.now())
        Assignment.objects.filter(pk=declined.pk).update(reason="Too busy this month", decided_at=timezone.now())
    assignment(tenant_a, advocate=AdvocateFactory(workspace=tenant_a.workspace), title="Someone else's offer")
    assignment(tenant_b, title="Offer in another workspace")

    response = advocate_client.get(url("portal_asks", tenant_a))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Review us on G2" in html and "80</strong> points" in html and "Small effort" in html
    assert f"Due {deadline:%-d %b %Y}" in html
    assert f"Answer by {offer.offer_expires_at:%-d %b %Y}" in html
    assert "Two sentences are plenty." in html
    assert url("portal_assignment_accept", tenant_a, offer.pk) in html and url("portal_assignment_decline", tenant_a, offer.pk) in html
    assert url("portal_assignment_proof", tenant_a, accepted.pk) in html
    assert "Share our launch post" in html and "reviewing your proof" in html
    assert "Beta feedback round" in html and "+120 points" in html and "Thank you!" in html
    assert "Why: The link does not open." in html
    assert "Too busy this month" in html
    assert "Someone else&#x27;s offer" not in html and "Someone else's offer" not in html
    assert "Offer in another workspace" not in html
    assert url("portal_asks", tenant_a) in html and url("portal_impact", tenant_a) in html  # navigation


def test_asks_page_queries_do_not_grow_with_the_assignments(advocate_client, tenant_a):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert advocate_client.get(url("portal_asks", tenant_a)).status_code == 200
        return len(ctx.captured_queries)

    for state in (S.OFFERED, S.ACCEPTED, S.SUBMITTED, S.APPROVED, S.DECLINED):
        assignment(tenant_a, state=state)
    few = count()
    for state in (S.OFFERED, S.ACCEPTED, S.SUBMITTED, S.APPROVED, S.DECLINED) * 4:
        assignment(tenant_a, state=state)
    assert count() == few


def test_an_offer_past_its_week_shows_as_expired_without_buttons(advocate_client, tenant_a):
    offer = assignment(tenant_a, title="Old offer")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        html = advocate_client.get(url("portal_asks", tenant_a)).content.decode()
    assert "Old offer" in html and "Expired" in html
    assert url("portal_assignment_accept", tenant_a, offer.pk) not in html


def test_anonymous_visitors_are_sent_to_the_portal_sign_in(client, tenant_a):
    a = assignment(tenant_a)
    for name, args in [("portal_asks", ()), ("portal_impact", ()), ("portal_onboarding", ()), ("portal_assignment", (a.pk,)),
                       ("portal_assignment_proof", (a.pk,)), ("portal_assignment_decline", (a.pk,))]:
        response = client.get(url(name, tenant_a, *args))
        assert response.status_code == 302 and response["Location"].startswith(url("portal_login", tenant_a)), name
    response = client.post(url("portal_assignment_accept", tenant_a, a.pk))
    assert response.status_code == 302 and state_of(a) == S.OFFERED


@pytest.mark.parametrize("whose", ["another advocate", "another workspace"])
def test_an_assignment_that_is_not_the_advocates_own_is_404_and_untouched(advocate_client, tenant_a, tenant_b, whose):
    if whose == "another advocate":
        other = assignment(tenant_a, advocate=AdvocateFactory(workspace=tenant_a.workspace))
    else:
        other = assignment(tenant_b, advocate=tenant_b.advocate)
    before = db_fingerprint()
    for name in ("portal_assignment", "portal_assignment_decline", "portal_assignment_proof"):
        assert advocate_client.get(url(name, tenant_a, other.pk)).status_code == 404, name
    for name in ("portal_assignment_accept", "portal_assignment_decline", "portal_assignment_proof"):
        response = advocate_client.post(url(name, tenant_a, other.pk), {"reason": "x", "proof_url": "https://example.com"})
        assert response.status_code == 404, name
    assert_unchanged(before, "acting on someone else's assignment")


# --- Accept, decline, submit ------------------------------------------------------------


def test_accepting_an_offer_takes_it_on_and_leads_to_the_proof_form(advocate_client, tenant_a):
    offer = assignment(tenant_a, title="Review us")

    response = advocate_client.post(url("portal_assignment_accept", tenant_a, offer.pk))

    assert response.status_code == 302 and response["Location"] == url("portal_assignment", tenant_a, offer.pk)
    assert state_of(offer) == S.ACCEPTED
    html = advocate_client.get(response["Location"]).content.decode()
    assert "Thank you for taking on “Review us”" in html
    assert url("portal_assignment_proof", tenant_a, offer.pk) in html


def test_declining_asks_for_an_optional_reason_first_and_get_changes_nothing(advocate_client, tenant_a):
    offer = assignment(tenant_a, title="Case study")
    before = db_fingerprint()

    page = advocate_client.get(url("portal_assignment_decline", tenant_a, offer.pk))

    assert page.status_code == 200 and 'name="reason"' in page.content.decode() and "(optional)" in page.content.decode()
    assert_unchanged(before, "opening the decline page")
    response = advocate_client.post(url("portal_assignment_decline", tenant_a, offer.pk), {"reason": "  Not   this quarter "})
    assert response.status_code == 302 and response["Location"] == url("portal_asks", tenant_a)
    with scopes_disabled():
        offer.refresh_from_db()
    assert (offer.state, offer.reason) == (S.DECLINED, "Not this quarter")


def test_declining_without_a_reason_is_fine(advocate_client, tenant_a):
    offer = assignment(tenant_a)
    assert advocate_client.post(url("portal_assignment_decline", tenant_a, offer.pk)).status_code == 302
    assert state_of(offer) == S.DECLINED


def test_a_decline_reason_over_300_characters_is_400_with_the_message(advocate_client, tenant_a):
    offer = assignment(tenant_a)
    response = advocate_client.post(url("portal_assignment_decline", tenant_a, offer.pk), {"reason": "x" * 301})
    assert response.status_code == 400
    assert "at most 300 characters" in response.content.decode()
    assert state_of(offer) == S.OFFERED


def test_the_proof_form_is_multipart_and_states_the_limits(advocate_client, tenant_a):
    work = assignment(tenant_a, S.ACCEPTED)
    html = advocate_client.get(url("portal_assignment_proof", tenant_a, work.pk)).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert f"at most {MAX_PROOF_BYTES // 1024 // 1024} MB" in html
    assert "PNG" in html and "PDF" in html and 'accept=".gif,.jpeg,.jpg,.pdf,.png,.txt,.webp"' in html


@pytest.mark.parametrize("proof", [
    {"proof_url": "https://www.g2.com/products/acme/reviews/123"},
    {"proof_text": "I answered the question on the forum about SSO."},
])
def test_submitting_a_link_or_a_text_hands_the_proof_in(advocate_client, tenant_a, proof):
    work = assignment(tenant_a, S.ACCEPTED)

    response = advocate_client.post(url("portal_assignment_proof", tenant_a, work.pk), proof)

    assert response.status_code == 302 and response["Location"] == url("portal_assignment", tenant_a, work.pk)
    with scopes_disabled():
        work.refresh_from_db()
    assert work.state == S.SUBMITTED and (work.proof_url, work.proof_text) == (proof.get("proof_url", ""), proof.get("proof_text", ""))
    html = advocate_client.get(response["Location"]).content.decode()
    assert "Your proof is with the program team" in html and next(iter(proof.values())) in html


def test_submitting_a_small_png_stores_it_with_the_assignment(advocate_client, tenant_a, _media):
    work = assignment(tenant_a, S.ACCEPTED)
    upload = SimpleUploadedFile("screenshot.png", PNG, content_type="image/png")

    response = advocate_client.post(url("portal_assignment_proof", tenant_a, work.pk), {"proof_file": upload})

    assert response.status_code == 302
    with scopes_disabled():
        work.refresh_from_db()
    assert work.state == S.SUBMITTED and work.proof_file.name.endswith(".png")
    assert (_media / work.proof_file.name).read_bytes() == PNG
    assert "screenshot" in advocate_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("upload, message", [
    (lambda: SimpleUploadedFile("big.png", b"\0" * (MAX_PROOF_BYTES + 1), content_type="image/png"), "the limit is 10 MB"),
    (lambda: SimpleUploadedFile("tool.exe", b"MZ\x90\x00", content_type="application/octet-stream"), "Upload a "),
    (lambda: SimpleUploadedFile("fake.png", b"%PDF-1.4", content_type="application/pdf"), "does not match its name"),
])
def test_an_oversized_or_wrong_type_file_is_400_with_the_message_and_nothing_is_saved(advocate_client, tenant_a, _media, upload, message):
    work = assignment(tenant_a, S.ACCEPTED)

    response = advocate_client.post(url("portal_assignment_proof", tenant_a, work.pk), {"proof_file": upload()})

    assert response.status_code == 400
    assert message in response.content.decode()
    with scopes_disabled():
        work.refresh_from_db()
    assert work.state == S.ACCEPTED and not work.proof_file
    assert not _media.exists() or not any(p.is_file() for p in _media.rglob("*"))


@pytest.mark.parametrize("proof, message", [
    ({}, "Add a link, a few words or a file"),
    ({"proof_url": "javascript:alert(1)"}, "must start with http:// or https://"),
    ({"proof_text": "x" * 5001}, "at most 5,000"),
])
def test_missing_or_bad_proof_is_400_with_the_message(advocate_client, tenant_a, proof, message):
    work = assignment(tenant_a, S.ACCEPTED)
    response = advocate_client.post(url("portal_assignment_proof", tenant_a, work.pk), proof)
    assert response.status_code == 400 and message in response.content.decode()
    assert state_of(work) == S.ACCEPTED


def test_an_ask_without_approval_is_approved_and_credited_on_submission(advocate_client, tenant_a):
    work = assignment(tenant_a, S.ACCEPTED, needs_approval=False, points=75)
    response = advocate_client.post(url("portal_assignment_proof", tenant_a, work.pk), {"proof_text": "Done"})
    assert response.status_code == 302 and state_of(work) == S.APPROVED
    assert "75 points are yours" in advocate_client.get(response["Location"]).content.decode()
    with scopes_disabled():
        assert Advocate.objects.get(pk=tenant_a.advocate.pk).points_balance == 75


@pytest.mark.parametrize("state, action, data, message", [
    (S.APPROVED, "portal_assignment_accept", {}, "This assignment is approved, so it cannot be accepted; approved is final."),
    (S.ACCEPTED, "portal_assignment_accept", {}, "This assignment is accepted, so it cannot be accepted"),
    (S.ACCEPTED, "portal_assignment_decline", {}, "This assignment is accepted, so it cannot be declined"),
    (S.DECLINED, "portal_assignment_decline", {}, "This assignment is declined, so it cannot be declined; declined is final."),
    (S.OFFERED, "portal_assignment_proof", {"proof_text": "done"}, "This assignment is offered, so it cannot be submitted"),
    (S.SUBMITTED, "portal_assignment_proof", {"proof_text": "again"}, "This assignment is submitted, so it cannot be submitted"),
    (S.WITHDRAWN, "portal_assignment_accept", {}, "This assignment is withdrawn, so it cannot be accepted; withdrawn is final."),
])
def test_an_illegal_transition_shows_the_services_message_with_409(advocate_client, tenant_a, state, action, data, message):
    a = assignment(tenant_a, state)

    response = advocate_client.post(url(action, tenant_a, a.pk), data)

    assert response.status_code == 409
    assert message in response.content.decode()
    assert state_of(a) == state


def test_accepting_an_offer_past_its_week_is_refused_as_expired_and_it_stays_expired(advocate_client, tenant_a):
    offer = assignment(tenant_a)
    with time_machine.travel(offer.offer_expires_at + timedelta(seconds=1)):
        response = advocate_client.post(url("portal_assignment_accept", tenant_a, offer.pk))
    assert response.status_code == 409
    assert "This offer has expired: the offer was not taken within 7 days." in response.content.decode()
    assert state_of(offer) == S.EXPIRED


def test_accepting_a_moment_before_the_week_ends_works(advocate_client, tenant_a):
    offer = assignment(tenant_a)
    with time_machine.travel(offer.offer_expires_at - timedelta(seconds=1)):
        assert advocate_client.post(url("portal_assignment_accept", tenant_a, offer.pk)).status_code == 302
    assert state_of(offer) == S.ACCEPTED


def test_every_assignment_page_of_the_advocate_opens_whatever_its_state(advocate_client, tenant_a):
    for state in S.values:
        a = assignment(tenant_a, state)
        for name in ("portal_assignment", "portal_assignment_decline", "portal_assignment_proof"):
            assert advocate_client.get(url(name, tenant_a, a.pk)).status_code == 200, (state, name)


# --- Onboarding --------------------------------------------------------------------------


def test_onboarding_lists_the_steps_and_needs_every_one(advocate_client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Champions",
                             onboarding_steps=["Accept the program terms", "Add a profile photo"])
    with scopes_disabled():
        enrollment = Enrollment.objects.create(workspace=tenant_a.workspace, program=program, advocate=tenant_a.advocate)
    onboarding = url("portal_onboarding", tenant_a)

    html = advocate_client.get(onboarding).content.decode()
    assert "Champions" in html and 'value="Accept the program terms"' in html and 'value="Add a profile photo"' in html
    assert onboarding in advocate_client.get(url("portal_asks", tenant_a)).content.decode()  # the asks page points here

    partial = advocate_client.post(onboarding, {"program": program.pk, "steps": ["Accept the program terms"]})
    assert partial.status_code == 400 and "Confirm every step to continue: Add a profile photo." in partial.content.decode()

    done = advocate_client.post(onboarding, {"program": program.pk, "steps": ["Accept the program terms", "Add a profile photo"]})
    assert done.status_code == 302 and done["Location"] == url("portal_asks", tenant_a)
    with scopes_disabled():
        enrollment.refresh_from_db()
    assert enrollment.onboarded_at is not None
    assert "You are all set" in advocate_client.get(onboarding).content.decode()


def test_onboarding_of_another_workspaces_program_or_a_program_without_steps_is_404(advocate_client, tenant_a, tenant_b):
    theirs = ProgramFactory(workspace=tenant_b.workspace, onboarding_steps=["Terms"])
    no_steps = ProgramFactory(workspace=tenant_a.workspace)
    for program_id in (theirs.pk, no_steps.pk, "", "x"):
        response = advocate_client.post(url("portal_onboarding", tenant_a), {"program": program_id, "steps": ["Terms"]})
        assert response.status_code == 404
    with scopes_disabled():
        assert not Enrollment.objects.exists()


def test_an_active_advocate_never_invited_to_a_program_with_steps_can_onboard_into_it(advocate_client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, onboarding_steps=["Terms"])
    response = advocate_client.post(url("portal_onboarding", tenant_a), {"program": program.pk, "steps": ["Terms"]})
    assert response.status_code == 302
    with scopes_disabled():
        assert Enrollment.objects.get(program=program, advocate=tenant_a.advocate).onboarded_at is not None


# --- Impact ------------------------------------------------------------------------------


def approved_with_outcome(tenant, ask_kind=AskKind.REFERENCE_CALL, advocate=None, **outcome):
    a = assignment(tenant, S.SUBMITTED, kind=ask_kind, advocate=advocate, points=300, title=f"A {ask_kind}")
    with workspace_scope(tenant.workspace):
        approve_assignment(assignment=a, actor=tenant.manager)
        if outcome:
            record_outcome(assignment=a, actor=tenant.manager, data=outcome)
    return a


def test_the_impact_feed_tells_what_the_advocates_help_achieved_newest_first(advocate_client, tenant_a):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        approved_with_outcome(tenant_a, AskKind.REVIEW, kind=OutcomeKind.REVIEW, url="https://g2.com/r/1")
    approved_with_outcome(tenant_a, AskKind.REFERENCE_CALL, kind=OutcomeKind.DEAL, deal_name="Acme", amount=Decimal("45000"),
                          deal_status=DealStatus.WON, note="They signed for three years.")
    approved_with_outcome(tenant_a, AskKind.CASE_STUDY, kind=OutcomeKind.REACH, reach=12500)
    approved_with_outcome(tenant_a, AskKind.REVIEW, advocate=AdvocateFactory(workspace=tenant_a.workspace),
                          kind=OutcomeKind.DEAL, deal_name="Someone else's deal", amount=1, deal_status=DealStatus.WON)

    html = advocate_client.get(url("portal_impact", tenant_a)).content.decode()

    assert "Your reference call helped close a deal: Acme, 45,000.00 USD, won" in html
    assert "They signed for three years." in html
    assert "Your case study reached 12,500 people" in html
    assert "Your review led to a published review: https://g2.com/r/1" in html
    assert "+300 points" in html and "Thank you for" in html
    assert "Someone else" not in html
    assert html.index("Your case study reached") < html.index("Acme") < html.index("published review")


def test_the_impact_feed_queries_do_not_grow_with_the_outcomes(advocate_client, tenant_a):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert advocate_client.get(url("portal_impact", tenant_a)).status_code == 200
        return len(ctx.captured_queries)

    approved_with_outcome(tenant_a, kind=OutcomeKind.REACH, reach=10)
    few = count()
    for n in range(5):
        approved_with_outcome(tenant_a, kind=OutcomeKind.REACH, reach=10 + n)
    assert count() == few


def test_the_impact_feed_is_empty_with_a_kind_word(advocate_client, tenant_a):
    html = advocate_client.get(url("portal_impact", tenant_a)).content.decode()
    assert "Nothing yet" in html


# --- Home --------------------------------------------------------------------------------


def test_home_shows_open_offers_onboarding_and_the_latest_impact(advocate_client, tenant_a):
    assignment(tenant_a)
    assignment(tenant_a)
    assignment(tenant_a, S.ACCEPTED)
    program = ProgramFactory(workspace=tenant_a.workspace, name="Insiders", onboarding_steps=["Terms"])
    with scopes_disabled():
        Enrollment.objects.create(workspace=tenant_a.workspace, program=program, advocate=tenant_a.advocate)
    approved_with_outcome(tenant_a, AskKind.REFERENCE_CALL, kind=OutcomeKind.DEAL, deal_name="Globex", amount=1000,
                          deal_status=DealStatus.OPEN)

    html = advocate_client.get(url("portal_home", tenant_a)).content.decode()

    assert "2 open offers" in html
    assert "Before your first ask in Insiders" in html and url("portal_onboarding", tenant_a) in html
    assert "Your reference call is helping a deal along: Globex, 1,000.00 USD, open" in html
    assert ">Asks</a>" in html and ">Impact</a>" in html


# --- The public invitation page --------------------------------------------------------

MESSAGE = {
    "note": "Ada, your feedback shaped our SSO release.\nWould you join our champions?",
    "why_chosen": "You have used us for three years and your team loves the reports.",
    "whats_in_it": "Early access to betas and a seat at our summit.",
    "what_taking_part_looks_like": "About one small ask a month; say no any time.",
}


def invite(tenant, advocate=None, program=None):
    advocate = advocate or AdvocateFactory(workspace=tenant.workspace, stage=Stage.CANDIDATE, email="ada@customer.example", name="Ada")
    with workspace_scope(tenant.workspace):
        sent = invite_advocate(advocate=advocate, actor=tenant.manager, message=MESSAGE, inviter_name="Maria Lopez", program=program)
    return sent, advocate


def stage_of(advocate) -> str:
    with scopes_disabled():
        return Advocate.objects.get(pk=advocate.pk).stage


def test_the_invitation_page_shows_the_personal_message_and_one_button_and_get_changes_nothing(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Champions", onboarding_steps=["Accept the terms"])
    sent, advocate = invite(tenant_a, program=program)
    before = db_fingerprint()

    response = client.get(reverse("invitation", args=[sent.token]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Maria Lopez invited you to Champions" in html
    assert "your feedback shaped our SSO release." in html and "— Maria Lopez" in html
    assert MESSAGE["why_chosen"] in html and "Early access to betas" in html and "one small ask a month" in html
    assert "Accept the terms" in html
    assert html.count('value="join"') == 1 and ">Join</button>" in html and "No thanks" in html
    assert f"{sent.invitation.expires_at:%-d %B %Y}" in html
    assert_unchanged(before, "opening an invitation link")
    assert stage_of(advocate) == Stage.INVITED


def test_joining_makes_the_advocate_active_enrols_them_and_offers_the_portal_sign_in(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, name="Champions")
    sent, advocate = invite(tenant_a, program=program)
    link = reverse("invitation", args=[sent.token])

    response = client.post(link, {"answer": "join"})

    assert response.status_code == 302 and response["Location"] == link
    assert stage_of(advocate) == Stage.ACTIVE
    with scopes_disabled():
        assert Invitation.objects.get(pk=sent.invitation.pk).status == Invitation.Status.ACCEPTED
        enrollment = Enrollment.objects.get(program=program, advocate=advocate)
    assert enrollment.onboarded_at is not None  # no steps: nothing to do first
    html = client.get(link).content.decode()
    assert "Welcome to Champions" in html
    assert f'action="{url("portal_login", tenant_a)}"' in html and 'value="ada@customer.example"' in html
    assert f'name="next" value="{url("portal_asks", tenant_a)}"' in html
    # The form works: the portal sends a code and comes back to the asks.
    signin = client.post(url("portal_login", tenant_a), {"email": "ada@customer.example", "next": url("portal_asks", tenant_a)})
    assert signin.status_code == 302 and "next=/portal/alpha/asks/" in signin["Location"]


def test_joining_a_program_with_steps_leads_to_onboarding_first(client, tenant_a):
    program = ProgramFactory(workspace=tenant_a.workspace, onboarding_steps=["Accept the terms"])
    sent, advocate = invite(tenant_a, program=program)

    client.post(reverse("invitation", args=[sent.token]), {"answer": "join"})

    with scopes_disabled():
        assert Enrollment.objects.get(program=program, advocate=advocate).onboarded_at is None
    html = client.get(reverse("invitation", args=[sent.token])).content.decode()
    assert f'name="next" value="{url("portal_onboarding", tenant_a)}"' in html


def test_joining_when_already_signed_in_as_that_advocate_goes_straight_to_the_portal(client, tenant_a):
    user = UserFactory(email="ada@customer.example")
    advocate = AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.CANDIDATE, email=user.email, user=user)
    sent, _ = invite(tenant_a, advocate=advocate)
    client.force_login(user)

    response = client.post(reverse("invitation", args=[sent.token]), {"answer": "join"})

    assert response.status_code == 302 and response["Location"] == url("portal_asks", tenant_a)


def test_joining_twice_is_harmless(client, tenant_a):
    sent, advocate = invite(tenant_a)
    link = reverse("invitation", args=[sent.token])
    assert client.post(link, {"answer": "join"}).status_code == 302
    assert client.post(link, {"answer": "join"}).status_code == 302
    assert stage_of(advocate) == Stage.ACTIVE


def test_no_thanks_declines_and_changes_nothing_else(client, tenant_a):
    sent, advocate = invite(tenant_a)
    link = reverse("invitation", args=[sent.token])

    response = client.post(link, {"answer": "decline"})

    assert response.status_code == 302
    with scopes_disabled():
        assert Invitation.objects.get(pk=sent.invitation.pk).status == Invitation.Status.DECLINED
    assert stage_of(advocate) == Stage.INVITED
    assert "Thanks for letting us know" in client.get(link).content.decode()
    again = client.post(link, {"answer": "join"})
    assert again.status_code == 409 and "expired or was replaced" in again.content.decode()
    assert stage_of(advocate) == Stage.INVITED


def test_an_expired_link_shows_a_friendly_page_and_cannot_be_accepted(client, tenant_a):
    sent, advocate = invite(tenant_a)
    link = reverse("invitation", args=[sent.token])

    with time_machine.travel(sent.invitation.expires_at + timedelta(seconds=1)):
        page = client.get(link)
        post = client.post(link, {"answer": "join"})

    assert page.status_code == 410
    assert "This invitation link has expired" in page.content.decode() and "Ask Maria Lopez" in page.content.decode()
    assert post.status_code == 409 and "ask for a new one" in post.content.decode()
    assert stage_of(advocate) == Stage.INVITED


def test_a_link_replaced_by_a_new_invitation_shows_the_expired_page(client, tenant_a):
    first, advocate = invite(tenant_a)
    invite(tenant_a, advocate=advocate)

    page = client.get(reverse("invitation", args=[first.token]))

    assert page.status_code == 410 and "This invitation link has expired" in page.content.decode()


def test_an_unknown_invitation_link_is_a_404_page_that_explains(client, tenant_a):
    response = client.get(reverse("invitation", args=["not-a-token"]))
    assert response.status_code == 404
    assert "We could not find this invitation" in response.content.decode()
    assert client.post(reverse("invitation", args=["not-a-token"]), {"answer": "join"}).status_code == 404
