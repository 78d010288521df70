"""The manager's referral pages (/w/<slug>/referrals/): the funnel computed by hand
(flagged clicks left out, unique clicks by hashed IP, repeat referrers), the list's
filters and CSV export, a referral's flags and actions (approve, qualify, reject with a
reason), program settings, the coupon upload's report by line; viewers read only,
another workspace is a 404, bad query strings never 500, and the list's queries do not
grow with its rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from advocacy.models import AuditLog
from advocacy.scoping import workspace_scope
from referrals.models import Click, Conversion, Coupon, Referral, ReferralSettings, ReferralState
from referrals.queries import funnel
from tests.factories import AdvocateFactory

from .builders import add_pool, lead, make_code

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.get_fixed_timezone(0))


def click(code, ip: str, *, at=None, flagged=False):
    return Click.objects.with_scopes_disabled().create(workspace_id=code.workspace_id, code=code, at=at or NOW, ip_hash=ip,
                                                       flagged=flagged)


def referral(code, email, *, state=ReferralState.LEAD, at=None, flags=None, reason=""):
    return Referral.objects.with_scopes_disabled().create(
        workspace_id=code.workspace_id, code=code, program=code.program, advocate=code.advocate, referee_email=email,
        state=state, created_at=at or NOW, flags=flags or [], reason=reason,
    )


def conversion(r, value, currency="EUR", *, at=None, external_id=None):
    return Conversion.objects.with_scopes_disabled().create(
        workspace_id=r.workspace_id, referral=r, external_id=external_id or f"deal-{r.pk}", referee_email=r.referee_email,
        value=Decimal(value), currency=currency, occurred_at=at or NOW,
    )


def pipeline_url(tenant, query=""):
    return reverse("referral_pipeline", args=[tenant.workspace.slug]) + query


@pytest.fixture
def funnel_data(tenant_a):
    """Two advocates on one program, one on another; everything on NOW unless said."""
    ws = tenant_a.workspace
    ann = make_code(ws)
    bob = make_code(ws, program=ann.program)
    other = make_code(ws)
    # clicks: 4 counted on the program (3 distinct addresses), 2 flagged, 1 before the period
    click(ann, "ip1"), click(ann, "ip1"), click(ann, "ip2"), click(bob, "ip3")
    click(ann, "ip9", flagged=True), click(ann, "ip1", flagged=True)
    click(ann, "ip4", at=NOW - timedelta(days=40))
    click(other, "ip5")
    # leads: 5 on the program in the period (1 qualified, 2 converted, 1 rejected), 1 before it
    referral(ann, "l1@x.example")
    referral(ann, "q1@x.example", state=ReferralState.QUALIFIED)
    c1 = referral(ann, "c1@x.example", state=ReferralState.CONVERTED)
    c2 = referral(ann, "c2@x.example", state=ReferralState.CONVERTED)
    referral(bob, "r1@x.example", state=ReferralState.REJECTED, reason="Duplicate")
    old = referral(bob, "old@x.example", state=ReferralState.CONVERTED, at=NOW - timedelta(days=40))
    o1 = referral(other, "o1@x.example", state=ReferralState.CONVERTED)
    conversion(c1, "1000.00"), conversion(c2, "250.50"), conversion(old, "99.00", "USD")  # bob's converts in the period
    conversion(o1, "10.00", at=NOW - timedelta(days=60))
    return {"program": ann.program, "other": other.program, "ann": ann, "bob": bob}


def test_funnel_numbers_computed_by_hand(tenant_a, funnel_data):
    since = NOW - timedelta(days=29)
    with workspace_scope(tenant_a.workspace):
        stats = funnel(tenant_a.workspace, program=funnel_data["program"], since=since, until=NOW + timedelta(days=1))

    assert stats["clicks"] == 4  # flagged ones and the one before the period left out
    assert stats["unique_clicks"] == 3  # ip1, ip2, ip3
    assert stats["leads"] == 5
    assert stats["qualified"] == 3  # qualified or converted
    assert stats["rejected"] == 1
    assert stats["conversions"] == 3  # by when the conversion occurred: bob's old lead converted now
    assert stats["conversion_rate"] == 40.0  # 2 of the period's 5 leads converted
    assert stats["revenue"] == {"EUR": Decimal("1250.50"), "USD": Decimal("99.00")}
    assert stats["repeat_referrers"] == 1  # ann: 2 conversions; bob: 1


def test_funnel_over_the_whole_workspace_and_all_time(tenant_a, funnel_data):
    with workspace_scope(tenant_a.workspace):
        stats = funnel(tenant_a.workspace)

    assert (stats["clicks"], stats["unique_clicks"], stats["leads"], stats["conversions"]) == (6, 5, 7, 4)
    assert stats["revenue"] == {"EUR": Decimal("1260.50"), "USD": Decimal("99.00")}
    assert stats["conversion_rate"] == round(100 * 4 / 7, 1)
    assert stats["repeat_referrers"] == 1


def test_funnel_without_leads_has_no_conversion_rate(tenant_a):
    with workspace_scope(tenant_a.workspace):
        stats = funnel(tenant_a.workspace)
    assert stats["conversion_rate"] is None and stats["revenue"] == {} and stats["clicks"] == 0


def test_the_pipeline_page_shows_the_funnel_of_the_period(client, tenant_a, funnel_data):
    client.force_login(tenant_a.viewer)
    query = f"?period=custom&since={(NOW - timedelta(days=29)):%Y-%m-%d}&until={NOW:%Y-%m-%d}&program={funnel_data['program'].pk}"

    response = client.get(pipeline_url(tenant_a, query))

    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats["clicks"], stats["unique_clicks"], stats["leads"], stats["conversions"]) == (4, 3, 5, 3)
    body = response.content.decode()
    assert "40.0%" in body and "1250.50 EUR" in body and "Repeat referrers" in body


@pytest.mark.parametrize(("query", "expected"), [
    ("state=converted", {"c1@x.example", "c2@x.example", "old@x.example", "o1@x.example"}),
    ("state=rejected", {"r1@x.example"}),
    ("q=C1@", {"c1@x.example"}),
    ("flagged=yes", {"l1@x.example"}),
])
def test_the_list_filters_by_state_flag_program_and_email(client, tenant_a, funnel_data, query, expected):
    """Flagged: those waiting for a decision (a rejected duplicate keeps its flag but is decided)."""
    Referral.objects.with_scopes_disabled().filter(referee_email__in=["l1@x.example", "r1@x.example"]).update(
        flags=[{"rule": "self_referral", "reason": "Self-referral"}])
    client.force_login(tenant_a.viewer)

    response = client.get(pipeline_url(tenant_a, f"?period=all&{query}"))

    assert {r.referee_email for r in response.context["page"].object_list} == expected


def test_the_list_filters_by_program_and_period(client, tenant_a, funnel_data):
    client.force_login(tenant_a.viewer)
    other = client.get(pipeline_url(tenant_a, f"?period=all&program={funnel_data['other'].pk}"))
    assert {r.referee_email for r in other.context["page"].object_list} == {"o1@x.example"}
    recent = client.get(pipeline_url(tenant_a, f"?period=custom&since={NOW:%Y-%m-%d}&until={NOW:%Y-%m-%d}"))
    assert "old@x.example" not in {r.referee_email for r in recent.context["page"].object_list}


def test_csv_export_has_the_filtered_rows_and_inert_cells(client, tenant_a):
    code = make_code(tenant_a.workspace)
    referral(code, "evil@x.example", state=ReferralState.REJECTED, reason="=HYPERLINK(1)")
    referral(code, "fine@x.example")
    client.force_login(tenant_a.viewer)

    response = client.get(reverse("referral_export", args=[tenant_a.workspace.slug]) + "?period=all&state=rejected")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "created_at", "program"]
    assert len(rows) == 2
    assert rows[1][6] == "evil@x.example" and rows[1][10] == "'=HYPERLINK(1)"


def test_a_referrals_page_shows_its_flags_and_reasons(client, tenant_a):
    code = make_code(tenant_a.workspace)
    r = referral(code, "flag@x.example", flags=[{"rule": "existing_advocate", "reason": "The referee is already a person of this workspace."}])
    client.force_login(tenant_a.manager)

    body = client.get(reverse("referral_detail", args=[tenant_a.workspace.slug, r.pk])).content.decode()

    assert "existing_advocate" in body and "The referee is already a person of this workspace." in body
    assert reverse("referral_action", args=[tenant_a.workspace.slug, r.pk, "approve"]) in body


def test_approving_a_flagged_referral_clears_its_flags(client, tenant_a):
    code = make_code(tenant_a.workspace)
    r = lead(code, code.advocate.email.replace("@", "+x@"))
    assert r.flags
    client.force_login(tenant_a.manager)

    response = client.post(reverse("referral_action", args=[tenant_a.workspace.slug, r.pk, "approve"]), {"note": "Checked"})

    assert response.status_code == 302
    r.refresh_from_db()
    assert r.flags == []


def test_qualify_then_reject_with_a_reason(client, tenant_a):
    r = lead(make_code(tenant_a.workspace), "lead@prospect.example")
    client.force_login(tenant_a.manager)
    action = lambda name: reverse("referral_action", args=[tenant_a.workspace.slug, r.pk, name])  # noqa: E731

    assert client.post(action("qualify")).status_code == 302
    r.refresh_from_db()
    assert r.state == ReferralState.QUALIFIED

    assert client.post(action("reject"), {"reason": "  "}).status_code == 400
    assert client.post(action("reject"), {"reason": "Not a fit"}).status_code == 302
    r.refresh_from_db()
    assert (r.state, r.reason) == (ReferralState.REJECTED, "Not a fit")

    refused = client.post(action("qualify"))
    assert refused.status_code == 409
    assert "cannot" in refused.content.decode() or "rejected" in refused.content.decode().lower()


def test_an_unknown_action_is_404(client, tenant_a):
    r = lead(make_code(tenant_a.workspace), "lead@prospect.example")
    client.force_login(tenant_a.manager)
    assert client.post(reverse("referral_action", args=[tenant_a.workspace.slug, r.pk, "convert"])).status_code == 404


@pytest.mark.parametrize("name", ["approve", "qualify", "reject"])
def test_a_viewer_reads_but_cannot_act(client, tenant_a, name):
    r = referral(make_code(tenant_a.workspace), "lead@x.example", flags=[{"rule": "duplicate", "reason": "Duplicate"}])
    client.force_login(tenant_a.viewer)

    assert client.get(reverse("referral_detail", args=[tenant_a.workspace.slug, r.pk])).status_code == 200
    assert client.post(reverse("referral_action", args=[tenant_a.workspace.slug, r.pk, name]), {"reason": "x"}).status_code == 403
    r.refresh_from_db()
    assert r.state == ReferralState.LEAD and r.flags


def test_another_workspaces_pipeline_and_referrals_are_404(client, tenant_a, tenant_b):
    theirs = referral(make_code(tenant_b.workspace), "b-secret@x.example")
    client.force_login(tenant_a.owner)

    assert client.get(pipeline_url(tenant_b)).status_code == 404
    mine_url = reverse("referral_detail", args=[tenant_a.workspace.slug, theirs.pk])
    assert client.get(mine_url).status_code == 404
    assert client.post(reverse("referral_action", args=[tenant_a.workspace.slug, theirs.pk, "reject"]), {"reason": "x"}).status_code == 404
    assert client.get(reverse("referral_program_settings", args=[tenant_a.workspace.slug, theirs.program_id])).status_code == 404
    assert "b-secret@x.example" not in client.get(pipeline_url(tenant_a, "?period=all")).content.decode()


@pytest.mark.parametrize("query", [
    "?period=nonsense", "?period=custom&since=2026-13-45&until=yesterday", "?state=won", "?flagged=maybe",
    "?program=abc", "?program=99999999999999999999", "?program=-1", "?q=%00", "?q=" + "x" * 5000, "?page=abc",
    "?page=0", "?page=99999", "?since=%FF%FE", "?period=custom&since=0001-01-01&until=9999-12-31",
    "?period=custom&until=0001-01-01", "?period=all&state=&flagged=&program=&q=",
])
def test_pipeline_pages_never_500_on_bad_query_strings(client, tenant_a, query):
    referral(make_code(tenant_a.workspace), "lead@x.example")
    client.force_login(tenant_a.viewer)

    assert client.get(pipeline_url(tenant_a, query)).status_code == 200
    export = client.get(reverse("referral_export", args=[tenant_a.workspace.slug]) + query)
    assert export.status_code == 200
    b"".join(export.streaming_content)


# session, user, membership, the filter's programs, the funnel (clicks, leads, revenue,
# repeat referrers), the page's count and rows, the nav's memberships
PIPELINE_QUERIES = 11


def test_the_pipeline_lists_queries_are_pinned_whatever_the_rows(client, tenant_a, django_assert_num_queries):
    client.force_login(tenant_a.viewer)
    r = referral(make_code(tenant_a.workspace), "first@x.example", state=ReferralState.CONVERTED,
                 flags=[{"rule": "duplicate", "reason": "d"}])
    conversion(r, "5.00")
    with django_assert_num_queries(PIPELINE_QUERIES):
        assert client.get(pipeline_url(tenant_a, "?period=all")).status_code == 200

    for n in range(30):
        conversion(referral(make_code(tenant_a.workspace), f"p{n}@x.example", state=ReferralState.CONVERTED), "1.00")
    with django_assert_num_queries(PIPELINE_QUERIES):
        response = client.get(pipeline_url(tenant_a, "?period=all&flagged=no&state=converted&q=x.example"))
    assert len(response.context["page"].object_list) == 30


def test_settings_of_a_program_are_saved_with_an_audit_row(client, tenant_a):
    program = make_code(tenant_a.workspace).program
    client.force_login(tenant_a.manager)
    url = reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk])

    response = client.post(url, {"referrer_points": 800, "referee_reward": "points", "referee_points": 100,
                                 "attribution_window_days": 30, "hold_days": 14})

    assert response.status_code == 302
    s = ReferralSettings.objects.with_scopes_disabled().get(program=program)
    assert (s.referrer_points, s.referee_reward, s.referee_points, s.attribution_window_days, s.hold_days) == (800, "points", 100, 30, 14)
    assert AuditLog.objects.with_scopes_disabled().filter(workspace=tenant_a.workspace, action="referrals.settings").exists()


@pytest.mark.parametrize("field", [{"attribution_window_days": 366}, {"attribution_window_days": 0}, {"hold_days": -1},
                                   {"referee_reward": "cash"}, {"referrer_points": "lots"}])
def test_settings_out_of_range_are_a_400(client, tenant_a, field):
    program = make_code(tenant_a.workspace).program
    client.force_login(tenant_a.manager)
    data = {"referrer_points": 500, "referee_reward": "coupon", "referee_points": 0, "attribution_window_days": "", "hold_days": 30, **field}

    response = client.post(reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk]), data)

    assert response.status_code == 400
    assert not ReferralSettings.objects.with_scopes_disabled().filter(program=program).exists()


def test_a_viewer_cannot_change_settings_or_upload_coupons(client, tenant_a):
    program = make_code(tenant_a.workspace).program
    client.force_login(tenant_a.viewer)

    assert client.get(reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk])).status_code == 200
    assert client.post(reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk]),
                       {"referrer_points": 1, "referee_reward": "none", "referee_points": 0, "hold_days": 0}).status_code == 403
    assert client.post(reverse("referral_coupons", args=[tenant_a.workspace.slug, program.pk]), {"codes": "A1"}).status_code == 403
    assert not Coupon.objects.with_scopes_disabled().exists()


def test_coupon_upload_reports_blank_duplicate_bad_and_pooled_lines_by_number(client, tenant_a):
    program = make_code(tenant_a.workspace).program
    add_pool(program, "OLD-1")
    client.force_login(tenant_a.manager)
    text = "SAVE-10\n\nSAVE-20\nSAVE-10\nhas space\nOLD-1\nSAVE-30\n"

    response = client.post(reverse("referral_coupons", args=[tenant_a.workspace.slug, program.pk]), {"codes": text})

    assert response.status_code == 200
    assert response.context["report"] == {"added": 3, "problems": [
        "Line 2 is blank.",
        "Line 4 repeats line 1 (SAVE-10).",
        "Line 5 has spaces or characters a coupon code cannot hold.",
        "Line 6 is already in the pool (OLD-1).",
    ]}
    codes = set(Coupon.objects.with_scopes_disabled().filter(program=program).values_list("code", flat=True))
    assert codes == {"OLD-1", "SAVE-10", "SAVE-20", "SAVE-30"}
    assert response.context["free"] == 4


def test_coupon_upload_from_a_csv_file_takes_the_first_column(client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    program = make_code(tenant_a.workspace).program
    client.force_login(tenant_a.manager)
    upload = SimpleUploadedFile("codes.csv", b"\xef\xbb\xbfCODE-A,10%\nCODE-B,20%\n", content_type="text/csv")

    response = client.post(reverse("referral_coupons", args=[tenant_a.workspace.slug, program.pk]), {"file": upload})

    assert response.status_code == 200 and response.context["report"]["added"] == 2
    assert set(Coupon.objects.with_scopes_disabled().filter(program=program).values_list("code", flat=True)) == {"CODE-A", "CODE-B"}


@pytest.mark.parametrize("data", [{"codes": ""}, {"codes": "   \n  "}, {"codes": "A\x00B"}])
def test_an_empty_or_broken_upload_is_a_400(client, tenant_a, data):
    program = make_code(tenant_a.workspace).program
    client.force_login(tenant_a.manager)

    assert client.post(reverse("referral_coupons", args=[tenant_a.workspace.slug, program.pk]), data).status_code == 400
    assert not Coupon.objects.with_scopes_disabled().exists()


def test_an_empty_coupon_pool_is_warned_about(client, tenant_a):
    program = make_code(tenant_a.workspace).program  # default referee reward: a coupon
    client.force_login(tenant_a.viewer)

    settings_page = client.get(reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk])).content.decode()
    programs_page = client.get(reverse("referral_programs", args=[tenant_a.workspace.slug])).content.decode()

    assert "The pool is empty" in settings_page
    assert "Empty pool" in programs_page
    add_pool(program, "ONE")
    assert "The pool is empty" not in client.get(
        reverse("referral_program_settings", args=[tenant_a.workspace.slug, program.pk])).content.decode()


def test_the_nav_links_to_the_pipeline(client, tenant_a):
    client.force_login(tenant_a.viewer)
    body = client.get(reverse("manager_home", args=[tenant_a.workspace.slug])).content.decode()
    assert pipeline_url(tenant_a) in body


def test_advocates_cannot_open_the_pipeline(client, tenant_a):
    client.force_login(tenant_a.advocate_user)
    assert client.get(pipeline_url(tenant_a)).status_code == 404


def test_an_other_advocates_referral_is_listed_with_its_advocate(client, tenant_a):
    ann = AdvocateFactory(workspace=tenant_a.workspace, name="Ann Referrer")
    referral(make_code(tenant_a.workspace, advocate=ann), "someone@x.example")
    client.force_login(tenant_a.viewer)
    assert "Ann Referrer" in client.get(pipeline_url(tenant_a, "?period=all")).content.decode()
