"""Badges: rules held as data, evaluated against facts the higher apps report.

Rewards never reads the tables of programs, referrals or nps (the dependency floors of
ARCHITECTURE.md): those apps call ``record_fact(advocate=…, fact="reviews_completed")``
when something happens, and the badge rules read the counted facts. A rule is one of

    {"fact": "<fact>", "at_least": N}   e.g. {"fact": "asks_completed", "at_least": 5}
    {"days_in_program": N}              tenure, counted from ``advocate.created_at``

A badge is awarded once per advocate: the ``badge_award_once`` unique constraint decides
between concurrent evaluations, and its points are credited under the idempotency key
``badge:<badge>:<advocate>``, so they are credited once too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify

from advocacy.audit import log_action
from advocacy.errors import ValidationFailed
from advocacy.models import Advocate, Stage, Workspace

from .models import AdvocateFact, Badge, BadgeAward, EntryKind
from .services import credit_points

# The facts higher apps report, with how a rule reads in a sentence.
FACTS: dict[str, tuple[str, str]] = {
    "asks_completed": ("Asks completed", "Complete {n} ask{s}"),
    "reviews_completed": ("Reviews written", "Write {n} review{s}"),
    "referrals_converted": ("Referrals converted", "Refer {n} customer{s} who sign{verb} up"),
    "reference_calls_completed": ("Reference calls", "Take {n} reference call{s}"),
    "promoter_answers": ("Promoter answers", "Answer a survey as a promoter{times}"),
}
FACT_CHOICES = [(k, v[0]) for k, v in FACTS.items()]
MAX_RULE_NUMBER = 100_000

# Tenure counts for people who are (or were) in the program, not for CRM candidates.
TENURE_STAGES = [Stage.ACTIVE, Stage.PAUSED, Stage.ALUMNI]

DEFAULT_BADGES = [
    ("first-review", "First review", "Wrote a first review of us.", {"fact": "reviews_completed", "at_least": 1}, 50),
    ("five-asks", "Five asks", "Completed five asks.", {"fact": "asks_completed", "at_least": 5}, 100),
    ("first-referral", "First referral", "Referred a customer who signed up.", {"fact": "referrals_converted", "at_least": 1}, 100),
    ("three-reference-calls", "Reference pro", "Took three reference calls with prospects.",
     {"fact": "reference_calls_completed", "at_least": 3}, 150),
    ("promoter", "Promoter", "Told us you would recommend us.", {"fact": "promoter_answers", "at_least": 1}, 0),
    ("one-year", "One year in the program", "A whole year as an advocate.", {"days_in_program": 365}, 100),
]


def validate_rule(rule) -> dict:
    """The rule in its canonical form, or ValidationFailed saying what is wrong."""
    if not isinstance(rule, dict):
        raise ValidationFailed("A badge rule is an object.", fields={"rule": ["Invalid."]})

    def number(value, field):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_RULE_NUMBER:
            raise ValidationFailed(f"The number in a rule is a whole number from 1 to {MAX_RULE_NUMBER:,}.", fields={field: ["Out of range."]})
        return value

    if set(rule) == {"days_in_program"}:
        return {"days_in_program": number(rule["days_in_program"], "days_in_program")}
    if set(rule) == {"fact", "at_least"}:
        if rule["fact"] not in FACTS:
            raise ValidationFailed(f"“{rule['fact']}” is not a fact badges know.", fields={"fact": ["Unknown fact."]})
        return {"fact": rule["fact"], "at_least": number(rule["at_least"], "at_least")}
    raise ValidationFailed('A rule is {"fact": …, "at_least": N} or {"days_in_program": N}.', fields={"rule": ["Invalid."]})


def describe_rule(rule: dict) -> str:
    """What it takes, in words the advocate understands."""
    if "days_in_program" in rule:
        days = rule["days_in_program"]
        if days % 365 == 0:
            years = days // 365
            return f"Be in the program for {years} year{'s' if years != 1 else ''}"
        return f"Be in the program for {days} day{'s' if days != 1 else ''}"
    fact, n = rule.get("fact"), rule.get("at_least", 1)
    if fact not in FACTS:
        return "A rule of your program team"
    many = n != 1
    return FACTS[fact][1].format(n=n, s="s" if many else "", verb="" if many else "s", times=f" {n} times" if many else "")


def rule_met(rule: dict, *, facts: dict[str, int], advocate: Advocate, now: datetime) -> bool:
    if "days_in_program" in rule:
        return advocate.stage in TENURE_STAGES and advocate.created_at <= now - timedelta(days=rule["days_in_program"])
    return facts.get(rule.get("fact"), 0) >= rule.get("at_least", 1)


# --- Reporting facts ----------------------------------------------------------------------


def record_fact(*, advocate: Advocate, fact: str, increment: int = 1) -> list[BadgeAward]:
    """Count ``increment`` more of ``fact`` for the advocate (one atomic upsert), then award
    any badge this earns. Returns the badges newly awarded. Called by the apps that know the
    fact: programs (asks, reviews, reference calls), referrals (conversions), nps (promoters)."""
    if fact not in FACTS:
        raise ValidationFailed(f"“{fact}” is not a fact badges know.", fields={"fact": ["Unknown fact."]})
    if not isinstance(increment, int) or isinstance(increment, bool) or not 1 <= increment <= MAX_RULE_NUMBER:
        raise ValidationFailed("The increment is a whole number from 1.", fields={"increment": ["Out of range."]})
    table = connection.ops.quote_name(AdvocateFact._meta.db_table)
    count = connection.ops.quote_name("count")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, advocate_id, fact, {count}, updated_at) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (workspace_id, advocate_id, fact) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}, "
            "updated_at = EXCLUDED.updated_at",
            [advocate.workspace_id, advocate.pk, fact, increment, timezone.now()],
        )
    return evaluate_badges(advocate=advocate)


# --- Awarding -------------------------------------------------------------------------------


def evaluate_badges(*, advocate: Advocate, now: datetime | None = None) -> list[BadgeAward]:
    """Award every active badge whose rule the advocate meets and that they lack (three
    reads, then one write per new badge). Safe to run any number of times, concurrently."""
    if advocate.erased_at is not None:
        return []
    now = now or timezone.now()
    held = BadgeAward.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate).values("badge_id")
    candidates = list(Badge.objects.filter(workspace_id=advocate.workspace_id, active=True).exclude(pk__in=held))
    if not candidates:
        return []
    facts = dict(AdvocateFact.objects.filter(workspace_id=advocate.workspace_id, advocate=advocate).values_list("fact", "count"))
    awarded = []
    for badge in candidates:
        if rule_met(badge.rule, facts=facts, advocate=advocate, now=now):
            award = award_badge(badge=badge, advocate=advocate)
            if award is not None:
                awarded.append(award)
    return awarded


@transaction.atomic
def award_badge(*, badge: Badge, advocate: Advocate, actor=None) -> BadgeAward | None:
    """Give ``badge`` to ``advocate`` once: returns the new award, or None when they had it
    already (also when a concurrent call won the race: the unique constraint decides)."""
    award, created = BadgeAward.objects.get_or_create(workspace_id=advocate.workspace_id, badge=badge, advocate=advocate)
    if not created:
        return None
    entry = None
    if badge.points:
        entry = credit_points(
            advocate=advocate, amount=badge.points, kind=EntryKind.EARN_BADGE, reason=f"Badge earned: {badge.name}",
            cause=f"badge:{badge.pk}", idempotency_key=f"badge:{badge.pk}:{advocate.pk}", actor=actor,
        )
        BadgeAward.objects.filter(pk=award.pk).update(entry=entry)
        award.entry = entry
    log_action(
        workspace=advocate.workspace, actor=actor, action="badge.awarded", advocate=advocate,
        message=f"Badge awarded: {badge.name}" + (f" (+{badge.points:,} points)" if badge.points else ""),
        data={"badge": badge.pk, "entry": entry.pk if entry else None},
    )
    transaction.on_commit(lambda: send_badge_awarded(award_id=award.pk))
    return award


def send_badge_awarded(*, award_id: int) -> None:
    """Email the advocate about their new badge, if they take email."""

    from advocacy.notifications import email_advocate
    from advocacy.scoping import scopes_disabled

    with scopes_disabled():
        award = BadgeAward.objects.select_related("badge", "advocate__workspace").filter(pk=award_id).first()
    if award is None:
        return
    advocate, badge = award.advocate, award.badge
    email_advocate(
        advocate=advocate, template="badge_awarded", portal_url_name="portal_rewards",
        context={"badge": badge.name, "description": badge.description, "points": badge.points},
    )


def qualifying_advocates(badge: Badge, *, now: datetime | None = None):
    """Advocates of the badge's workspace who meet its rule and lack it: one query."""
    now = now or timezone.now()
    rule = badge.rule
    advocates = Advocate.objects.filter(workspace_id=badge.workspace_id, erased_at__isnull=True).exclude(
        Exists(BadgeAward.objects.filter(workspace_id=badge.workspace_id, badge=badge, advocate=OuterRef("pk")))
    )
    if "days_in_program" in rule:
        return advocates.filter(stage__in=TENURE_STAGES, created_at__lte=now - timedelta(days=rule["days_in_program"]))
    facts = AdvocateFact.objects.filter(
        workspace_id=badge.workspace_id, advocate=OuterRef("pk"), fact=rule.get("fact"), count__gte=rule.get("at_least", 1),
    )
    return advocates.filter(Exists(facts))


