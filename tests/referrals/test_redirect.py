"""``/r/<code>``: a cached lookup, a 302 with ``?ref=`` and the attribution cookie, no
attribution for a paused program or a departed advocate, a friendly 404 for anything
else (PRODUCT.md "Referrals"; referrals/redirect.py, referrals/public.py)."""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie

import pytest
from django.core.cache import cache
from django.utils import timezone

from advocacy.models import Stage
from referrals.models import CODE_ALPHABET, ReferralCode, ReferralSettings
from referrals.redirect import (
    CACHE_PREFIX,
    clear_local_cache,
    forget_advocate_codes,
    forget_code,
    forget_program_codes,
    resolve_code,
    with_ref,
)
from tests.factories import AdvocateFactory, ProgramFactory

pytestmark = pytest.mark.django_db

DAY = 86400


def make_code(workspace, *, advocate=None, landing_url="https://landing.example/try", **program_fields) -> ReferralCode:
    advocate = advocate or AdvocateFactory(workspace=workspace)
    program = ProgramFactory(workspace=workspace, landing_url=landing_url, **program_fields)
    return ReferralCode.objects.with_scopes_disabled().create(
        workspace=workspace, program=program, advocate=advocate,
        code="".join(secrets.choice(CODE_ALPHABET) for _ in range(10)),
    )


@pytest.fixture(autouse=True)
def _fresh_process_cache():
    clear_local_cache()
    yield
    clear_local_cache()


@pytest.fixture
def code(tenant_a) -> ReferralCode:
    return make_code(tenant_a.workspace, advocate=tenant_a.advocate)


def follow(client, code: str, **extra):
    return client.get(f"/r/{code}", **extra)


def cookies(response) -> SimpleCookie:
    """The cookies the response sets, as a browser reads its Set-Cookie headers."""
    jar = SimpleCookie()
    for header, value in response.items():
        if header.lower() == "set-cookie":
            jar.load(value)
    for morsel in response.cookies.values():
        jar.load(morsel.output(header=""))
    return jar


# --- the redirect ------------------------------------------------------------------------


def test_a_link_redirects_to_the_landing_url_with_ref_and_sets_the_cookie_for_the_window(client, code):
    response = follow(client, code.code)

    assert response.status_code == 302
    assert response["Location"] == f"https://landing.example/try?ref={code.code}"
    cookie = cookies(response)["ref"]
    assert cookie.value == code.code
    assert cookie["max-age"] == str(90 * DAY)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/" and not cookie["secure"]
    assert response["Cache-Control"] == "no-store"


def test_the_landing_urls_own_query_string_and_fragment_are_kept(client, tenant_a):
    code = make_code(tenant_a.workspace, landing_url="https://landing.example/try?utm_source=advocates&x=a%20b#plans")

    response = follow(client, code.code)

    assert response["Location"] == f"https://landing.example/try?utm_source=advocates&x=a%20b&ref={code.code}#plans"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://l.example", "https://l.example/?ref=C0DE"),
    ("https://l.example/", "https://l.example/?ref=C0DE"),
    ("https://l.example/p?", "https://l.example/p?ref=C0DE"),
    ("https://l.example/p?ref=OLD&a=1", "https://l.example/p?a=1&ref=C0DE"),
    ("https://l.example/p?a=1&%72ef=OLD", "https://l.example/p?a=1&ref=C0DE"),
    ("https://l.example/p?a=1&a=2#f?ref=x", "https://l.example/p?a=1&a=2&ref=C0DE#f?ref=x"),
    ("http://l.example:8080/p;v?q=%26", "http://l.example:8080/p;v?q=%26&ref=C0DE"),
])
def test_ref_is_appended_to_any_landing_url(url, expected):
    assert with_ref(url, "C0DE") == expected


def test_the_cookie_lasts_the_programs_attribution_window_or_else_the_workspaces(client, tenant_a):
    tenant_a.workspace.attribution_window_days = 60
    tenant_a.workspace.save()
    own = make_code(tenant_a.workspace)
    ReferralSettings.objects.with_scopes_disabled().create(workspace=tenant_a.workspace, program=own.program,
                                                           attribution_window_days=30)
    inherited = make_code(tenant_a.workspace)
    ReferralSettings.objects.with_scopes_disabled().create(workspace=tenant_a.workspace, program=inherited.program)
    unset = make_code(tenant_a.workspace)

    assert cookies(follow(client, own.code))["ref"]["max-age"] == str(30 * DAY)
    assert cookies(follow(client, inherited.code))["ref"]["max-age"] == str(60 * DAY)
    assert cookies(follow(client, unset.code))["ref"]["max-age"] == str(60 * DAY)


