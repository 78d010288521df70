import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_manager_sees_advocate_list(client, tenant_a):
    client.force_login(tenant_a.manager)
    response = client.get(reverse("advocate_list", args=[tenant_a.workspace.slug]))
    assert response.status_code == 200
    assert tenant_a.advocate.name in response.content.decode()


def test_api_lists_advocates(api_a, tenant_a):
    response = api_a.get("/api/v1/advocates/")
    assert response.status_code == 200
    assert [a["email"] for a in response.json()["results"]] == [tenant_a.advocate.email]
