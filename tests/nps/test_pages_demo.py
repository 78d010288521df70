"""nps/demo.py: the demo's NPS (a year of a quarterly survey answered through the service,
detractor follow-ups, Ada's open portal prompt) is there after a run and a rerun adds nothing."""

from __future__ import annotations

import random

import pytest

from advocacy.models import Task, TaskKind
from advocacy.scoping import workspace_scope
from nps import demo, queries
from nps.models import Survey, SurveyResponse, SurveySend
from tests.factories import AdvocateFactory

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_year_of_answers_a_detractor_task_and_adas_prompt_and_reruns_safely(client, tenant_a):
    ada = AdvocateFactory(workspace=tenant_a.workspace, email=demo.DEMO_EMAIL)
    for _ in range(70):
        AdvocateFactory(workspace=tenant_a.workspace)
    with workspace_scope(tenant_a.workspace):
        first = demo.seed(workspace=tenant_a.workspace, rng=random.Random(1))
        survey = Survey.objects.get(name=demo.RELATIONSHIP)
        sends = SurveySend.objects.filter(survey=survey).count()
        answers = SurveyResponse.objects.filter(survey=survey)
        assert sends == demo.ROUNDS * demo.PER_ROUND
        assert 50 <= answers.count() <= 90
        assert set(answers.values_list("category", flat=True)) == {"promoter", "passive", "detractor"}
        assert answers.exclude(comment="").exists()
        months = [m for m, f in queries.trend_by_month(tenant_a.workspace, survey=survey) if f.responses]
        assert len(months) >= 9
        assert Task.objects.filter(kind=TaskKind.DETRACTOR, status=Task.Status.OPEN).exists()
        detractors = answers.filter(category="detractor").count()
        assert 5 <= detractors <= 40
        prompt = queries.open_prompt(ada)
        assert prompt is not None and prompt.survey.name == demo.ONBOARDING
        second = demo.seed(workspace=tenant_a.workspace, rng=random.Random(1))
        assert SurveySend.objects.count() == sends + 1 and "already seeded" in second
    assert "answers" in first
    client.force_login(tenant_a.manager)
    assert client.get(f"/w/{tenant_a.workspace.slug}/nps/surveys/{survey.pk}/").status_code == 200
