"""Build the demo workspace (slug ``demo``). Safe to rerun: people are upserted by email and
events are only generated for advocates that have none."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from advocacy.models import (
    ActivityEvent,
    Advocate,
    AdvocateTag,
    AdvocateType,
    AuditLog,
    EventKind,
    Expressiveness,
    Membership,
    Motivation,
    Role,
    Stage,
    Workspace,
)
from advocacy.notifications import muted
from advocacy.scoping import workspace_scope
from advocacy.services.advocates import ensure_tags
from advocacy.services.workspaces import create_workspace, get_or_create_user

DEMO_PASSWORD = "advocacy-demo"
STAFF = [("manager@example.com", Role.OWNER, "Maya", "Manager"), ("viewer@example.com", Role.VIEWER, "Victor", "Viewer")]
DEMO_ADVOCATE = ("ada@example.com", "Ada Lovelace", "Analytical Engines Ltd", "Head of Engineering")

FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Barbara", "Dennis", "Frances", "Ken", "Radia",
         "Guido", "Hedy", "John", "Joan", "Donald", "Sophie", "Edsger", "Lynn", "Bjarne", "Shafi", "Yukihiro", "Anita",
         "Leslie", "Mary", "James", "Evelyn", "Niklaus", "Jean", "Carlos", "Priya", "Kwame", "Mei", "Omar", "Ingrid"]
LAST = ["Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee", "Liskov", "Ritchie", "Allen", "Thompson",
        "Perlman", "van Rossum", "Lamarr", "McCarthy", "Clarke", "Knuth", "Wilson", "Dijkstra", "Conway", "Stroustrup",
        "Goldwasser", "Matsumoto", "Borg", "Lamport", "Jackson", "Gosling", "Berezin", "Wirth", "Sammet", "Okafor",
        "Nakamura", "Haddad", "Lindqvist", "Moreau", "Patel", "Mensah"]
COMPANIES = ["Northwind", "Contoso", "Initech", "Globex", "Umbrella Health", "Stark Logistics", "Wayne Finance",
             "Acme Retail", "Hooli", "Pied Piper", "Vandelay Imports", "Soylent Foods", "Tyrell Systems", "Cyberdyne",
             "Wonka Labs", "Aperture Science", "Oceanic Air", "Massive Dynamic", "Gringotts", "Duff Beverages"]
TITLES = ["CTO", "VP Engineering", "Head of Marketing", "Product Manager", "Data Analyst", "Operations Lead",
          "Customer Success Manager", "Developer", "Founder", "Director of IT", "Growth Lead", "Support Lead"]
TAGS = ["enterprise", "smb", "mid-market", "emea", "north-america", "apac", "beta-program", "power-user",
        "healthcare", "fintech", "retail", "speaker", "champion-candidate"]
STAGE_WEIGHTS = [(Stage.CANDIDATE, 35), (Stage.INVITED, 12), (Stage.ACTIVE, 35), (Stage.PAUSED, 6), (Stage.ALUMNI, 7), (Stage.OPTED_OUT, 5)]
EVENT_WEIGHTS = [(EventKind.EMAIL_OPEN, 30), (EventKind.EMAIL_CLICK, 15), (EventKind.EVENT_ATTENDED, 6), (EventKind.PURCHASE, 8),
                 (EventKind.RENEWAL, 3), (EventKind.SOCIAL_MENTION, 5), (EventKind.REVIEW_POSTED, 4),
                 (EventKind.COMMUNITY_POST, 10), (EventKind.SUPPORT_TICKET, 8)]


def _app_seeders():
    """Each app above the core may add to the demo with ``<app>/demo.py: seed(workspace, rng)``,
    run in INSTALLED_APPS order (the floors' order), so the core imports none of them."""
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    for config in apps.get_app_configs():
        if config.name != "advocacy" and find_spec(f"{config.name}.demo") is not None:
            yield config.verbose_name, import_module(f"{config.name}.demo").seed


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


class Command(BaseCommand):
    help = "Create or refresh the demo workspace (slug “demo”) with staff, a few hundred advocates and activity."

    def add_arguments(self, parser):
        parser.add_argument("--advocates", type=int, default=300)

    def handle(self, *args, advocates: int, **options):
        # The demo's history did not just happen: no promotion or badge emails for it.
        with muted(), transaction.atomic():
            self._seed(advocates)

    def _seed(self, advocates: int) -> None:
        rng = random.Random(42)
        workspace = Workspace.objects.filter(slug="demo").first()
        staff = []
        for email, role, first, last in STAFF:
            user, created = get_or_create_user(email, password=DEMO_PASSWORD)
            if created:
                user.first_name, user.last_name = first, last
                user.save(update_fields=["first_name", "last_name"])
            staff.append((user, role))
        if workspace is None:
            workspace = create_workspace(slug="demo", name="Demo Company", owner=staff[0][0])
        for user, role in staff:
            Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})

        with workspace_scope(workspace):
            new_ids = self._people(workspace, rng, advocates)
            events = self._events(workspace, rng, new_ids)
            for label, seed in _app_seeders():
                self.stdout.write(f"{label}: {seed(workspace=workspace, rng=rng)}")
        self.stdout.write(self.style.SUCCESS(
            f"Demo workspace ready: {len(new_ids)} advocates added, {events} events added "
            f"({Advocate.objects.with_scopes_disabled().filter(workspace=workspace).count()} advocates in all)."
        ))

    def _people(self, workspace: Workspace, rng: random.Random, count: int) -> list[int]:
        today = timezone.now().date()
        now = timezone.now()
        people = [(DEMO_ADVOCATE[0], DEMO_ADVOCATE[1], DEMO_ADVOCATE[2], DEMO_ADVOCATE[3], Stage.ACTIVE)]
        for i in range(count - 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES)
            email = f"{first}.{last}.{i}@{company.split()[0].lower()}.example".lower().replace(" ", "").replace("-", "")
            people.append((email, f"{first} {last}", company, rng.choice(TITLES), _weighted(rng, STAGE_WEIGHTS)))
        existing = set(Advocate.objects.filter(workspace=workspace).values_list("email", flat=True))
        new = []
        for index, (email, name, company, title, stage) in enumerate(people):
            if email in existing:
                continue
            since = today - timedelta(days=rng.randint(20, 5 * 365))
            new.append(Advocate(
                workspace=workspace, email=email, name=name, company=company, title=title, stage=stage,
                type=AdvocateType.CUSTOMER if index == 0 else _weighted(rng, [(AdvocateType.CUSTOMER, 85), (AdvocateType.PARTNER, 10), (AdvocateType.EMPLOYEE, 5)]),
                external_id=f"CRM-{10000 + index}",
                customer_since=since, renewal_date=date(since.year + ((today.year - since.year) + 1), since.month, min(since.day, 28)),
                motivation=rng.choice(Motivation.values), expressiveness=rng.choice(Expressiveness.values),
                max_asks_per_month=rng.choice([None, None, None, 1, 2, 4]),
                show_on_leaderboards=rng.random() > 0.1,
                score=rng.randint(5, 95), created_at=now - timedelta(days=rng.randint(1, 400)),
                stage_changed_at=now - timedelta(days=rng.randint(0, 200)),
            ))
        Advocate.objects.bulk_create(new, batch_size=500)
        if not new:
            return []
        tags = ensure_tags(workspace, TAGS)
        saved = Advocate.objects.filter(workspace=workspace, email__in=[a.email for a in new])
        links = []
        for advocate in saved:
            for name in rng.sample(TAGS, k=rng.randint(0, 3)):
                links.append(AdvocateTag(workspace=workspace, advocate=advocate, tag=tags[name]))
        AdvocateTag.objects.bulk_create(links, ignore_conflicts=True)
        AuditLog.objects.bulk_create([
            AuditLog(workspace=workspace, action="advocate.created", advocate=a, message="Added by the demo seed", actor_label="seed_demo", created_at=a.created_at)
            for a in saved
        ])
        return [a.pk for a in saved]

    def _events(self, workspace: Workspace, rng: random.Random, advocate_ids: list[int]) -> int:
        """Activity for the advocates added by this run only, so a rerun adds none."""
        now = timezone.now()
        quiet = Advocate.objects.filter(workspace=workspace, pk__in=advocate_ids).order_by("id")
        events = []
        for advocate in quiet:
            if advocate.stage == Stage.OPTED_OUT:
                continue
            for _ in range(rng.randint(0, 25) if advocate.stage in (Stage.ACTIVE, Stage.INVITED) else rng.randint(0, 6)):
                kind = _weighted(rng, EVENT_WEIGHTS)
                value = Decimal(rng.randint(50, 5000)) if kind in (EventKind.PURCHASE, EventKind.RENEWAL) else None
                events.append(ActivityEvent(
                    workspace=workspace, advocate=advocate, kind=kind, value=value,
                    occurred_at=now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1440)),
                    properties={"source": "demo"},
                ))
        ActivityEvent.objects.bulk_create(events, batch_size=1000)
        latest = ActivityEvent.objects.filter(advocate=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")[:1]
        Advocate.objects.filter(workspace=workspace).update(last_activity_at=Subquery(latest))
        return len(events)
