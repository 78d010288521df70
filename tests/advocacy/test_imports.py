"""The CSV import of advocates: parsing and line-numbered errors, the upsert rules,
idempotency, the 1,000-row acceptance case through the worker, and the pages."""

from __future__ import annotations

import random
from datetime import date
from unittest import mock

import pytest
from celery.signals import task_prerun
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from advocacy.errors import Conflict, ValidationFailed
from advocacy.models import Advocate, AuditLog, ImportJob, ImportStatus, Stage
from advocacy.scoping import scopes_disabled, workspace_scope
from advocacy.services import imports
from advocacy.services.imports import (
    apply_import,
    cancel_import,
    confirm_import,
    decode_upload,
    parse_csv,
    start_import,
)

from ..factories import AdvocateFactory


def csv_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def reasons_by_line(errors) -> dict[int, str]:
    return {e["line"]: e["reason"] for e in errors}


def import_now(tenant, text: str | bytes, *, filename: str = "people.csv") -> ImportJob:
    """Upload and confirm a small file (applied inline), as the manager of ``tenant``."""
    raw = text.encode() if isinstance(text, str) else text
    with workspace_scope(tenant.workspace):
        preview = start_import(workspace=tenant.workspace, actor=tenant.manager, filename=filename, raw=raw)
        job = confirm_import(job=preview.job, actor=tenant.manager)
        job.refresh_from_db()
    return job


def advocate(workspace, **lookup) -> Advocate:
    with scopes_disabled():
        return Advocate.objects.get(workspace=workspace, **lookup)


def tag_names(advocate_: Advocate) -> set[str]:
    with scopes_disabled():
        return {t.name for t in advocate_.tags.all()}


# --- Parsing ----------------------------------------------------------------------------


def test_header_aliases_and_case_map_to_known_columns():
    parsed = parse_csv(csv_text("E-Mail,Full Name,CRM ID,Company,Favourite Colour", "ADA@Example.com,Ada Lovelace,CRM-1,Engines,blue"))
    assert parsed.errors == []
    [row] = parsed.rows
    assert row.line == 2
    assert row.values == {"email": "ada@example.com", "name": "Ada Lovelace", "external_id": "CRM-1", "company": "Engines"}
    assert parsed.ignored_columns == ["Favourite Colour"]


def test_email_address_alias_and_id_alias_are_recognised():
    parsed = parse_csv(csv_text("Email Address,id", "grace@example.com,42"))
    assert parsed.rows[0].values == {"email": "grace@example.com", "external_id": "42"}


def test_file_without_email_column_is_refused_with_a_clear_message():
    with pytest.raises(ValidationFailed) as exc:
        parse_csv(csv_text("name,company", "Ada,Engines"))
    assert exc.value.code == "missing_email_column"
    assert "email" in exc.value.message
    assert "Found: name, company" in exc.value.message


@pytest.mark.parametrize("text", ["", "\n"])
def test_empty_file_is_refused(text):
    with pytest.raises(ValidationFailed) as exc:
        parse_csv(text)
    assert exc.value.code in ("empty_file", "missing_email_column")


def test_empty_upload_is_refused_as_empty():
    with pytest.raises(ValidationFailed) as exc:
        parse_csv(decode_upload(b""))
    assert exc.value.code == "empty_file"
    assert "empty" in exc.value.message


def test_header_only_file_is_refused_as_having_no_advocates():
    with pytest.raises(ValidationFailed) as exc:
        parse_csv(csv_text("email,name", "", "  ,  "))
    assert exc.value.code == "empty_file"
    assert "no advocates" in exc.value.message


def test_cp1252_bytes_fall_back_and_keep_accents():
    raw = "email,name,company\nzoe@example.com,Zoë Ångström,Café Crème\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    parsed = parse_csv(decode_upload(raw))
    assert parsed.rows[0].values["name"] == "Zoë Ångström"
    assert parsed.rows[0].values["company"] == "Café Crème"


def test_utf8_bom_does_not_break_the_email_header():
    raw = "\ufeffemail,name\nbom@example.com,Bom Person\n".encode()
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = parse_csv(decode_upload(raw))
    assert parsed.errors == []
    assert parsed.rows[0].values == {"email": "bom@example.com", "name": "Bom Person"}