def award_to_qualifying(*, badge: Badge, now: datetime | None = None) -> int:
    """Give the badge to everyone who already meets its rule (a new badge, an edited rule,
    or tenure that grew overnight). Idempotent. Returns how many were awarded."""
    if not badge.active:
        return 0
    awarded = 0
    for advocate in qualifying_advocates(badge, now=now).select_related("workspace").iterator(chunk_size=500):
        if award_badge(badge=badge, advocate=advocate) is not None:
            awarded += 1
    return awarded


def award_tenure_badges(*, now: datetime | None = None) -> int:
    """The daily job: every active ``days_in_program`` badge of every workspace, given to the
    advocates who have just reached it. Idempotent (awards are unique)."""
    from advocacy.scoping import scopes_disabled, workspace_scope

    with scopes_disabled():
        badges = list(Badge.objects.filter(active=True, rule__has_key="days_in_program").select_related("workspace"))
    awarded = 0
    for badge in badges:
        with workspace_scope(badge.workspace_id):
            awarded += award_to_qualifying(badge=badge, now=now)
    return awarded


# --- Managing badges ------------------------------------------------------------------------


def _unique_code(workspace: Workspace, name: str, exclude_pk: int | None = None) -> str:
    base = slugify(name)[:40].strip("-") or "badge"
    taken = set(Badge.objects.filter(workspace=workspace, code__startswith=base).exclude(pk=exclude_pk).values_list("code", flat=True))
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    return code


