"""The landing page's lead endpoint POST /r/<code>/lead: JSON or form fields, CORS only for
the program's landing origin (and its preflight), CSRF-exempt, rate-limited per IP, JSON
answers that reveal nothing about the workspace's people."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.test import Client

from referrals.leads import landing_origin
from referrals.models import Referral
from tests.factories import AdvocateFactory

from .builders import make_code

pytestmark = pytest.mark.django_db

ORIGIN = "https://landing.example"


def url(code) -> str:
    return f"/r/{code.code}/lead"


def post(client, path, data, *, origin=ORIGIN, as_json=True, **extra):
    if origin:
        extra["HTTP_ORIGIN"] = origin
    if as_json:
        return client.post(path, data=json.dumps(data), content_type="application/json", **extra)
    return client.post(path, data=data, **extra)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def test_a_json_lead_from_the_landing_origin_is_created_with_the_cors_header(csrf_client, tenant_a):
    code = make_code(tenant_a.workspace)
    response = post(csrf_client, url(code), {"email": "Dana@Prospect.example", "name": "Dana", "company": "Prospect"})
    assert response.status_code == 201, response.content
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]
    assert response.json()["ok"] is True
    referral = Referral.objects.with_scopes_disabled().get()
    assert (referral.referee_email, referral.referee_name, referral.referee_company, referral.source) == (
        "dana@prospect.example", "Dana", "Prospect", "form")
    assert referral.code_id == code.pk


def test_a_form_encoded_lead_without_an_origin_is_created(csrf_client, tenant_a):
    code = make_code(tenant_a.workspace)
    response = post(csrf_client, url(code), {"email": "dana@prospect.example"}, origin=None, as_json=False)
    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response
    assert Referral.objects.with_scopes_disabled().count() == 1


def test_the_code_may_be_lower_case(client, tenant_a):
    code = make_code(tenant_a.workspace)
    assert post(client, f"/r/{code.code.lower()}/lead", {"email": "d@prospect.example"}).status_code == 201


def test_the_preflight_of_the_landing_origin_is_allowed(client, tenant_a):
    code = make_code(tenant_a.workspace)
    response = client.options(url(code), HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"].lower() == "content-type"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://landing.example", "https://landing.example:8443",
                                    "https://sub.landing.example", "null"])
def test_other_origins_get_no_cors_header_and_their_posts_are_refused(client, tenant_a, origin):
    code = make_code(tenant_a.workspace)
    preflight = client.options(url(code), HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 204 and "Access-Control-Allow-Origin" not in preflight
    response = post(client, url(code), {"email": "dana@prospect.example"}, origin=origin)
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert not Referral.objects.with_scopes_disabled().exists()


def test_the_landing_origin_keeps_a_non_default_port():
    assert landing_origin("https://Landing.Example:8443/try?x=1") == "https://landing.example:8443"
    assert landing_origin("https://landing.example:443/") == "https://landing.example"
    assert landing_origin("ftp://landing.example/") is None
    assert landing_origin("") is None


def test_a_program_without_a_landing_url_allows_no_browser_origin(client, tenant_a):
    code = make_code(tenant_a.workspace)
    code.program.landing_url = ""
    code.program.save()
    assert post(client, url(code), {"email": "d@prospect.example"}).status_code == 403
    assert post(client, url(code), {"email": "d@prospect.example"}, origin=None).status_code == 201


@pytest.mark.parametrize("path", ["/r/NOPE234567/lead", "/r/%27%20OR%201%3D1/lead", "/r/" + "X" * 300 + "/lead",
                                  "/r/%C3%84%C3%96%C3%9C/lead"])
def test_an_unknown_or_garbage_code_is_a_json_404(client, tenant_a, path):
    response = client.post(path, data=json.dumps({"email": "d@prospect.example"}), content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("payload", "field"), [
    ({"email": "not-an-email"}, "email"), ({}, "email"), ({"email": "d@prospect.example", "name": "x" * 201}, "name"),
    ({"email": "d@prospect.example", "company": "a\u0000b"}, "company"), ({"email": ["d@prospect.example"]}, "email"),
])
def test_bad_input_is_a_json_400_with_the_field(client, tenant_a, payload, field):
    code = make_code(tenant_a.workspace)
    response = post(client, url(code), payload)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # the landing page can show the message


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json_is_400(client, tenant_a, body):
    code = make_code(tenant_a.workspace)
    response = client.post(url(code), data=body, content_type="application/json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400


def test_get_is_405(client, tenant_a):
    response = client.get(url(make_code(tenant_a.workspace)))
    assert response.status_code == 405 and "POST" in response["Allow"]


def test_a_paused_programs_code_is_409(client, tenant_a):
    code = make_code(tenant_a.workspace, status="paused")
    assert post(client, url(code), {"email": "d@prospect.example"}).status_code == 409


def test_a_flagged_or_duplicate_lead_gets_the_same_answer_as_any_other(client, tenant_a):
    """The endpoint is public: it must not tell a visitor whether an email is known."""
    code = make_code(tenant_a.workspace)
    AdvocateFactory(workspace=tenant_a.workspace, email="known@prospect.example")
    answers = [post(client, url(code), {"email": e}) for e in
               ("new@prospect.example", "known@prospect.example", "new@prospect.example", code.advocate.email)]
    assert {(r.status_code, r.content) for r in answers} == {(201, answers[0].content)}
    assert Referral.objects.with_scopes_disabled().count() == 3  # the same referee through the same code: one lead


def test_more_than_the_rate_from_one_ip_is_429_for_a_minute(client, tenant_a, settings):
    settings.REFERRAL_LEAD_RATE = 3
    code = make_code(tenant_a.workspace)
    with time_machine.travel("2026-05-10T12:00:05Z", tick=False) as traveller:
        codes = [post(client, url(code), {"email": f"p{i}@prospect.example"}).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
        other_ip = post(client, url(code), {"email": "q@prospect.example"}, REMOTE_ADDR="10.9.9.9")
        assert other_ip.status_code == 201
        traveller.shift(60)
        assert post(client, url(code), {"email": "late@prospect.example"}).status_code == 201
    assert Referral.objects.with_scopes_disabled().count() == 5
