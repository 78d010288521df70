"""Demo data of the referrals app (called by ``seed_demo`` after the programs; safe to rerun:
a second run finds the program's referrals and adds nothing).

A "Refer a friend" program whose landing URL is the demo landing page this site serves
(static/demo/landing.html, from SITE_URL), its referral settings and a pool of 20 coupons;
the codes of 30 active advocates (ada@example.com first); a few hundred clicks written as
the click drain writes them (hashed IPs, the flood rule: one burst is flagged); about 40
referrals through ``create_referral`` (so the fraud rules flag the self-referrals, the
duplicates, an existing advocate and an existing customer); a few qualified and rejected;
and 12 conversions through ``record_conversion``. The conversions happened over the last
weeks, so those whose hold has passed carry the dates they would have had (converted at
the deal's date, points held from then) and the release job credits them; the recent ones
stay held. Ada has one converted referral with her points released, and one open lead.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from advocacy.models import Advocate, Stage, Workspace
from programs.models import Goal, Program
from programs.services import create_program
from rewards.models import HeldReward
from rewards.services import release_held_rewards

from .clicks import ClickData, hash_ip, write_clicks
from .codes import code_for, update_referral_settings
from .models import Conversion, Referral, ReferralCode, ReferralState
from .services import (
    add_coupons,
    create_referral,
    qualify_referral,
    record_conversion,
    reject_referral,
)

PROGRAM = "Refer a friend"
LANDING_PATH = "/static/demo/landing.html"
DEMO_EMAIL = "ada@example.com"
HOLD_DAYS = 30
REFERRERS = 30
COUPONS = [f"WELCOME-{n:02d}" for n in range(1, 21)]

FIRST = ["Dana", "Fox", "Jamie", "Robin", "Sam", "Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Avery",
         "Quinn", "Harper", "Rowan", "Emery", "Sasha", "Noor", "Kai", "Mika"]
LAST = ["Scully", "Mulder", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Silva", "Kowalski", "Haddad",
        "Ferreira", "Nakamura", "Byrne", "Petrov", "Mensah", "Rossi", "Kaur", "Weber", "Dubois", "Olsen"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Tech", "Hooli", "Vandelay",
             "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Acme Logistics", "Gringotts", "Oscorp"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]
REFERERS = ["https://www.linkedin.com/", "https://t.co/", "", "", "https://mail.google.com/"]
REJECTIONS = ["Not a fit: a student project, not a company.", "Already talking to our sales team directly."]


def landing_url() -> str:
    return f"{settings.SITE_URL.rstrip('/')}{LANDING_PATH}"


def seed(*, workspace: Workspace, rng: random.Random) -> str:
    manager = workspace.memberships.select_related("user").order_by("id").first()
    actor = manager.user if manager else None
    program = Program.objects.filter(workspace=workspace, name=PROGRAM).first()
    if program is None:
        program = create_program(workspace=workspace, actor=actor, data={
            "name": PROGRAM, "goal": Goal.REFERRALS, "landing_url": landing_url(),
            "description": "Know someone who would like us? Share your link: when they become a customer, "
                           "you get 500 points and they get a welcome discount.",
        })
    if Referral.objects.filter(workspace=workspace, program=program).exists():
        return (f"“{PROGRAM}” already seeded ({Referral.objects.filter(workspace=workspace, program=program).count()} "
                f"referrals, {Conversion.objects.filter(workspace=workspace).count()} conversions)")
    local = random.Random(23)  # independent of the caller's draws
    now = timezone.now()
    update_referral_settings(program=program, actor=actor, changes={
        "referrer_points": 500, "referee_reward": "coupon", "attribution_window_days": 90, "hold_days": HOLD_DAYS})
    add_coupons(program=program, codes=COUPONS, actor=actor)

    people = list(Advocate.objects.filter(workspace=workspace, stage=Stage.ACTIVE).order_by("id")[:REFERRERS + 10])
    ada = next((p for p in people if p.email == DEMO_EMAIL), None) or \
        Advocate.objects.filter(workspace=workspace, email=DEMO_EMAIL, stage=Stage.ACTIVE).first()
    referrers = ([ada] if ada else []) + [p for p in people if p != ada][:REFERRERS - (1 if ada else 0)]
    outsiders = [p for p in people if p not in referrers]  # active advocates who refer no one here
    if not referrers:
        return f"{PROGRAM}: no active advocates to refer"
    codes = [code_for(advocate=a, program=program) for a in referrers]

    clicks = _clicks(codes, local, now)
    referrals = _referrals(codes, outsiders, local, now)
    decided = _decide(referrals, actor, local)
    conversions, released = _conversions(workspace, program, referrals, codes, local, now)
    total = Referral.objects.filter(workspace=workspace, program=program).count()
    flagged = Referral.objects.filter(workspace=workspace, program=program).exclude(flags=[]).count()
    return (f"“{PROGRAM}” with {len(codes)} referral codes, {clicks} clicks, {total} referrals "
            f"({flagged} flagged, {decided} qualified or rejected), {conversions} conversions, "
            f"{released} referral rewards released")


def _clicks(codes: list[ReferralCode], local: random.Random, now: datetime) -> int:
    """A few hundred clicks over the last 60 days, from a pool of visitors (so some come
    back), and one burst of 25 clicks in a minute from one address (the flood rule flags 5)."""
    rows: list[ClickData] = []
    weights = [max(2, 16 - i // 2) for i in range(len(codes))]
    for code, weight in zip(codes, weights, strict=True):
        for _ in range(local.randint(weight // 2 + 2, weight + 4)):
            at = now - timedelta(days=local.uniform(0.1, 60))
            rows.append(_click(code, at, f"198.51.100.{local.randint(1, 180)}", local))
    burst = codes[min(5, len(codes) - 1)]
    start = now - timedelta(days=3, hours=2)
    rows += [_click(burst, start + timedelta(seconds=2 * n), "203.0.113.66", local) for n in range(25)]
    return write_clicks(rows)


def _click(code: ReferralCode, at: datetime, ip: str, local: random.Random) -> ClickData:
    return ClickData(id=uuid.UUID(int=local.getrandbits(128), version=4), at=at, code_id=code.pk,
                     workspace_id=code.workspace_id, ip_hash=hash_ip(ip), user_agent=local.choice(USER_AGENTS),
                     referer=local.choice(REFERERS), attributed=True)


def _prospect(n: int, local: random.Random) -> tuple[str, str, str]:
    first, last, company = local.choice(FIRST), local.choice(LAST), local.choice(COMPANIES)
    domain = company.split()[0].lower()
    return f"{first}.{last}.{n}@{domain}.example".lower(), f"{first} {last}", company


def _referrals(codes: list[ReferralCode], outsiders: list[Advocate], local: random.Random,
               now: datetime) -> list[Referral]:
    """34 referrals of prospects (the first referrers bring more), then the ones the fraud
    rules catch: two self-referrals, two duplicates, an existing advocate. Each first touch
    is a few days to ten weeks ago."""
    made: list[Referral] = []

    def refer(code: ReferralCode, email: str, name: str = "", company: str = "", days: float | None = None) -> Referral:
        at = now - timedelta(days=local.uniform(2, 70) if days is None else days)
        referral = create_referral(code=code, referee_email=email, referee_name=name, referee_company=company,
                                   source=local.choice(["form", "form", "api"]), at=at)
        made.append(referral)
        return referral

    # Ada: a friend who converted long ago (points released) and one who just signed up.
    refer(codes[0], "lin.chen@northwind.example", "Lin Chen", "Northwind", days=62)
    refer(codes[0], "omar.haddad@globex.example", "Omar Haddad", "Globex", days=4)
    others = codes[1:] or codes  # a small demo (few active advocates) still gets its referrals
    for n in range(32):
        code = local.choice(others[:7]) if n % 2 == 0 else local.choice(others)
        refer(code, *_prospect(n, local))
    for code in codes[8:10]:  # self-referrals: the advocate's own address with a +tag
        user, domain = code.advocate.email.split("@", 1)
        refer(code, f"{user}+trial@{domain}", code.advocate.display_name, code.advocate.company)
    for first in made[2:4]:  # the same prospects again, through someone else's link: duplicates
        other = next((c for c in reversed(codes) if c.pk != first.code_id), None)
        if other is not None:
            refer(other, first.referee_email, first.referee_name, first.referee_company, days=1)
    if outsiders:  # someone who is already one of the workspace's people
        person = outsiders[0]
        refer(codes[-1], person.email, person.display_name, person.company)
    return made


def _decide(referrals: list[Referral], actor, local: random.Random) -> int:
    """A manager qualifies some open leads and rejects two, with the reason the advocate sees."""
    open_leads = [r for r in referrals[2:34] if r.state == ReferralState.LEAD and not r.flags]
    decided = 0
    for referral in open_leads[14:22]:
        qualify_referral(referral=referral, actor=actor)
        decided += 1
    for referral, reason in zip(open_leads[22:24], REJECTIONS, strict=False):
        reject_referral(referral=referral, actor=actor, reason=reason)
        decided += 1
    return decided


def _conversions(workspace: Workspace, program: Program, referrals: list[Referral], codes: list[ReferralCode],
                 local: random.Random, now: datetime) -> tuple[int, int]:
    """12 conversions: Ada's friend, nine prospects, one self-referral (its reward waits for a
    manager to clear the flag) and one the program did not bring (unattributed); then the
    release job credits the points whose hold has passed."""
    open_ones = [r for r in referrals[2:34] if r.state in (ReferralState.LEAD, ReferralState.QUALIFIED) and not r.flags]
    self_referral = next((r for r in referrals if any(f.get("rule") == "self_referral" for f in r.flags)), None)
    chosen = [referrals[0], *open_ones[:9], *([self_referral] if self_referral else [])]
    count = 0
    for n, referral in enumerate(chosen, start=1):
        touched = referral.first_touch_at
        occurred = min(touched + timedelta(days=local.randint(2, 20)), now - timedelta(hours=1))
        conversion = record_conversion(
            workspace=workspace, external_id=f"demo-deal-{n:03d}", referee_email=referral.referee_email,
            value=Decimal(local.choice([1200, 2400, 4800, 9600, 18000])), currency=local.choice(["EUR", "EUR", "USD"]),
            occurred_at=occurred,
        )
        count += conversion.created
        _as_of(referral, occurred)
    walk_in = record_conversion(workspace=workspace, external_id="demo-deal-direct", referee_email="pat.doe@initech.example",
                                value=Decimal("2400"), currency="EUR", occurred_at=now - timedelta(days=9))
    count += walk_in.created
    # Someone who already bought, referred afterwards: flagged as an existing customer.
    create_referral(code=codes[min(12, len(codes) - 1)], referee_email=walk_in.referee_email, referee_name="Pat Doe",
                    referee_company="Initech", at=now - timedelta(days=2))
    released = release_held_rewards(workspace=workspace, now=now)
    return count, released


def _as_of(referral: Referral, occurred: datetime) -> None:
    """Date a conversion recorded now as if it had been recorded when it happened: converted
    then, and the referrer's points held from then for the hold period."""
    Referral.objects.filter(pk=referral.pk, state=ReferralState.CONVERTED).update(converted_at=occurred)
    HeldReward.objects.filter(workspace_id=referral.workspace_id, idempotency_key__startswith=f"referral:{referral.pk}:",
                              status=HeldReward.Status.HELD).update(
        created_at=occurred, release_at=occurred + timedelta(days=HOLD_DAYS))
