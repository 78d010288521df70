"""Demo data of the programs app (called by ``seed_demo``; safe to rerun): three programs,
their asks, assignments in every state through the real services (approval credits the
points through the ledger), outcomes, an invitation and a few tasks."""

from __future__ import annotations

import random
from decimal import Decimal

from django.utils import timezone

from advocacy.models import Advocate, Stage, TaskKind, Workspace
from advocacy.services.tasks import open_task

from . import services
from .models import (
    Ask,
    AskKind,
    Assignment,
    AssignmentState,
    DealStatus,
    Effort,
    Goal,
    OutcomeKind,
    Program,
)

PROGRAMS = [
    ("Reviews that help buyers decide", Goal.REVIEWS, "Honest reviews on G2 and Capterra from people who use us every day.",
     {"reviews": 40, "completions": 60}),
    ("Customer references", Goal.REFERENCES, "Short calls with prospects who want to hear from a peer.",
     {"reference_calls": 12, "pipeline": 500000, "revenue_won": 200000}),
    ("Beta circle", Goal.BETA_FEEDBACK, "Early access to new features, and a direct line to the product team.",
     {"completions": 25}),
]
ASKS = [
    (0, AskKind.REVIEW, "Review us on G2", Effort.SMALL, 100, 20, "Ten minutes: what you use us for, what you like, what could be better."),
    (0, AskKind.REVIEW, "Review us on Capterra", Effort.SMALL, 80, 15, "A short review on Capterra; honesty beats praise."),
    (0, AskKind.SOCIAL_SHARE, "Share our launch post", Effort.SMALL, 50, 30, "Share the launch on LinkedIn with a line of your own."),
    (1, AskKind.REFERENCE_CALL, "Reference call with a fintech prospect", Effort.MEDIUM, 200, 3,
     "A 30-minute call with a prospect's operations lead; we send you their questions first."),
    (1, AskKind.CASE_STUDY, "Be our next case study", Effort.LARGE, 400, 2, "An interview and a draft you approve before anything is published."),
    (2, AskKind.BETA_FEEDBACK, "Try the new reporting beta", Effort.MEDIUM, 150, 10, "Use the beta for a week and tell us what breaks."),
    (2, AskKind.SURVEY, "Five questions on the roadmap", Effort.SMALL, 50, 40, "Five questions, five minutes."),
]


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    manager = workspace.memberships.select_related("user").order_by("id").first()
    actor = manager.user if manager else None
    programs = []
    for name, goal, description, objectives in PROGRAMS:
        program = Program.objects.filter(workspace=workspace, name=name).first() or services.create_program(
            workspace=workspace, actor=actor,
            data={"name": name, "goal": goal, "description": description, "objectives": objectives},
        )
        programs.append(program)
    asks = []
    for index, kind, title, effort, points, capacity, instructions in ASKS:
        ask = Ask.objects.filter(workspace=workspace, title=title).first() or services.create_ask(
            workspace=workspace, actor=actor,
            data={"program": programs[index], "kind": kind, "title": title, "effort": effort, "points": points,
                  "capacity": capacity, "instructions": instructions, "overbook": 2,
                  **({"prospect_industry": "fintech"} if kind == AskKind.REFERENCE_CALL else {})},
            tags=["fintech"] if kind == AskKind.REFERENCE_CALL else [],
        )
        asks.append(ask)
    if Assignment.objects.filter(workspace=workspace).exists():
        return f"{len(programs)} programs, {len(asks)} asks (assignments already seeded)"
    return f"{len(programs)} programs, {len(asks)} asks, " + _journeys(workspace, asks, actor, random.Random(13))


def _journeys(workspace: Workspace, asks: list[Ask], actor, rng: random.Random) -> str:
    """Offers in every state, as if the program had been running for a while."""
    people = list(Advocate.objects.filter(workspace=workspace, stage=Stage.ACTIVE).order_by("id")[:60])
    if not people:
        return "no active advocates"
    demo, others = people[0], people[1:]
    now = timezone.now()
    made = approved = outcomes = 0
    for ask in asks:
        # Fewer approvals than the capacity, so every demo ask stays open.
        plan = [AssignmentState.APPROVED] * min(4, ask.capacity - 1) + [AssignmentState.SUBMITTED] * 2 + [
            AssignmentState.ACCEPTED] * 2 + [AssignmentState.DECLINED, AssignmentState.OFFERED, AssignmentState.OFFERED]
        chosen = rng.sample(others, k=min(len(others), len(plan)))
        for advocate, target in zip(chosen, plan, strict=False):
            assignment = _walk(ask, advocate, target, actor, now)
            made += 1
            if target == AssignmentState.APPROVED:
                approved += 1
                if ask.kind == AskKind.REFERENCE_CALL:
                    services.record_outcome(assignment=assignment, actor=actor, data={
                        "kind": OutcomeKind.DEAL, "deal_name": f"{rng.choice(['Northwind', 'Globex', 'Initech', 'Umbrella'])} expansion",
                        "amount": Decimal(rng.choice([18000, 45000, 120000])), "deal_status": rng.choice(list(DealStatus.values)),
                    })
                    outcomes += 1
                elif ask.kind == AskKind.REVIEW:
                    services.record_outcome(assignment=assignment, actor=actor, data={
                        "kind": OutcomeKind.REVIEW, "url": "https://www.g2.com/products/example/reviews"})
                    outcomes += 1
    # The demo advocate (ada@example.com) sees an approved review with its impact and a fresh offer.
    done = _walk(asks[0], demo, AssignmentState.APPROVED, actor, now)
    services.record_outcome(assignment=done, actor=actor, data={"kind": OutcomeKind.REACH, "reach": 1800,
                                                               "note": "Buyers read your review 1,800 times this quarter."})
    _walk(asks[5], demo, AssignmentState.OFFERED, actor, now)
    for advocate in others[:3]:
        open_task(workspace=workspace, kind=TaskKind.CHECK_IN, advocate=advocate, title=f"Personal check-in with {advocate.display_name}",
                  detail="No personal follow-up for six months.", dedupe_key=f"demo-checkin:{advocate.pk}")
    return f"{made + 2} assignments ({approved + 1} approved, points credited), {outcomes + 1} outcomes, 3 tasks"


def _walk(ask: Ask, advocate: Advocate, target: str, actor, now) -> Assignment:
    """Offer ``ask`` to ``advocate`` and take it through the services up to ``target``."""
    assignment = services.create_offers(ask=ask, advocate_ids=[advocate.pk], now=now)[0]
    if target == AssignmentState.OFFERED:
        return assignment
    if target == AssignmentState.DECLINED:
        return services.decline_assignment(assignment=assignment, actor=advocate.email, reason="Too busy this month")
    assignment = services.accept_assignment(assignment=assignment, actor=advocate.email)
    if target == AssignmentState.ACCEPTED:
        return assignment
    assignment = services.submit_proof(assignment=assignment, actor=advocate.email, url="https://example.com/proof",
                                       text="Done — here is the link.")
    if target == AssignmentState.SUBMITTED or assignment.state == AssignmentState.APPROVED:
        return assignment
    return services.approve_assignment(assignment=assignment, actor=actor)