def test_every_bad_line_is_reported_with_its_line_number_and_reason():
    parsed = parse_csv(csv_text(
        "email,name,type,stage,customer_since",
        "good1@example.com,Good One,customer,candidate,2023-05-01",   # 2
        "not-an-email,Bad Email,,,",                                   # 3
        "baddate@example.com,Bad Date,,,2024-13-01",                   # 4
        "",                                                            # 5 blank, skipped
        "badtype@example.com,Bad Type,robot,,",                        # 6
        "badstage@example.com,Bad Stage,,superstar,",                  # 7
        "toomany@example.com,Too Many,customer,active,2023-01-01,extra", # 8
        "GOOD1@example.com,Repeated,,,",                               # 9
        "good2@example.com,Good Two,partner,,",                        # 10
        ",No Email,,,",                                                # 11
    ))
    errors = reasons_by_line(parsed.errors)
    assert sorted(errors) == [3, 4, 6, 7, 8, 9, 11]
    assert "not-an-email" in errors[3] and "not a valid address" in errors[3]
    assert "2024-13-01" in errors[4] and "YYYY-MM-DD" in errors[4]
    assert "robot" in errors[6] and "customer, employee, partner" in errors[6]
    assert "superstar" in errors[7] and "stage" in errors[7]
    assert "6 cells" in errors[8] and "5 columns" in errors[8]
    assert errors[9] == "email good1@example.com already appears on line 2"
    assert "email is missing" in errors[11]
    assert [r.line for r in parsed.rows] == [2, 10]
    assert parsed.total_rows == 9  # the blank line is not a row
    assert parsed.rows[0].values["customer_since"] == date(2023, 5, 1)


def test_repeated_external_id_within_the_file_is_an_error():
    parsed = parse_csv(csv_text("email,external_id", "a@example.com,CRM-1", "b@example.com,CRM-1"))
    assert reasons_by_line(parsed.errors) == {3: "external_id “CRM-1” already appears on line 2"}


def test_blank_lines_are_skipped_without_shifting_line_numbers():
    parsed = parse_csv(csv_text("email", "", "a@example.com", "", "", ",", "bad", "b@example.com"))
    assert [r.line for r in parsed.rows] == [3, 8]
    assert reasons_by_line(parsed.errors) == {7: "email “bad” is not a valid address"}
    assert parsed.total_rows == 3


def test_quoted_multi_line_cells_keep_later_line_numbers_correct():
    parsed = parse_csv(csv_text(
        "email,name,title",
        'a@example.com,"Ada\nLovelace","Head of\nEngineering\nand Research"',  # lines 2-5
        "broken,Bad,",                                                         # line 6
        'b@example.com,"Bob ""The Builder""",CTO',                             # line 7
        'c@example.com,"Multi\nline",oops,extra',                              # lines 8-9
        "d@example.com,Dee,",                                                  # line 10
    ))
    assert [r.line for r in parsed.rows] == [2, 7, 10]
    assert parsed.rows[0].values["name"] == "Ada Lovelace"  # whitespace collapsed
    assert parsed.rows[1].values["name"] == 'Bob "The Builder"'
    errors = reasons_by_line(parsed.errors)
    assert sorted(errors) == [6, 8]  # a bad multi-line row is reported at the line it starts on


def test_tags_split_on_semicolons_and_pipes_normalised():
    parsed = parse_csv(csv_text("email,tags", "a@example.com, Beta ;EMEA|beta||Power  User "))
    assert parsed.rows[0].tags == ["beta", "emea", "power user"]


def test_upload_over_the_size_limit_is_refused(settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationFailed) as exc:
        decode_upload(b"email\n" + b"a@example.com\n" * 10)
    assert exc.value.code == "file_too_large"


