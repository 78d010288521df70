"""Garbage in URLs and query strings of the pages answers 4xx or a normal page, never 500."""

import pytest

pytestmark = pytest.mark.django_db

@pytest.mark.parametrize("path", [
    "/w/alpha/advocates/99999999999999999999/",
    "/w/alpha/advocates/?page=abc", "/w/alpha/advocates/?page=99999", "/w/alpha/advocates/?sort=bogus",
    "/w/alpha/advocates/?stage=nope&type=x&tag=" + "x" * 300, "/w/alpha/advocates/?q=%00",
    "/w/alpha/advocates/export.csv?stage=zzz", "/w/alpha/audit/?page=-1", "/w/alpha/advocates/import/99999999999999999999/progress.json",
    "/portal/alpha/login/?next=https://evil.example", "/invitations/staff/" + "x" * 500 + "/",
])
def test_garbage_in_page_urls_never_causes_a_500(client, tenant_a, path):
    client.force_login(tenant_a.owner)
    r = client.get(path)
    assert r.status_code < 500, (path, r.status_code)


@pytest.mark.parametrize(("name", "data"), [
    ("advocate_stage", {"stage": "astronaut"}),
    ("advocate_stage", {}),
    ("advocate_edit", {"email": "not-an-email", "customer_since": "2024-02-30", "type": "robot"}),
])
def test_garbage_in_advocate_forms_is_refused_without_a_500(client, tenant_a, name, data):
    client.force_login(tenant_a.owner)
    r = client.post(f"/w/alpha/advocates/{tenant_a.advocate.pk}/" + ("stage/" if name == "advocate_stage" else "edit/"), data)
    assert r.status_code in (302, 400)


def test_garbage_in_bulk_tag_is_refused_without_a_500(client, tenant_a):
    client.force_login(tenant_a.owner)
    r = client.post("/w/alpha/advocates/bulk-tag/", {"advocate": ["abc", "99999999999999999999"], "tag": "x" * 80, "mode": "zap"})
    assert r.status_code == 302