def test_a_code_typed_in_lower_case_works(client, code):
    response = follow(client, code.code.lower())

    assert response.status_code == 302
    assert response["Location"].endswith(f"?ref={code.code}")
    assert cookies(response)["ref"].value == code.code


def test_the_trailing_slash_variant_redirects_too(client, code):
    assert client.get(f"/r/{code.code}/")["Location"].endswith(f"?ref={code.code}")


def test_a_cache_hit_runs_no_query(client, code, django_assert_num_queries):
    with django_assert_num_queries(1):  # the miss: one query, then cached
        assert follow(client, code.code).status_code == 302

    with django_assert_num_queries(0):
        response = follow(client, code.code)

    assert response.status_code == 302 and cookies(response)["ref"].value == code.code


def test_a_signed_in_visitor_costs_no_query_either(client, tenant_a, code, django_assert_num_queries):
    """The view never reads the session or the user."""
    client.force_login(tenant_a.owner)
    follow(client, code.code)

    with django_assert_num_queries(0):
        assert follow(client, code.code).status_code == 302


def test_head_redirects_and_other_methods_are_refused(client, code):
    assert client.head(f"/r/{code.code}").status_code == 302
    assert client.post(f"/r/{code.code}").status_code == 405
    assert client.put(f"/r/{code.code}").status_code == 405


# --- no attribution ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "draft", "archived"])
def test_a_program_that_is_not_active_redirects_without_ref_or_cookie(client, tenant_a, status):
    code = make_code(tenant_a.workspace, status=status, landing_url="https://landing.example/try?utm_source=x")

    response = follow(client, code.code)

    assert response.status_code == 302
    assert response["Location"] == "https://landing.example/try?utm_source=x"
    assert "ref" not in cookies(response)


@pytest.mark.parametrize("stage", [Stage.OPTED_OUT, Stage.ALUMNI, Stage.CANDIDATE, Stage.INVITED])
def test_a_departed_advocate_redirects_without_ref_or_cookie(client, tenant_a, stage):
    code = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace, stage=stage))

    response = follow(client, code.code)

    assert response.status_code == 302
    assert response["Location"] == "https://landing.example/try"
    assert "ref" not in cookies(response)


def test_an_erased_advocate_redirects_without_ref(client, tenant_a):
    code = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace, erased_at=timezone.now()))

    response = follow(client, code.code)

    assert response["Location"] == "https://landing.example/try" and "ref" not in cookies(response)


def test_a_paused_advocate_still_refers(client, tenant_a):
    """Pausing is a rest from asks, not leaving: their links keep their credit."""
    code = make_code(tenant_a.workspace, advocate=AdvocateFactory(workspace=tenant_a.workspace, stage=Stage.PAUSED))

    response = follow(client, code.code)

    assert response["Location"].endswith(f"?ref={code.code}") and cookies(response)["ref"].value == code.code


# --- the cache and its invalidation ----------------------------------------------------------


def test_forget_code_shows_a_paused_program_at_once(client, code):
    follow(client, code.code)
    code.program.status = "paused"
    code.program.save()

    assert follow(client, code.code)["Location"].endswith(f"?ref={code.code}")  # cached for up to a minute

    forget_code(code.code)

    assert follow(client, code.code)["Location"] == "https://landing.example/try"


def test_forget_program_codes_and_forget_advocate_codes_drop_every_code_they_name(tenant_a):
    program_codes = [make_code(tenant_a.workspace) for _ in range(2)]
    advocate = AdvocateFactory(workspace=tenant_a.workspace)
    advocate_codes = [make_code(tenant_a.workspace, advocate=advocate) for _ in range(2)]
    for c in program_codes + advocate_codes:
        resolve_code(c.code)
    other = make_code(tenant_a.workspace)
    resolve_code(other.code)

    forget_program_codes(program_codes[0].program)
    forget_advocate_codes(advocate)

    assert cache.get(CACHE_PREFIX + program_codes[0].code) is None
    assert cache.get(CACHE_PREFIX + program_codes[1].code) is not None
    assert all(cache.get(CACHE_PREFIX + c.code) is None for c in advocate_codes)
    assert cache.get(CACHE_PREFIX + other.code) is not None