# --- Upsert -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_small_import_is_applied_at_once_with_tags_types_and_dates(tenant_a):
    job = import_now(tenant_a, csv_text(
        "email,name,company,title,type,customer_since,renewal_date,tags,motivation,expressiveness,stage",
        "new1@example.com,New One,Acme,CTO,partner,2022-01-31,2025-02-01,beta;emea,intrinsic,extraverted,",
        "new2@example.com,New Two,,,,,,,,,active",
    ))
    assert (job.status, job.created_count, job.updated_count, job.errors) == (ImportStatus.DONE, 2, 0, [])
    assert job.processed_rows == 2 and job.content == ""
    one = advocate(tenant_a.workspace, email="new1@example.com")
    assert (one.name, one.company, one.title, one.type) == ("New One", "Acme", "CTO", "partner")
    assert (one.customer_since, one.renewal_date) == (date(2022, 1, 31), date(2025, 2, 1))
    assert (one.motivation, one.expressiveness, one.stage) == ("intrinsic", "extraverted", Stage.CANDIDATE)
    assert tag_names(one) == {"beta", "emea"}
    assert advocate(tenant_a.workspace, email="new2@example.com").stage == Stage.ACTIVE
    with scopes_disabled():
        assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="advocate.created").count() == 2
        assert AuditLog.objects.filter(workspace=tenant_a.workspace, action="advocates.imported").count() == 1


@pytest.mark.django_db
def test_upsert_matches_external_id_first_then_email(tenant_a):
    by_ext = AdvocateFactory(workspace=tenant_a.workspace, email="old@example.com", external_id="CRM-1", name="Old Name")
    by_email = AdvocateFactory(workspace=tenant_a.workspace, email="known@example.com", external_id=None, name="Known")
    job = import_now(tenant_a, csv_text(
        "external_id,email,name",
        "CRM-1,renamed@example.com,New Name",   # matched by external id: email changes
        "CRM-2,known@example.com,Known Better",  # matched by email: gains the external id
    ))
    assert (job.created_count, job.updated_count, job.errors) == (0, 2, [])
    by_ext.refresh_from_db()
    by_email.refresh_from_db()
    assert (by_ext.email, by_ext.name, by_ext.external_id) == ("renamed@example.com", "New Name", "CRM-1")
    assert (by_email.external_id, by_email.name) == ("CRM-2", "Known Better")
    with scopes_disabled():
        assert Advocate.objects.filter(workspace=tenant_a.workspace).count() == 3  # + the fixture's advocate


@pytest.mark.django_db
def test_empty_cells_leave_existing_values_and_tags_are_added(tenant_a):
    existing = AdvocateFactory(
        workspace=tenant_a.workspace, email="keep@example.com", name="Keep Me", company="Old Co", title="CTO",
        type="partner", customer_since=date(2020, 1, 1), tags=["vip"],
    )
    job = import_now(tenant_a, csv_text(
        "email,name,company,title,type,customer_since,tags",
        "keep@example.com,,,Founder,,,beta;VIP",
    ))
    assert (job.created_count, job.updated_count) == (0, 1)
    existing.refresh_from_db()
    assert (existing.name, existing.company, existing.title) == ("Keep Me", "Old Co", "Founder")
    assert (existing.type, existing.customer_since) == ("partner", date(2020, 1, 1))
    assert tag_names(existing) == {"vip", "beta"}


@pytest.mark.django_db
def test_external_id_of_one_advocate_with_email_of_another_is_an_error_and_changes_neither(tenant_a):
    one = AdvocateFactory(workspace=tenant_a.workspace, email="one@example.com", external_id="CRM-1", name="One")
    two = AdvocateFactory(workspace=tenant_a.workspace, email="two@example.com", external_id=None, name="Two")
    job = import_now(tenant_a, csv_text(
        "external_id,email,name",
        "CRM-1,two@example.com,Merged",
        ",fine@example.com,Fine",
    ))
    assert (job.created_count, job.updated_count) == (1, 0)
    errors = reasons_by_line(job.errors)
    assert list(errors) == [2]
    assert "CRM-1" in errors[2] and "two@example.com" in errors[2] and "two different advocates" in errors[2]
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.email, one.name, one.external_id) == ("one@example.com", "One", "CRM-1")
    assert (two.email, two.name, two.external_id) == ("two@example.com", "Two", None)


