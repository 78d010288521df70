"""Referral codes: one per advocate per program, unguessable, unique across workspaces
(PRODUCT.md "Referrals"), and the public link that carries one.

A code is ``CODE_LENGTH`` characters drawn with ``secrets`` from ``CODE_ALPHABET`` (no
0/O, 1/I/L, no vowels): 27^10 ≈ 2·10^14 codes, so a collision is rare but possible; the
unique index on ``code`` decides, and a collision is retried with a fresh code.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from advocacy.audit import log_action
from advocacy.errors import ValidationFailed
from advocacy.models import Advocate, Stage
from programs.models import Program, ProgramStatus

from .models import CODE_ALPHABET, CODE_LENGTH, ReferralCode, ReferralSettings
from .redirect import forget_program_codes

MAX_ATTEMPTS = 8
# Who gets a link on the share page: a paused advocate may still share on their own; a
# departed one (alumni, opted out) is not attributed any more (referrals/redirect.py).
SHAREABLE_STAGES = (Stage.ACTIVE, Stage.PAUSED)


class CodeSpaceExhausted(RuntimeError):
    """Every attempt collided: the generator is broken (or the code space is full)."""


def new_code() -> str:
    """A fresh random code (not yet checked for uniqueness)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_for(*, advocate: Advocate, program: Program) -> ReferralCode:
    """The advocate's code for ``program``, created on first use. Safe to call twice at
    once: the (workspace, program, advocate) constraint keeps one, and the loser reads it."""
    if program.workspace_id != advocate.workspace_id:
        raise ValidationFailed("The program and the advocate belong to different workspaces.")
    mine = ReferralCode.objects.filter(workspace_id=advocate.workspace_id, program=program, advocate=advocate)
    existing = mine.first()
    if existing is not None:
        return existing
    for _ in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    workspace_id=advocate.workspace_id, program=program, advocate=advocate, code=new_code(),
                )
        except IntegrityError:
            existing = mine.first()
            if existing is not None:  # created meanwhile by a concurrent request
                return existing
            # otherwise the code itself collided with another advocate's: draw again
    raise CodeSpaceExhausted(f"No free referral code after {MAX_ATTEMPTS} attempts.")


def share_url(code: ReferralCode) -> str:
    """The public link of ``code``: ``SITE_URL/r/<code>``."""
    return f"{settings.SITE_URL.rstrip('/')}/r/{code.code}"


def shareable_programs(advocate: Advocate):
    """The programs an advocate can share a link to: active ones with a landing URL."""
    if advocate.stage not in SHAREABLE_STAGES:
        return Program.objects.none()
    return (Program.objects.filter(workspace_id=advocate.workspace_id, status=ProgramStatus.ACTIVE)
            .exclude(landing_url="").order_by("name", "id"))


def codes_for(advocate: Advocate, programs) -> list[tuple[Program, ReferralCode]]:
    """The advocate's code for each of ``programs`` (one query for those that exist; the
    missing ones are created)."""
    programs = list(programs)
    have = {c.program_id: c for c in ReferralCode.objects.filter(
        workspace_id=advocate.workspace_id, advocate=advocate, program__in=[p.pk for p in programs])}
    return [(p, have.get(p.pk) or code_for(advocate=advocate, program=p)) for p in programs]


# --- A program's referral settings (the manager's form) -------------------------------------

SETTINGS_FIELDS = ("referrer_points", "referee_reward", "referee_points", "attribution_window_days", "hold_days")


def update_referral_settings(*, program: Program, actor, changes: dict) -> ReferralSettings:
    """Change a program's referral settings (created with the defaults on first use), with
    an audit row in the same transaction; a new attribution window reaches /r/ at once."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown settings: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        current, _ = ReferralSettings.objects.select_for_update().get_or_create(
            program=program, defaults={"workspace_id": program.workspace_id})
        before = {f: getattr(current, f) for f in SETTINGS_FIELDS}
        for name, value in changes.items():
            setattr(current, name, value)
        try:
            current.full_clean(exclude=["workspace", "program"])
        except DjangoValidationError as exc:
            raise ValidationFailed("The referral settings are not valid.", fields=exc.message_dict) from None
        current.save()
        after = {f: getattr(current, f) for f in SETTINGS_FIELDS}
        changed = {f: [before[f], after[f]] for f in SETTINGS_FIELDS if before[f] != after[f]}
        if "attribution_window_days" in changed:
            # /r/ caches each code's cookie lifetime (referrals/redirect.py): drop them after commit
            transaction.on_commit(lambda: forget_program_codes(program))
        if changed:
            log_action(workspace=program.workspace, actor=actor, action="referrals.settings",
                       message=f"Referral settings of “{program.name}” changed: {', '.join(changed)}.",
                       data={"program": program.pk, "changes": changed})
    return current
