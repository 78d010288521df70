"""NPS maths (PRODUCT.md "NPS surveys"): NPS = 100 x (promoters - detractors) / responses,
one decimal with halves away from zero, null with no responses; response rate = responses /
people sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nps.maths import NpsFigures, nps, rate
from nps.models import category_of


def test_no_responses_is_null_not_zero():
    assert nps(0, 0, 0) is None
    assert NpsFigures().nps is None
    assert NpsFigures().as_dict()["nps"] is None


def test_all_passives_is_zero_point_zero():
    assert nps(0, 5, 0) == Decimal("0.0")
    assert str(nps(0, 5, 0)) == "0.0"


def test_all_promoters_is_exactly_100_and_all_detractors_exactly_minus_100():
    assert nps(7, 0, 0) == Decimal("100.0")
    assert nps(0, 0, 3) == Decimal("-100.0")


@pytest.mark.parametrize("promoters, passives, detractors, expected", [
    (1, 1, 1, "0.0"),            # (1 - 1) / 3
    (2, 1, 0, "66.7"),           # 200 / 3 = 66.666…
    (0, 1, 2, "-66.7"),          # -200 / 3
    (1, 2, 0, "33.3"),           # 100 / 3 = 33.333…
    (5, 3, 2, "30.0"),           # 100 x 3 / 10
    (50, 30, 20, "30.0"),
    (1, 5, 0, "16.7"),           # 100 / 6 = 16.666…
    (3, 4, 1, "25.0"),           # 200 / 8
    (1, 6, 1, "0.0"),
    (1, 7, 0, "12.5"),           # 100 / 8 exactly
    (49, 0, 31, "22.5"),         # 1800 / 80
    (7, 2, 4, "23.1"),           # 300 / 13 = 23.0769…
])
def test_mixed_answers_computed_by_hand(promoters, passives, detractors, expected):
    assert nps(promoters, passives, detractors) == Decimal(expected)


def test_halves_round_away_from_zero():
    # 100 x 1 / 8 = 12.5 (exact); 100 x 49 / 400 = 12.25 → 12.3; and its negative → -12.3.
    assert nps(49, 351, 0) == Decimal("12.3")
    assert nps(0, 351, 49) == Decimal("-12.3")
    # 100 x 1 / 16 = 6.25 → 6.3
    assert nps(1, 15, 0) == Decimal("6.3")


def test_the_response_rate_is_responses_over_people_sent_with_one_decimal():
    assert rate(1, 3) == Decimal("33.3")
    assert rate(2, 3) == Decimal("66.7")
    assert rate(0, 5) == Decimal("0.0")
    assert rate(3, 0) is None
    figures = NpsFigures(promoters=2, passives=1, detractors=1, sent=8)
    assert (figures.responses, figures.nps, figures.response_rate) == (4, Decimal("25.0"), Decimal("50.0"))
    assert NpsFigures(promoters=1).response_rate is None


def test_as_dict_gives_numbers_with_one_decimal():
    data = NpsFigures(promoters=2, passives=0, detractors=1, sent=4).as_dict()
    assert data == {"nps": 33.3, "responses": 3, "promoters": 2, "passives": 0, "detractors": 1, "sent": 4,
                    "response_rate": 75.0}


@pytest.mark.parametrize("score, category", [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"),
                                             (9, "promoter"), (10, "promoter")])
def test_the_categories_of_scores(score, category):
    assert category_of(score) == category