@pytest.mark.django_db
def test_email_of_an_advocate_with_another_external_id_is_an_error(tenant_a):
    other = AdvocateFactory(workspace=tenant_a.workspace, email="d@example.com", external_id="CRM-9", name="Dee")
    job = import_now(tenant_a, csv_text("external_id,email,name", "CRM-10,d@example.com,Changed"))
    assert job.updated_count == 0
    assert "another external_id" in reasons_by_line(job.errors)[2]
    other.refresh_from_db()
    assert (other.external_id, other.name) == ("CRM-9", "Dee")


@pytest.mark.django_db
def test_unknown_external_id_without_email_cannot_create(tenant_a):
    job = import_now(tenant_a, csv_text("external_id,name", "CRM-404,Nobody"))
    assert job.created_count == 0
    assert "needs an email" in reasons_by_line(job.errors)[2]


@pytest.mark.django_db
def test_stage_column_applies_only_to_new_advocates(tenant_a):
    existing = AdvocateFactory(workspace=tenant_a.workspace, email="paused@example.com", stage=Stage.PAUSED)
    job = import_now(tenant_a, csv_text("email,stage", "paused@example.com,candidate", "fresh@example.com,invited"))
    assert (job.created_count, job.updated_count) == (1, 1)
    existing.refresh_from_db()
    assert existing.stage == Stage.PAUSED
    assert advocate(tenant_a.workspace, email="fresh@example.com").stage == Stage.INVITED


@pytest.mark.django_db
def test_import_stays_in_its_workspace(tenant_a, tenant_b):
    same_email = tenant_b.advocate.email
    job = import_now(tenant_a, csv_text("email,name", f"{same_email},Alpha Copy"))
    assert (job.created_count, job.updated_count) == (1, 0)
    tenant_b.advocate.refresh_from_db()
    assert tenant_b.advocate.name == "Advocate of beta"
    assert advocate(tenant_a.workspace, email=same_email).name == "Alpha Copy"


@pytest.mark.django_db
def test_preview_counts_new_and_existing_rows(tenant_a):
    AdvocateFactory(workspace=tenant_a.workspace, email="exists@example.com")
    with workspace_scope(tenant_a.workspace):
        preview = start_import(
            workspace=tenant_a.workspace, actor=tenant_a.manager, filename="p.csv",
            raw=csv_text("email", "exists@example.com", "new@example.com", "bad").encode(),
        )
    assert (preview.to_create, preview.to_update) == (1, 1)
    assert (preview.job.status, preview.job.total_rows, preview.job.valid_rows) == (ImportStatus.PREVIEW, 3, 2)
    assert reasons_by_line(preview.job.errors).keys() == {4}
    with scopes_disabled():
        assert not Advocate.objects.filter(email="new@example.com").exists()  # nothing written before confirming


# --- Idempotency ------------------------------------------------------------------------


@pytest.mark.django_db
def test_applying_the_same_job_twice_changes_nothing_the_second_time(tenant_a):
    with workspace_scope(tenant_a.workspace):
        preview = start_import(
            workspace=tenant_a.workspace, actor=tenant_a.manager, filename="twice.csv",
            raw=csv_text("email,tags", "a@example.com,x", "b@example.com,y", "bad,z").encode(),
        )
        job = preview.job
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
        apply_import(job_id=job.pk)
        job.refresh_from_db()
        first = (job.status, job.processed_rows, job.created_count, job.updated_count, job.errors, job.finished_at)
        advocates_after_first = Advocate.objects.count()
        audit_after_first = AuditLog.objects.count()

        apply_import(job_id=job.pk)
        job.refresh_from_db()
        assert (job.status, job.processed_rows, job.created_count, job.updated_count, job.errors, job.finished_at) == first
        assert first[:4] == (ImportStatus.DONE, 2, 2, 0)
        assert Advocate.objects.count() == advocates_after_first
        assert AuditLog.objects.count() == audit_after_first


@pytest.mark.django_db
def test_only_a_queued_job_is_claimed(tenant_a):
    with workspace_scope(tenant_a.workspace):
        preview = start_import(
            workspace=tenant_a.workspace, actor=tenant_a.manager, filename="p.csv", raw=b"email\na@example.com\n"
        )
        apply_import(job_id=preview.job.pk)  # still awaiting confirmation: not claimed
        preview.job.refresh_from_db()
        assert preview.job.status == ImportStatus.PREVIEW
        assert not Advocate.objects.filter(email="a@example.com").exists()


