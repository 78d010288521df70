"""Exactly once under real concurrency (PRODUCT.md acceptance): the same conversion posted
50 times at once makes one conversion and one reward pair, whether the repeats share the
external id only or also one Idempotency-Key."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from referrals.models import Conversion, Coupon, Referral
from rewards.models import AdvocateFact, HeldReward
from tests.concurrency import errors_of, race
from tests.factories import AdvocateFactory

from .builders import add_pool, configure, lead, make_code

pytestmark = pytest.mark.django_db(transaction=True)

N = 50
EMAIL = "dana@prospect.example"
PAYLOAD = {"external_id": "deal-42", "referee_email": EMAIL, "value": "990.00", "currency": "EUR"}


def _setup(tenant, referee_reward: str):
    code = make_code(tenant.workspace)
    configure(code.program, referee_reward=referee_reward, referee_points=40, referrer_points=300)
    if referee_reward == "coupon":
        add_pool(code.program, *[f"C-{i}" for i in range(5)])
        referral = lead(code, EMAIL)
    else:
        AdvocateFactory(workspace=tenant.workspace, email=EMAIL)
        referral = lead(code, EMAIL)
        from advocacy.scoping import workspace_scope
        from referrals.services import clear_flags

        with workspace_scope(tenant.workspace):
            clear_flags(referral=referral, actor=tenant.manager)  # the referee is already an advocate
    return code, referral


def _post_all(tenant, headers: dict) -> list:
    def work(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.api_secret}")
        response = client.post("/api/v1/conversions/", data=json.dumps(PAYLOAD), content_type="application/json", **headers)
        return response.status_code, response.json()

    return race(N, work)


def _assert_once(tenant, code, referral, results, *, referee_reward):
    assert errors_of(results) == []
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) >= 1 and set(statuses) <= {200, 201}, statuses
    assert len({body["id"] for _, body in results}) == 1
    assert Conversion.objects.with_scopes_disabled().count() == 1
    assert Referral.objects.with_scopes_disabled().get(pk=referral.pk).state == "converted"
    keys = sorted(HeldReward.objects.with_scopes_disabled().values_list("idempotency_key", flat=True))
    if referee_reward == "coupon":
        assert keys == [f"referral:{referral.pk}:referrer"]
        assert Coupon.objects.with_scopes_disabled().filter(referral__isnull=False).count() == 1
    else:
        assert keys == [f"referral:{referral.pk}:referee", f"referral:{referral.pk}:referrer"]
    assert AdvocateFact.objects.with_scopes_disabled().get(advocate=code.advocate, fact="referrals_converted").count == 1


@pytest.mark.parametrize("referee_reward", ["coupon", "points"])
def test_50_concurrent_posts_of_one_external_id_make_one_conversion_and_one_reward_pair(tenant_a, referee_reward):
    code, referral = _setup(tenant_a, referee_reward)
    results = _post_all(tenant_a, {})
    assert sorted(s for s, _ in results).count(201) == 1
    _assert_once(tenant_a, code, referral, results, referee_reward=referee_reward)


def test_50_concurrent_posts_with_one_idempotency_key_make_one_conversion_and_one_reward_pair(tenant_a):
    code, referral = _setup(tenant_a, "coupon")
    results = _post_all(tenant_a, {"HTTP_IDEMPOTENCY_KEY": "conv-42"})
    # Each repeat either waited and replayed the first answer (201), or found it in progress (409).
    ok = [(s, b) for s, b in results if s in (200, 201)]
    busy = [s for s, b in results if s == 409]
    assert len(ok) + len(busy) == N and ok
    _assert_once(tenant_a, code, referral, ok, referee_reward="coupon")


def test_concurrent_referrals_of_one_referee_leave_one_lead_and_the_rest_duplicates(tenant_a):
    codes = [make_code(tenant_a.workspace) for _ in range(10)]

    def work(i):
        return lead(codes[i], "Dana@Prospect.example").pk

    results = race(len(codes), work)
    assert errors_of(results) == []
    states = sorted(Referral.objects.with_scopes_disabled().values_list("state", flat=True))
    assert states == ["lead"] + ["rejected"] * 9
