"""Issue 6's journey in the browser: a manager creates an NPS survey (everybody, by email)
and sends it now; a mail scanner fetches the email's eleven links and records nothing (a
GET never records: nps/public.py); the advocate opens the email and clicks 3; the answer
page records the score by its automatic POST and asks the follow-up question; the
advocate leaves a comment; the manager sees NPS -100.0 with one
detractor and a 100.0% response rate, finds the detractor's follow-up task carrying the
comment on the task list and closes it with what was done. The detractor gets no asks.

The manager uses the ``page`` fixture; the advocate a second browser context on a phone's
viewport (survey emails are mostly read on phones), so their sessions never mix. The
email's HTML is loaded into the advocate's browser and its score link clicked, as a mail
client would."""

from __future__ import annotations

import os
import re
from contextlib import suppress

import pytest
import requests
from django.core import mail
from playwright.sync_api import expect

from advocacy.budget import contact_hold
from advocacy.models import ContactKind, HoldReason, Role, Stage, Suppression, Task, TaskKind
from advocacy.scoping import scopes_disabled
from nps.models import Category, Survey, SurveyResponse, SurveySend, SurveyStatus
from nps.tokens import read_token
from tests.e2e.conftest import PHONE, RESULTS
from tests.factories import (
    PASSWORD,
    AdvocateFactory,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SURVEY = "Quarterly pulse"
QUESTION = "How likely are you to recommend Acme Corp to a friend or colleague?"
FOLLOW_UP = "What is the main reason for your score?"
COMMENT = "Billing charged us twice in March."
NOTES = "Called them; fixed the billing issue"
TASK = "Follow up with Ada Lovelace: NPS 3"


@pytest.fixture
def acme(transactional_db, live_server, settings):
    """Acme with a manager and Ada (active, email and portal): the whole audience. The
    email's links are built from SITE_URL: the live server's."""
    settings.SITE_URL = live_server.url
    workspace = WorkspaceFactory(slug="acme", name="Acme Corp")
    manager = MembershipFactory(workspace=workspace, role=Role.MANAGER, user__email="manager@acme.example").user
    user = UserFactory(email="ada@customer.example")
    ada = AdvocateFactory(workspace=workspace, email=user.email, user=user, name="Ada Lovelace", stage=Stage.ACTIVE,
                          channels=["email", "portal"], max_asks_per_month=None)
    return workspace, manager, ada


def snap_advocate(apage, name: str) -> None:
    """``snap`` for the advocate's page (the fixture shoots the manager's): their phone."""
    if os.environ.get("E2E_SCREENSHOTS"):
        RESULTS.mkdir(exist_ok=True)
        apage.screenshot(path=str(RESULTS / f"nps-journey-{name}-phone.png"), full_page=True)


def test_manager_sends_a_survey_detractor_answers_by_email_and_the_manager_closes_the_loop(page, browser, live_server, snap, acme):
    workspace, manager, ada = acme

    # The manager signs in and creates a survey: everybody, by email, once.
    page.goto("/accounts/login/")
    page.fill("input[name=login]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/acme/$"))
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="NPS", exact=True).click()
    page.wait_for_url(re.compile(r"/w/acme/nps/$"))
    expect(page.get_by_text("No surveys yet")).to_be_visible()
    page.get_by_role("link", name="New survey").click()
    page.wait_for_url(re.compile(r"/w/acme/nps/surveys/new/$"))
    expect(page.get_by_role("heading", name="New survey", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(SURVEY)
    expect(page.get_by_label("Question", exact=True)).to_have_value("How likely are you to recommend {company} to a friend or colleague?")
    expect(page.get_by_label("Follow up question")).to_have_value(FOLLOW_UP)
    page.get_by_label("Everybody").check()
    expect(page.get_by_label("Tag", exact=True)).to_be_hidden()  # only the chosen audience's criterion shows
    page.get_by_label("Email", exact=True).check()
    page.get_by_label("Portal", exact=True).uncheck()
    page.get_by_label("Once", exact=True).check()
    expect(page.get_by_label("Every (days)")).to_be_hidden()
    page.get_by_label("Draft: not sent yet").check()
    snap("survey-form")
    page.get_by_role("button", name="Create survey").click()
    page.wait_for_url(re.compile(r"/w/acme/nps/surveys/\d+/$"))
    survey_url = page.url
    expect(page.locator(".messages .success")).to_have_text(f"“{SURVEY}” is saved.")
    expect(page.get_by_role("heading", name=SURVEY, level=1)).to_contain_text("Draft")
    expect(page.get_by_text(f"“{QUESTION}”")).to_be_visible()
    with scopes_disabled():
        survey = Survey.objects.get(workspace=workspace, name=SURVEY)
    assert (survey.audience, survey.channels, survey.schedule, survey.status) == ("all", ["email"], "once", SurveyStatus.DRAFT)

    # "Send now": the confirmation counts the audience, then one round goes out.
    page.get_by_role("link", name="Send now").click()
    page.wait_for_url(re.compile(rf"/w/acme/nps/surveys/{survey.pk}/send/$"))
    expect(page.get_by_role("heading", name=f"Send “{SURVEY}” now?")).to_be_visible()
    expect(page.get_by_text("One round goes out now to 1 person in the audience")).to_be_visible()
    snap("send-confirm")
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(survey_url)
    expect(page.locator(".messages .success")).to_have_text(f"Round 1 of “{SURVEY}”: sent to 1 person, 0 held back.")
    expect(page.get_by_role("heading", name=SURVEY, level=1)).to_contain_text("Done")
    expect(page.get_by_text("Nobody was held back.")).to_be_visible()
    with scopes_disabled():
        [send] = SurveySend.objects.filter(workspace=workspace, survey=survey)
    assert (send.advocate_id, send.channel, send.round, send.answered_at) == (ada.pk, "email", 1, None)

    # Ada's email: the question and eleven score links, in the text and the HTML.
    [email] = [m for m in mail.outbox if ada.email in m.to and "one quick question" in m.subject]
    assert email.subject == "Acme Corp: one quick question"
    assert QUESTION in email.body
    links = dict(re.findall(r"^(\d+): (\S+)$", email.body, re.M))
    assert sorted(map(int, links)) == list(range(11)), email.body
    for score, url in links.items():
        match = re.fullmatch(rf"{re.escape(live_server.url)}/s/([^/?]+)\?score={score}", url)
        assert match and read_token(match.group(1)) == send.pk, url
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert email.extra_headers["List-Unsubscribe"]

    # Her mail service's link scanner fetches all eleven links first: a GET records nothing.
    for url in links.values():
        fetched = requests.get(url, timeout=10)
        assert fetched.status_code == 200 and "Confirm my score" in fetched.text, fetched.status_code
    with scopes_disabled():
        assert not SurveyResponse.objects.filter(workspace=workspace).exists()

    advocate_context = browser.new_context(viewport=PHONE, base_url=live_server.url)
    advocate_context.set_default_timeout(15_000)
    apage = advocate_context.new_page()
    try:
        # She opens the email on her phone and taps 3: the page confirms it by itself.
        apage.set_content(html)
        expect(apage.get_by_role("link", name="3 out of 10")).to_have_attribute("href", links["3"])
        apage.get_by_role("link", name="3 out of 10").click()
        apage.wait_for_url(re.compile(r"/s/[^/?]+$"))  # the automatic POST redirected to the answer
        expect(apage.get_by_role("heading", name="Thank you, you answered 3")).to_be_visible()
        with scopes_disabled():
            response = SurveyResponse.objects.get(workspace=workspace, send=send)
        assert (response.score, response.category, response.channel, response.comment) == (3, Category.DETRACTOR, "email", "")

        # The follow-up question, answered.
        comment_box = apage.get_by_label(FOLLOW_UP)
        expect(comment_box).to_be_visible()
        snap_advocate(apage, "follow-up")
        comment_box.fill(COMMENT)
        apage.get_by_role("button", name="Send my comment").click()
        apage.wait_for_url(re.compile(r"/s/[^/?]+\?thanks=1$"))
        expect(apage.get_by_role("heading", name="Thank you!")).to_be_visible()
        expect(apage.get_by_text("We have your score and your comment.")).to_be_visible()
        expect(apage.get_by_label(FOLLOW_UP)).to_have_value(COMMENT)
        snap_advocate(apage, "thanks")
    except Exception:  # the fixture shoots the manager's page; this is the advocate's
        RESULTS.mkdir(exist_ok=True)
        with suppress(Exception):
            apage.screenshot(path=str(RESULTS / "FAILED-nps-journey-advocate.png"), full_page=True)
        raise
    finally:
        advocate_context.close()

    with scopes_disabled():
        response.refresh_from_db()
        send.refresh_from_db()
        task = Task.objects.get(workspace=workspace, kind=TaskKind.DETRACTOR)
        [suppression] = Suppression.objects.filter(workspace=workspace, advocate=ada)
    assert (response.score, response.comment, response.follow_up_task_id) == (3, COMMENT, task.pk)
    assert send.answered_at is not None
    assert (task.advocate_id, task.title, task.status) == (ada.pk, TASK, Task.Status.OPEN)
    assert COMMENT in task.detail
    assert suppression.reason == Suppression.Reason.DETRACTOR

    # The detractor gets no asks (the budget holds ask offers back) for the quiet period.
    with scopes_disabled():
        hold = contact_hold(advocate=ada, kind=ContactKind.OFFER)
    assert hold is not None and hold.reason == HoldReason.SUPPRESSED

    # The manager sees the NPS: -100.0, one detractor, everybody sent answered.
    page.reload()
    tiles = page.locator(".grid", has=page.locator(".kpi"))
    expect(tiles.locator(".kpi", has_text="NPS").locator(".value")).to_have_text("-100.0")
    expect(tiles.locator(".kpi", has_text="Detractors").locator(".value")).to_have_text("1")
    expect(tiles.locator(".kpi", has_text="Promoters").locator(".value")).to_have_text("0")
    expect(tiles.locator(".kpi", has_text="Passives").locator(".value")).to_have_text("0")
    rate = tiles.locator(".kpi", has_text="Response rate")
    expect(rate.locator(".value")).to_have_text("100.0%")
    expect(rate).to_contain_text("1 answer from 1 person sent")
    answer_row = page.locator("#answers ~ .table-wrap tbody tr", has_text="Ada Lovelace").first
    expect(answer_row).to_contain_text("3 Detractor")
    expect(answer_row).to_contain_text(COMMENT)
    expect(answer_row.get_by_role("link", name="Open")).to_be_visible()
    expect(page.get_by_role("link", name="1 open detractor follow-up")).to_be_visible()
    snap("survey-answered")

    # The task list shows the follow-up with the comment; the manager closes it.
    main_nav.get_by_role("link", name="Tasks", exact=True).click()
    page.wait_for_url(re.compile(r"/w/acme/tasks/$"))
    row = page.locator("tbody tr", has_text=TASK)
    expect(row).to_contain_text(COMMENT)
    expect(row).to_contain_text("Detractor follow-up")
    expect(row).to_contain_text("Open")
    snap("tasks-open")
    row.get_by_role("link", name=TASK).click()
    page.wait_for_url(re.compile(rf"/w/acme/tasks/{task.pk}/$"))
    expect(page.get_by_role("heading", name=TASK, level=1)).to_be_visible()
    expect(page.get_by_text(COMMENT)).to_be_visible()
    page.get_by_label("Notes").fill(NOTES)
    page.get_by_role("button", name="Done", exact=True).click()
    page.wait_for_url(re.compile(rf"/w/acme/tasks/{task.pk}/$"))
    expect(page.locator(".messages .success")).to_have_text(f"“{TASK}” is done.")
    expect(page.locator(".topbar .badge")).to_have_text("Done")
    expect(page.get_by_text(NOTES)).to_be_visible()
    expect(page.get_by_role("button", name="Reopen the task")).to_be_visible()

    # Done on the task list (no longer open), and on the survey's answers.
    main_nav.get_by_role("link", name="Tasks", exact=True).click()
    page.wait_for_url(re.compile(r"/w/acme/tasks/$"))
    expect(page.get_by_text("Nothing to do")).to_be_visible()
    page.get_by_role("navigation", name="Filter by status").get_by_role("link", name="Done").click()
    done_row = page.locator("tbody tr", has_text=TASK)
    expect(done_row.locator(".badge")).to_have_text("Done")
    expect(done_row).to_contain_text(manager.email)
    snap("tasks-done")
    page.goto(survey_url)
    expect(page.locator("#answers ~ .table-wrap tbody tr", has_text="Ada Lovelace").get_by_role("link", name="Done")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("open detractor follow-up"))).to_have_count(0)
    with scopes_disabled():
        task.refresh_from_db()
    assert (task.status, task.notes, task.done_by_id) == (Task.Status.DONE, NOTES, manager.pk)