@pytest.mark.django_db
def test_confirming_twice_is_a_conflict(tenant_a):
    job = import_now(tenant_a, b"email\na@example.com\n")
    with workspace_scope(tenant_a.workspace), pytest.raises(Conflict):
        confirm_import(job=job, actor=tenant_a.manager)


@pytest.mark.django_db
def test_importing_the_same_file_again_creates_nothing_and_updates_the_same_rows(tenant_a):
    text = csv_text(
        "email,external_id,name,tags",
        "a@example.com,CRM-A,Ann,one",
        "b@example.com,,Bob,two",
        "c@example.com,CRM-C,Cy,",
        "oops,,Bad,",
    )
    first = import_now(tenant_a, text)
    with scopes_disabled():
        ids = set(Advocate.objects.filter(workspace=tenant_a.workspace).values_list("id", flat=True))
    second = import_now(tenant_a, text)
    assert (first.created_count, first.updated_count) == (3, 0)
    assert (second.created_count, second.updated_count) == (0, 3)
    assert second.errors == first.errors == [{"line": 5, "reason": "email “oops” is not a valid address"}]
    with scopes_disabled():
        assert set(Advocate.objects.filter(workspace=tenant_a.workspace).values_list("id", flat=True)) == ids
    assert tag_names(advocate(tenant_a.workspace, email="a@example.com")) == {"one"}


# --- The acceptance case: 1,000 rows, 3 bad lines, through the worker -----------------------


BAD_LINES = {
    150: "email “not-an-email” is not a valid address",
    600: "customer_since “2024-13-01” is not a date in the form YYYY-MM-DD",
    950: "email person0@bulk.example already appears on line 2",
}


def thousand_rows() -> bytes:
    lines = ["email,name,company,tags,customer_since"]
    for i in range(1000):
        line = i + 2
        if line == 150:
            lines.append("not-an-email,Bad Email,Acme,,")
        elif line == 600:
            lines.append(f"person{i}@bulk.example,Bad Date,Acme,,2024-13-01")
        elif line == 950:
            lines.append("person0@bulk.example,Repeated,Acme,,")
        else:
            lines.append(f"person{i}@bulk.example,Person {i},Acme {i % 7},bulk;wave-{i % 3},2023-01-15")
    return csv_text(*lines).encode()


