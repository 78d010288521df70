"""The walk itself: it finds every area's routes, every keyword argument has a builder,
every route outside a workspace is accounted for, and a new unregistered one fails."""

from __future__ import annotations

import pytest
from django.urls import include, path, re_path

from advocacy.api.urls import router

from . import routes
from .routes import API_OBJECTS, PUBLIC_ROUTES, Route, all_routes, missing_kwargs, walk


def test_walk_finds_the_routes_of_every_area():
    by_area: dict[str, set[str]] = {}
    for route in all_routes():
        by_area.setdefault(route.area, set()).add(route.name)
    assert {"manager_home", "advocate_detail", "member_remove", "api_key_revoke"} <= by_area["manager"]
    assert {"portal_home", "portal_login", "portal_stage"} <= by_area["portal"]
    assert {"advocate-list", "advocate-detail", "event-list"} <= by_area["api"]
    assert {"account_login", "account_signup"} <= by_area["accounts"]
    assert "index" in by_area["admin"]
    assert len(by_area["manager"]) >= 23


def test_every_url_kwarg_of_every_route_has_a_builder():
    problems = [p for route in all_routes() for p in missing_kwargs(route)]
    assert not problems, "\n".join(problems)


def test_every_route_outside_a_workspace_is_classified():
    unclassified = [
        f"classify {route} in tests/isolation/routes.py PUBLIC_ROUTES (or move it under /w/<slug>/ or /portal/<slug>/)"
        for route in all_routes()
        if route.area == "public" and route.label not in PUBLIC_ROUTES
    ]
    assert not unclassified, "\n".join(unclassified)


def test_every_api_route_comes_from_a_registered_viewset():
    viewsets = {viewset for _, viewset, _ in router.registry}
    strays = [
        f"{route} is under /api/v1/ but not from a viewset of advocacy/api/urls.py's router: register it "
        "there (WorkspaceViewSet) so the isolation suite walks it"
        for route in all_routes()
        if route.area == "api" and route.view_class not in viewsets
    ]
    assert not strays, "\n".join(strays)


def test_every_api_resource_has_an_object_builder():
    missing = [
        f"register how to build pk for the API basename {basename!r} ({viewset.__name__}) in "
        "tests/isolation/routes.py API_OBJECTS"
        for _, viewset, basename in router.registry
        if basename not in API_OBJECTS
    ]
    assert not missing, "\n".join(missing)


def _dummy(request, **kwargs):  # pragma: no cover - never called
    raise AssertionError


def test_a_new_route_with_an_unknown_kwarg_is_reported_with_what_to_do():
    manager = [path("widgets/<int:widget_id>/", _dummy, name="widget_detail")]
    found = walk([path("w/<slug:slug>/", include(manager))])
    assert [(r.name, r.area, r.kwargs) for r in found] == [("widget_detail", "manager", ("slug", "widget_id"))]
    [problem] = missing_kwargs(found[0])
    assert "register how to build 'widget_id' for widget_detail" in problem
    assert "tests/isolation/routes.py" in problem


def test_a_route_whose_kwarg_is_unknown_fails_the_test_that_builds_it():
    route = walk([path("portal/<slug:slug>/", include([re_path(r"^gadgets/(?P<gadget_id>\d+)/$", _dummy, name="gadget")]))])[0]
    assert route.area == "portal"
    with pytest.raises(pytest.fail.Exception, match="register how to build 'gadget_id' for gadget"):
        routes.build_kwargs(route, slug="alpha", objects_of=None)


def test_a_new_top_level_route_must_be_classified():
    route = walk([path("reports/<int:report_id>/", _dummy, name="report")])[0]
    assert route.area == "public" and route.label not in PUBLIC_ROUTES
    assert isinstance(route, Route)
