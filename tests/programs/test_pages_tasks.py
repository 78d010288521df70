"""The manager's task list (advocacy/task_views.py): open tasks first, status and kind
filters, each task with why it was opened, done / dismiss with notes, reopen; viewers read
and are shown no forms; another workspace's task is a 404; the list's queries are pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advocacy.models import AuditLog, Task, TaskKind
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services.tasks import close_task, open_task
from tests.factories import AdvocateFactory
from tests.programs.pages import post_forms, reload, text, url

pytestmark = pytest.mark.django_db


def task(tenant, title="Check in with Ada", kind=TaskKind.CHECK_IN, advocate=None, detail="3 offers in a row declined or expired"):
    with workspace_scope(tenant.workspace):
        return open_task(workspace=tenant.workspace, kind=kind, title=title, detail=detail,
                         advocate=advocate if advocate is not None else AdvocateFactory(workspace=tenant.workspace))


def test_the_list_shows_open_tasks_first_with_their_advocate(client, tenant_a):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        old_open = task(tenant_a, title="Old open task")
    done = task(tenant_a, title="Done task")
    with workspace_scope(tenant_a.workspace):
        close_task(task=done, actor=None, notes="called")
    new_open = task(tenant_a, title="New open task", advocate=AdvocateFactory(workspace=tenant_a.workspace, name="Nia"))
    client.force_login(tenant_a.manager)

    open_only = text(client.get(url("task_list", tenant_a)))
    assert open_only.index("New open task") < open_only.index("Old open task") and "Done task" not in open_only
    assert "Nia" in open_only

    everything = text(client.get(url("task_list", tenant_a), {"status": "all"}))
    assert everything.index("Old open task") < everything.index("Done task")  # open first, then the rest
    assert new_open.pk and old_open.pk


def test_the_list_filters_by_kind_and_search(client, tenant_a):
    task(tenant_a, title="Say hello", kind=TaskKind.CHECK_IN)
    task(tenant_a, title="Suggest alumni for Bo", kind=TaskKind.ALUMNI)
    client.force_login(tenant_a.viewer)

    alumni = text(client.get(url("task_list", tenant_a), {"kind": "alumni"}))
    assert "Suggest alumni for Bo" in alumni and "Say hello" not in alumni
    assert "Say hello" not in text(client.get(url("task_list", tenant_a), {"q": "bo"}))
    bad = client.get(url("task_list", tenant_a), {"kind": "nope", "status": "zzz", "page": "abc"})
    assert bad.status_code == 200 and "That filter was not understood" in text(bad)


def test_the_list_has_an_empty_state(client, tenant_a):
    client.force_login(tenant_a.manager)
    assert "Nothing to do" in text(client.get(url("task_list", tenant_a)))


def test_the_list_takes_the_same_queries_for_few_and_many_tasks(client, tenant_a):
    client.force_login(tenant_a.manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("task_list", tenant_a), {"status": "all"}).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        task(tenant_a)
    few = count()
    for n in range(20):
        t = task(tenant_a)
        if n % 2:
            with workspace_scope(tenant_a.workspace):
                close_task(task=t, actor=tenant_a.manager)
    assert count() == few


def test_the_task_page_says_why_it_was_opened(client, tenant_a):
    t = task(tenant_a, detail="Declined: review, expired: case study, declined: social share.")
    client.force_login(tenant_a.manager)
    body = text(client.get(url("task_detail", tenant_a, t.pk)))
    assert "Why it was opened Declined: review, expired: case study, declined: social share." in body
    assert "Done" in body and "Dismiss" in body


def test_done_with_notes_closes_the_task_and_audits_it(client, tenant_a):
    t = task(tenant_a)
    client.force_login(tenant_a.manager)

    response = client.post(url("task_close", tenant_a, t.pk), {"status": "done", "notes": "Called; they are swamped until June."})

    assert response.status_code == 302 and response["Location"] == url("task_detail", tenant_a, t.pk)
    t = reload(t)
    assert (t.status, t.notes, t.done_by) == ("done", "Called; they are swamped until June.", tenant_a.manager)
    with scopes_disabled():
        assert AuditLog.objects.filter(action="task.done").count() == 1
    assert "Reopen the task" in text(client.get(response["Location"]))


def test_dismissing_then_closing_again_is_409_with_the_message(client, tenant_a):
    t = task(tenant_a)
    client.force_login(tenant_a.manager)
    assert client.post(url("task_close", tenant_a, t.pk), {"status": "dismissed", "notes": ""}).status_code == 302
    assert reload(t).status == "dismissed"

    again = client.post(url("task_close", tenant_a, t.pk), {"status": "done", "notes": "late"})

    assert again.status_code == 409 and "This task is already dismissed." in text(again)
    assert reload(t).status == "dismissed"


@pytest.mark.parametrize("data", [{"status": "exploded"}, {}, {"status": "done", "notes": "x" * 5001}])
def test_garbage_in_the_close_form_is_400(client, tenant_a, data):
    t = task(tenant_a)
    client.force_login(tenant_a.manager)
    assert client.post(url("task_close", tenant_a, t.pk), data).status_code == 400
    assert reload(t).status == "open"


def test_reopening_a_closed_task_and_reopening_an_open_one(client, tenant_a):
    t = task(tenant_a)
    with workspace_scope(tenant_a.workspace):
        close_task(task=t, actor=None, notes="done")
    client.force_login(tenant_a.manager)

    response = client.post(url("task_reopen", tenant_a, t.pk))

    assert response.status_code == 302 and reload(t).status == "open" and reload(t).notes == "done"
    again = client.post(url("task_reopen", tenant_a, t.pk))
    assert again.status_code == 409 and "This task is already open." in text(again)


def test_viewer_reads_tasks_without_forms_and_cannot_close_or_reopen(client, tenant_a):
    t = task(tenant_a)
    client.force_login(tenant_a.viewer)
    for response in (client.get(url("task_list", tenant_a)), client.get(url("task_detail", tenant_a, t.pk))):
        assert response.status_code == 200 and post_forms(response) == []
    assert client.post(url("task_close", tenant_a, t.pk), {"status": "done"}).status_code == 403
    assert client.post(url("task_reopen", tenant_a, t.pk)).status_code == 403
    assert reload(t).status == "open"


def test_another_workspaces_task_is_404(client, tenant_a, tenant_b):
    theirs = task(tenant_b, title="B's task")
    client.force_login(tenant_a.owner)
    assert client.get(url("task_detail", tenant_a, theirs.pk)).status_code == 404
    assert client.post(url("task_close", tenant_a, theirs.pk), {"status": "done"}).status_code == 404
    assert "B's task" not in text(client.get(url("task_list", tenant_a), {"status": "all"}))
    assert reload(theirs).status == "open"


def test_a_task_without_an_advocate_shows_a_dash(client, tenant_a):
    with workspace_scope(tenant_a.workspace):
        t = open_task(workspace=tenant_a.workspace, kind=TaskKind.CUSTOM, title="Review the fatigue policy")
    client.force_login(tenant_a.manager)
    assert "Advocate —" in text(client.get(url("task_detail", tenant_a, t.pk)))
    with scopes_disabled():
        assert Task.objects.get(pk=t.pk).advocate is None