@pytest.mark.django_db
def test_thousand_row_file_with_three_bad_lines_imports_997_through_the_worker(
    client, tenant_a, settings, django_capture_on_commit_callbacks
):
    assert settings.IMPORT_INLINE_MAX_ROWS == 200
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.manager)

    upload = client.post(
        reverse("advocate_import", args=[slug]),
        {"file": SimpleUploadedFile("customers.csv", thousand_rows(), content_type="text/csv")},
    )
    assert upload.status_code == 302
    with scopes_disabled():
        job = ImportJob.objects.get(workspace=tenant_a.workspace)
    assert upload.url == reverse("import_detail", args=[slug, job.pk])
    assert (job.total_rows, job.valid_rows) == (1000, 997)
    assert reasons_by_line(job.errors) == BAD_LINES

    page = client.get(upload.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Import 997 rows" in html
    assert "lines with errors" in html
    for line, reason in BAD_LINES.items():
        assert f'<td class="num">{line}</td><td>{reason}</td>' in html
    assert html.count('<td class="num">') == 10 + 3  # the sample of 10 rows and exactly 3 bad lines

    progress_seen = []
    real_apply_chunk = imports._apply_chunk

    def spy(job_, rows):
        progress_seen.append(ImportJob.objects.get(pk=job_.pk).processed_rows)
        return real_apply_chunk(job_, rows)

    tasks_run = []

    def record_task(sender=None, kwargs=None, **_):
        tasks_run.append((sender.name, kwargs))

    task_prerun.connect(record_task, weak=False)
    with mock.patch.object(imports, "_apply_chunk", side_effect=spy):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            confirm = client.post(reverse("import_confirm", args=[slug, job.pk]))
        assert confirm.status_code == 302
        assert len(callbacks) == 1  # run_import is sent only once the transaction commits
        job.refresh_from_db()
        assert job.status == ImportStatus.QUEUED  # too big to run inline
        assert progress_seen == []
        queued = client.get(reverse("import_progress", args=[slug, job.pk])).json()
        assert queued["status"] == "queued" and queued["processed"] == 0 and queued["finished"] is False
        assert "Importing" in client.get(reverse("import_detail", args=[slug, job.pk])).content.decode()

        try:
            for callback in callbacks:
                callback()
        finally:
            task_prerun.disconnect(record_task)
    assert tasks_run == [("advocacy.tasks.run_import", {"workspace_id": tenant_a.workspace.pk, "import_id": job.pk})]
    assert progress_seen == [0, 500]  # progress saved after each chunk

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.processed_rows) == (997, 0, 997)
    assert reasons_by_line(job.errors) == BAD_LINES
    with scopes_disabled():
        imported = Advocate.objects.filter(workspace=tenant_a.workspace, email__endswith="@bulk.example")
        assert imported.count() == 997
        assert not imported.filter(email="person598@bulk.example").exists()  # line 600 was bad
        assert imported.get(email="person0@bulk.example").name == "Person 0"
        assert {t.name for t in imported.get(email="person4@bulk.example").tags.all()} == {"bulk", "wave-1"}

    progress = client.get(reverse("import_progress", args=[slug, job.pk])).json()
    assert progress == {
        "status": "done", "status_label": "Done", "processed": 997, "total": 997, "percent": 100,
        "created": 997, "updated": 0, "errors": 3, "finished": True,
    }
    done = client.get(reverse("import_detail", args=[slug, job.pk])).content.decode()
    assert "Import finished: 997 added, 0 updated, 3 lines not imported." in done
    for line, reason in BAD_LINES.items():
        assert f'<td class="num">{line}</td><td>{reason}</td>' in done


@pytest.mark.django_db(transaction=True)
def test_large_import_runs_in_the_task_after_commit(tenant_a):
    """The same path without captured callbacks: a real commit dispatches run_import."""
    with workspace_scope(tenant_a.workspace):
        preview = start_import(workspace=tenant_a.workspace, actor=tenant_a.manager, filename="big.csv", raw=thousand_rows())
        job = confirm_import(job=preview.job, actor=tenant_a.manager)  # autocommit: dispatched at once
    job.refresh_from_db()
    assert (job.status, job.created_count, job.processed_rows) == (ImportStatus.DONE, 997, 997)
    assert sorted(reasons_by_line(job.errors)) == sorted(BAD_LINES)


# --- Pages ------------------------------------------------------------------------------


def upload_file(client, slug, data: bytes, name: str = "people.csv", content_type: str = "text/csv"):
    return client.post(reverse("advocate_import", args=[slug]), {"file": SimpleUploadedFile(name, data, content_type=content_type)})


@pytest.mark.django_db
def test_upload_preview_confirm_shows_done_message(client, tenant_a, django_capture_on_commit_callbacks):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.manager)
    form_page = client.get(reverse("advocate_import", args=[slug]))
    assert form_page.status_code == 200
    response = upload_file(client, slug, csv_text("email,name", "x@example.com,Ex", f"{tenant_a.advocate.email},Renamed", "nope,Bad").encode())
    assert response.status_code == 302
    preview = client.get(response.url).content.decode()
    assert "Import 2 rows" in preview
    assert '<div class="value">1</div><div class="label">to add</div>' in preview
    assert '<div class="value">1</div><div class="label">to update</div>' in preview
    assert '<td class="num">4</td><td>email “nope” is not a valid address</td>' in preview

    job_id = int(response.url.rstrip("/").rsplit("/", 1)[1])
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(reverse("import_confirm", args=[slug, job_id]), follow=True)
    html = confirmed.content.decode()
    assert "Imported: 1 added, 1 updated." in html
    assert "Import finished: 1 added, 1 updated, 1 line not imported." in html
    tenant_a.advocate.refresh_from_db()
    assert tenant_a.advocate.name == "Renamed"

    again = client.post(reverse("import_confirm", args=[slug, job_id]), follow=True)
    assert "already started or cancelled" in again.content.decode()


