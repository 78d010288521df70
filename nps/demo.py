"""Demo data of the NPS app (called by ``seed_demo``; safe to rerun: a second run finds the
relationship survey and adds nothing).

"Quarterly relationship NPS": a recurring survey (every 90 days) whose four rounds went
out over the last twelve months, about 120 sends in all (30 people a round, nobody twice
within 90 days), and about 70 answers spread over the year, recorded through
``record_answer`` so the loop runs as it would have (promoters' badge facts, detractors'
"no asks" and follow-up tasks). The older detractor follow-ups are closed with what was
done; the recent ones stay open for the manager. Sends are written as the round wrote them
(their contacts are history, so the budget of today is not drawn on).

"Onboarding check-in": a portal survey with one open send to ada@example.com a few days
ago, so her portal shows the prompt.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from advocacy.models import Advocate, Stage, Task, Workspace
from advocacy.services.tasks import close_task

from .loop import run_settled_loop
from .models import Schedule, Survey, SurveySend, SurveyStatus, category_of
from .services import create_survey, record_answer

RELATIONSHIP = "Quarterly relationship NPS"
ONBOARDING = "Onboarding check-in"
DEMO_EMAIL = "ada@example.com"
ROUNDS = 4
PER_ROUND = 30
ANSWER_SHARE = 0.58

COMMENTS = {
    "promoter": ["The team answers within the hour, every time.", "It saved us two days a month on reporting.",
                 "Onboarding was painless.", "Great product, great people.", "", ""],
    "passive": ["Good, but the mobile app lags behind.", "Does the job; pricing is a stretch for us.", "", ""],
    "detractor": ["Support took a week to answer our ticket.", "The last release broke our SSO.",
                  "Too expensive for what we use.", "Exports time out on large accounts.", ""],
}
FOLLOW_UP_NOTES = ["Called them: fix shipped, they are happy again.", "Met with their admin; a credit was applied.",
                   "Walked them through the new export; they will re-score next quarter."]


def _score(rng: random.Random, month_index: int) -> int:
    """Scores drift up over the year (the product improved): more promoters later."""
    promoter, passive = 0.34 + 0.015 * month_index, 0.30
    draw = rng.random()
    if draw < promoter:
        return rng.choice([9, 10])
    if draw < promoter + passive:
        return rng.choice([7, 8])
    return rng.choice([2, 3, 4, 5, 6, 6, 0])


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    existing = Survey.objects.filter(workspace=workspace, name=RELATIONSHIP).first()
    if existing is not None:
        return (f"“{RELATIONSHIP}” already seeded ({SurveySend.objects.filter(workspace=workspace, survey=existing).count()} sends, "
                f"{existing.responses.count()} answers)")
    manager = workspace.memberships.select_related("user").order_by("id").first()
    actor = manager.user if manager else None
    local = random.Random(61)  # independent of the caller's draws
    now = timezone.now()
    people = list(Advocate.objects.filter(workspace=workspace, erased_at__isnull=True)
                  .exclude(stage=Stage.OPTED_OUT).exclude(email=DEMO_EMAIL).order_by("id")[:PER_ROUND * 2])
    if not people:
        return "NPS: no advocates to survey"

    survey = create_survey(workspace=workspace, actor=actor, data={
        "name": RELATIONSHIP, "audience": "all", "channels": ["email", "portal"], "schedule": Schedule.RECURRING,
        "every_days": 90,
    })
    first_round = now - timedelta(days=90 * (ROUNDS - 1) + 75)  # about a year ago
    sends: list[SurveySend] = []
    for round_no in range(1, ROUNDS + 1):
        sent_at = first_round + timedelta(days=90 * (round_no - 1))
        # Alternate halves of the people: nobody is asked twice within 90 days.
        group = people[(round_no % 2) * PER_ROUND:(round_no % 2) * PER_ROUND + PER_ROUND] or people[:PER_ROUND]
        sends += SurveySend.objects.bulk_create([
            SurveySend(workspace=workspace, survey=survey, advocate=a, round=round_no, sent_at=sent_at,
                       channel="email" if local.random() < 0.8 else "portal") for a in group
        ], ignore_conflicts=True)
    sends = list(SurveySend.objects.filter(workspace=workspace, survey=survey).order_by("sent_at", "id"))
    answered = 0
    for send in sends:
        if local.random() > ANSWER_SHARE:
            continue
        # Answered within the 90 days after the send (a few the same day), never in the future.
        at = min(send.sent_at + timedelta(days=local.choice([0, 0, 1, 2, 3, 7, 14, 21, 30, 40, 50, 60, 75, 85]), hours=local.randint(1, 20)),
                 now - timedelta(hours=1))
        month_index = max(0, min(11, (at - first_round).days // 30))
        score = _score(local, month_index)
        comment = local.choice(COMMENTS[category_of(score)])
        response = record_answer(send=send, score=score, channel=send.channel, comment=comment or None, now=at)
        # The loop as it ran then (live answers run it after a settle period, nps/loop.py;
        # that later run finds it done).
        run_settled_loop(workspace_id=workspace.pk, response_id=response.pk, now=at)
        answered += 1
    Survey.objects.filter(pk=survey.pk).update(
        status=SurveyStatus.ACTIVE, rounds=ROUNDS, last_run_at=first_round + timedelta(days=90 * (ROUNDS - 1)),
        next_run_at=first_round + timedelta(days=90 * ROUNDS),
    )
    # The older detractor follow-ups were handled; the last month's (and the latest) wait for the manager.
    closed = 0
    followed = list(survey.responses.filter(follow_up_task__status=Task.Status.OPEN)
                    .select_related("follow_up_task").order_by("answered_at", "id"))
    for response in followed[:-1]:  # the latest detractor's follow-up stays open, whatever its date
        task = response.follow_up_task
        if response.answered_at < now - timedelta(days=30):
            close_task(task=task, actor=actor, notes=local.choice(FOLLOW_UP_NOTES))
            closed += 1
    open_tasks = Task.objects.filter(workspace=workspace, kind="detractor", status=Task.Status.OPEN).count()

    prompt = ""
    ada = Advocate.objects.filter(workspace=workspace, email=DEMO_EMAIL, erased_at__isnull=True).first()
    if ada is not None and not Survey.objects.filter(workspace=workspace, name=ONBOARDING).exists():
        onboarding = create_survey(workspace=workspace, actor=actor, data={
            "name": ONBOARDING, "audience": "all", "channels": ["portal"], "schedule": Schedule.ONCE,
            "question": "Now that you are set up, how likely are you to recommend {company} to a friend or colleague?",
        })
        SurveySend.objects.create(workspace=workspace, survey=onboarding, advocate=ada, round=1, channel="portal",
                                  sent_at=now - timedelta(days=3))
        Survey.objects.filter(pk=onboarding.pk).update(status=SurveyStatus.DONE, rounds=1, last_run_at=now - timedelta(days=3))
        prompt = f"; {DEMO_EMAIL} has an open survey in the portal"
    return (f"“{RELATIONSHIP}”: {len(sends)} sends over {ROUNDS} rounds, {answered} answers, "
            f"{closed} detractor follow-ups closed and {open_tasks} open{prompt}")