def test_a_hot_code_is_answered_from_the_process_without_a_cache_read(client, code, monkeypatch):
    follow(client, code.code)

    def no_round_trip(*args, **kwargs):
        raise AssertionError("the shared cache was read")

    monkeypatch.setattr(cache, "get", no_round_trip)

    assert follow(client, code.code)["Location"].endswith(f"?ref={code.code}")


def test_without_the_process_layer_a_hit_is_one_cache_read_and_no_query(client, code, settings, monkeypatch,
                                                                         django_assert_num_queries):
    settings.REFERRAL_LOCAL_CACHE_SECONDS = 0
    follow(client, code.code)
    reads = []
    real = cache.get
    monkeypatch.setattr(cache, "get", lambda *a, **k: reads.append(a) or real(*a, **k))

    with django_assert_num_queries(0):
        assert follow(client, code.code).status_code == 302

    assert len(reads) == 1


def test_an_unknown_code_is_cached_too(client, tenant_a, django_assert_num_queries):
    follow(client, "ZZZZZZZZZZ")

    with django_assert_num_queries(0):
        assert follow(client, "ZZZZZZZZZZ").status_code == 404


def test_a_cache_that_is_down_is_read_through_to_the_database(client, code, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    response = follow(client, code.code)

    assert response.status_code == 302 and response["Location"].endswith(f"?ref={code.code}")


# --- not found ----------------------------------------------------------------------------------


def test_an_unknown_code_answers_a_friendly_404_page(client, tenant_a):
    response = follow(client, "ZZZZZZZZZZ")

    assert response.status_code == 404
    assert "public/referral_not_found.html" in [t.name for t in response.templates]
    assert "This link doesn't lead anywhere" in response.content.decode()
    assert "ref" not in cookies(response)


def test_a_program_without_a_landing_url_answers_404(client, tenant_a):
    """Nowhere to send the visitor: the program is not set up for referrals yet."""
    code = make_code(tenant_a.workspace, landing_url="")

    assert follow(client, code.code).status_code == 404


def test_a_landing_url_that_is_not_http_answers_404(client, tenant_a):
    code = make_code(tenant_a.workspace, landing_url="javascript:alert(1)")

    assert follow(client, code.code).status_code == 404


GARBAGE = [
    "Z" * 17,
    "Z" * 5000,
    "ÄÖÜÄÖÜÄÖÜ",
    "%C3%84%C3%96%C3%9C%C3%84%C3%96",
    "名前名前名前名前名前",
    "%F0%9F%98%80%F0%9F%98%80",
    "' OR 1=1 --",
    "'%20OR%201%3D1%20--",
    "1;DROP%20TABLE%20referrals_click",
    "%27%3B--",
    "%00",
    "ZZZZ%00ZZZZ",
    "%",
    "%%32%35",
    "%2e%2e%2f%2e%2e%2f",
    "..",
    "ZZZ",
    "ZZZZZ%2FZZZZZ",
    "a/b",
    "../../etc/passwd",
    "",
    "%20",
    "<script>alert(1)</script>",
    "%0d%0aSet-Cookie:%20x=1",
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_codes_answer_404_never_500(client, tenant_a, garbage, django_assert_max_num_queries):
    with django_assert_max_num_queries(0):
        response = client.get(f"/r/{garbage}")
        slashed = client.get(f"/r/{garbage}/")

    assert response.status_code == 404, response.status_code
    assert slashed.status_code == 404, slashed.status_code
    assert "ref" not in cookies(response) and "Set-Cookie: x" not in str(response.headers)


def test_garbage_given_to_resolve_code_directly_is_none(tenant_a):
    for garbage in ["", "Z" * 100, "ÄÖÜÄÖÜÄÖÜ", "' OR 1=1 --", "\x00ZZZZZZZ", None, 12345678]:
        assert resolve_code(garbage) is None


def test_the_cookie_is_secure_when_the_sites_cookies_are(client, code, settings):
    settings.SESSION_COOKIE_SECURE = True

    assert cookies(follow(client, code.code))["ref"]["secure"]