@pytest.mark.django_db
def test_cancel_discards_the_import(client, tenant_a):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.manager)
    response = upload_file(client, slug, b"email\ncancel-me@example.com\n")
    job_id = int(response.url.rstrip("/").rsplit("/", 1)[1])
    cancelled = client.post(reverse("import_cancel", args=[slug, job_id]), follow=True)
    assert cancelled.redirect_chain[-1][0] == reverse("advocate_import", args=[slug])
    assert "Import cancelled; nothing was changed." in cancelled.content.decode()
    with scopes_disabled():
        job = ImportJob.objects.get(pk=job_id)
        assert (job.status, job.content) == (ImportStatus.CANCELLED, "")
        assert not Advocate.objects.filter(email="cancel-me@example.com").exists()
    assert "was cancelled" in client.get(reverse("import_detail", args=[slug, job_id])).content.decode()
    refused = client.post(reverse("import_confirm", args=[slug, job_id]), follow=True)
    assert "already started or cancelled" in refused.content.decode()
    with workspace_scope(tenant_a.workspace), pytest.raises(Conflict):
        cancel_import(job=job)


@pytest.mark.django_db
def test_progress_endpoint_reports_preview_state(client, tenant_a):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.viewer)  # reading progress needs only the viewer role
    with workspace_scope(tenant_a.workspace):
        job = start_import(workspace=tenant_a.workspace, actor=tenant_a.manager, filename="p.csv", raw=b"email\na@example.com\n").job
    response = client.get(reverse("import_progress", args=[slug, job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "preview", "status_label": "Awaiting confirmation", "processed": 0, "total": 1, "percent": 0,
        "created": 0, "updated": 0, "errors": 0, "finished": False,
    }


@pytest.mark.django_db
def test_another_workspaces_import_is_404(client, tenant_a, tenant_b):
    with workspace_scope(tenant_b.workspace):
        job = start_import(workspace=tenant_b.workspace, actor=tenant_b.manager, filename="p.csv", raw=b"email\na@example.com\n").job
    client.force_login(tenant_a.manager)
    slug = tenant_a.workspace.slug
    assert client.get(reverse("import_progress", args=[slug, job.pk])).status_code == 404
    assert client.get(reverse("import_detail", args=[slug, job.pk])).status_code == 404
    assert client.post(reverse("import_confirm", args=[slug, job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW


@pytest.mark.django_db
def test_viewer_cannot_open_the_upload_form_upload_or_confirm(client, tenant_a):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.viewer)
    assert client.get(reverse("advocate_import", args=[slug])).status_code == 403  # the upload form is not shown to viewers
    assert upload_file(client, slug, b"email\nviewer-made@example.com\n").status_code == 403
    with workspace_scope(tenant_a.workspace):
        job = start_import(workspace=tenant_a.workspace, actor=tenant_a.manager, filename="p.csv", raw=b"email\na@example.com\n").job
    assert client.post(reverse("import_confirm", args=[slug, job.pk])).status_code == 403
    assert client.post(reverse("import_cancel", args=[slug, job.pk])).status_code == 403
    with scopes_disabled():
        assert ImportJob.objects.filter(workspace=tenant_a.workspace).count() == 1
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW


@pytest.mark.django_db
def test_upload_over_10_mb_gets_a_form_error(client, tenant_a):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.manager)
    big = b"email,name\n" + b"someone@example.com,Somebody With A Long Name\n" * (10 * 1024 * 1024 // 45 + 10)
    assert len(big) > 10 * 1024 * 1024
    response = upload_file(client, slug, big)
    assert response.status_code == 400
    assert "larger than 10 MB" in response.content.decode()
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def _binary(kind: str) -> bytes:
    rng = random.Random(kind)
    if kind == "png":
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa" + bytes(range(256))
    if kind == "zip":
        return b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + rng.randbytes(4000)
    if kind == "utf16":
        return "email,name\na@example.com,Ann\n".encode("utf-16")
    if kind == "no-nul":  # binary noise without NUL bytes, long enough to be a huge "header"
        return bytes(b for b in rng.randbytes(50000) if b not in b"\x00\n\r,\x81\x8d\x8f\x90\x9d")
    return rng.randbytes(20000)


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "expected"), [
    ("png", "This is not a CSV text file"),
    ("zip", "This is not a CSV text file"),
    ("utf16", "This is not a CSV text file"),
    ("random", "This is not a CSV text file"),
    ("no-nul", "The header row needs an “email” column"),
])
def test_non_csv_binary_gets_a_clear_form_error_never_a_500(client, tenant_a, kind, expected):
    slug = tenant_a.workspace.slug
    client.force_login(tenant_a.manager)
    response = upload_file(client, slug, _binary(kind), name=f"file.{kind}", content_type="application/octet-stream")
    assert response.status_code == 400
    [message] = response.context["form"].errors["file"]
    assert message.startswith(expected)
    assert len(message) < 400  # never the whole binary echoed back
    with scopes_disabled():
        assert not ImportJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "expected"), [
    (b"", "The submitted file is empty."),
    (b"email,name\n", "no advocates"),
    (b"name,company\nAda,Engines\n", "needs an “email” column"),
])
def test_empty_or_headerless_upload_gets_a_form_error(client, tenant_a, data, expected):
    client.force_login(tenant_a.manager)
    response = upload_file(client, tenant_a.workspace.slug, data)
    assert response.status_code == 400
    assert expected in response.content.decode()