def _clean(name: str, description: str, points: int) -> tuple[str, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the badge a name.", fields={"name": ["Required."]})
    if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= 1_000_000:
        raise ValidationFailed("Points are a whole number from 0 to 1,000,000.", fields={"points": ["Out of range."]})
    return name[:80], (description or "").strip()[:300]


@transaction.atomic
def create_badge(*, workspace: Workspace, actor, name: str, rule: dict, description: str = "", points: int = 0, active: bool = True) -> Badge:
    name, description = _clean(name, description, points)
    rule = validate_rule(rule)
    badge = Badge.objects.create(
        workspace=workspace, code=_unique_code(workspace, name), name=name, description=description,
        rule=rule, points=points, active=active,
    )
    log_action(workspace=workspace, actor=actor, action="badge.created", message=f"Badge created: {name} ({describe_rule(rule)})",
               data={"badge": badge.pk, "rule": rule, "points": points})
    _catch_up_after_commit(badge)
    return badge


@transaction.atomic
def update_badge(*, badge: Badge, actor, name: str, rule: dict, description: str = "", points: int = 0, active: bool = True) -> Badge:
    """Change a badge. Awards already given stay (and keep their points)."""
    name, description = _clean(name, description, points)
    rule = validate_rule(rule)
    badge.name, badge.description, badge.rule, badge.points, badge.active = name, description, rule, points, active
    badge.save(update_fields=["name", "description", "rule", "points", "active"])
    log_action(workspace=badge.workspace, actor=actor, action="badge.updated", message=f"Badge changed: {name} ({describe_rule(rule)})",
               data={"badge": badge.pk, "rule": rule, "points": points, "active": active})
    _catch_up_after_commit(badge)
    return badge


def _catch_up_after_commit(badge: Badge) -> None:
    if badge.active:
        from advocacy.tasks import enqueue

        from .badge_tasks import award_badge_to_qualifying

        enqueue(award_badge_to_qualifying, workspace_id=badge.workspace_id, badge_id=badge.pk)


def award_all_badges(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Every active badge of the workspace to everyone who meets its rule. Idempotent."""
    return sum(award_to_qualifying(badge=b, now=now) for b in Badge.objects.filter(workspace=workspace, active=True))


def ensure_default_badges(workspace: Workspace) -> int:
    """Create PRODUCT.md's example badges the workspace lacks (by code). Idempotent.
    Returns how many were created; advocates who already qualify get them after commit."""
    existing = set(Badge.objects.filter(workspace=workspace).values_list("code", flat=True))
    new = [
        Badge(workspace=workspace, code=code, name=name, description=description, rule=rule, points=points)
        for code, name, description, rule, points in DEFAULT_BADGES if code not in existing
    ]
    Badge.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        from advocacy.tasks import enqueue

        from .badge_tasks import award_workspace_badges

        enqueue(award_workspace_badges, workspace_id=workspace.pk)
    return len(new)
