"""The benchmark's URLconf (bench/redirect_settings.py): the site's own patterns, after a
bare view that only redirects, as the yardstick /r/<code> is measured against. This route
exists only under the benchmark's settings; the site's URLconf has no such view."""

from django.http import HttpResponseRedirect
from django.urls import path

from advocacy.urls import handler400, handler403, handler404, handler500  # noqa: F401
from advocacy.urls import urlpatterns as site


def bare_redirect(request, code: str):
    return HttpResponseRedirect("https://landing.example/try")


urlpatterns = [path("bare/<str:code>", bare_redirect, name="bench_bare_redirect"), *site]