@pytest.mark.django_db
def test_a_crash_mid_import_marks_the_job_failed_and_keeps_finished_chunks(client, tenant_a, django_capture_on_commit_callbacks):
    real_apply_chunk = imports._apply_chunk
    calls = []

    def crash_on_second_chunk(job_, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_apply_chunk(job_, rows)

    with workspace_scope(tenant_a.workspace):
        job = start_import(workspace=tenant_a.workspace, actor=tenant_a.manager, filename="big.csv", raw=thousand_rows()).job
        with mock.patch.object(imports, "_apply_chunk", side_effect=crash_on_second_chunk), \
                pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
            confirm_import(job=job, actor=tenant_a.manager)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.failure == "database went away"
    assert (job.processed_rows, job.created_count) == (500, 500)
    with scopes_disabled():
        assert Advocate.objects.filter(email__endswith="@bulk.example").count() == 500
    client.force_login(tenant_a.manager)
    page = client.get(reverse("import_detail", args=[tenant_a.workspace.slug, job.pk])).content.decode()
    assert "The import failed: database went away." in page
    assert client.get(reverse("import_progress", args=[tenant_a.workspace.slug, job.pk])).json()["finished"] is True

    # uploading the file again finishes the job: the first 500 are matched, not duplicated
    with workspace_scope(tenant_a.workspace):
        again = start_import(workspace=tenant_a.workspace, actor=tenant_a.manager, filename="big.csv", raw=thousand_rows())
        assert (again.to_create, again.to_update) == (497, 500)
        with django_capture_on_commit_callbacks(execute=True):
            confirm_import(job=again.job, actor=tenant_a.manager)
    again.job.refresh_from_db()
    assert (again.job.status, again.job.created_count, again.job.updated_count) == (ImportStatus.DONE, 497, 500)


def test_import_left_running_by_a_dead_worker_is_reclaimed_after_its_lease(tenant_a, no_scopes):
    import time_machine
    from django.utils import timezone

    from advocacy.models import Advocate, ImportJob, ImportStatus
    from advocacy.services.imports import apply_import

    job = ImportJob.objects.create(
        workspace=tenant_a.workspace, filename="x.csv", content="email\nr1@example.com\nr2@example.com\n",
        total_rows=2, valid_rows=2, status=ImportStatus.RUNNING, started_at=timezone.now(),
        processed_rows=1, created_count=1,
    )
    Advocate.objects.create(workspace=tenant_a.workspace, email="r1@example.com")
    apply_import(job_id=job.pk)  # lease still fresh: another worker owns it
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING

    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        apply_import(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.processed_rows, job.created_count, job.updated_count) == (2, 1, 1)
    assert Advocate.objects.filter(workspace=tenant_a.workspace, email__startswith="r").count() == 2
