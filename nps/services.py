"""NPS writes (PRODUCT.md "NPS surveys"): surveys and their states, sending rounds, and
answers with the promoter/detractor loop (nps/loop.py). Manager pages, the portal, the
/s/ answer page, the API, the hourly job and the ``send_surveys`` command all call these
functions and turn the domain errors into their own answers.

States: ``draft`` → ``active`` ⇄ ``paused``; a one-off survey becomes ``done`` after its
round. ``next_run_at`` is when ``send_surveys`` sends the next round of an active survey.

A round (``send_round``):

- audience: the workspace's people (all, a tag, a type or a stage), never opted out or
  erased, and only people who accept email (with an address) or the portal at all;
- held back, with the reason recorded as a ``ContactHold`` (subject ``survey``): the
  90-day survey throttle (anyone sent any survey of the workspace in the last 90 days:
  sent 89 days ago is held, 90 days ago is sent) and the shared contact budget
  (``advocacy.budget.budget_rules(kind=survey)``: offers, surveys and nudges share it);
  then people who accept none of the survey's channels (``no_channel``);
- the channel of each person: email when the survey uses email and ``may_email`` allows
  it, else the portal when the survey uses it and the person accepts it;
- set-based: one query reads the audience with a held flag and a channel per person; then,
  in batches of 2,000 people each committed in its own transaction (after the round was
  claimed), the people to survey are locked (in id order, as offers lock them) and checked
  again, so a concurrent offer and a survey cannot both take the last place of the budget;
  the sends are inserted in bulk (``ON CONFLICT DO NOTHING`` on (survey, round, advocate)),
  each counted once against the budget (``Contact`` subject ``survey-send:<id>``), and
  the batch's emails are queued after its commit, one task per 200 sends.

The rounds of one workspace take turns (``pg_advisory_xact_lock`` on the workspace, held
by the claim and by each batch until it commits; a batch reads the throttle and budget
again once it holds it), and the throttle and the budget count every send and
contact since ``now - 90/30 days`` with no upper bound: two rounds of different surveys at
once, even with different clocks (the job's ``now`` read earlier, a manager's "Send now"),
never survey a person twice within 90 days.

A round is claimed with a conditional ``UPDATE … WHERE rounds = … AND next_run_at = …``
in the round's transaction: two runs at once (two jobs, or the job and a manager's "Send
now") send one round, and a second round right after the first sends nobody again (the
throttle holds everybody just sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from advocacy.audit import acting_user, log_action
from advocacy.budget import (
    Hold,
    Rule,
    budget_rules,
    day,
    held_q,
    holds_by_advocate,
    record_holds,
)
from advocacy.errors import Conflict, InvalidTransition, ValidationFailed, reject_nul
from advocacy.models import (
    Advocate,
    AdvocateTag,
    AdvocateType,
    Channel,
    Contact,
    ContactHold,
    ContactKind,
    HoldReason,
    Stage,
    Tag,
    Task,
    TaskKind,
    Workspace,
)
from advocacy.scoping import scopes_disabled, workspace_scope

from .models import (
    DEFAULT_QUESTION,
    THROTTLE_DAYS,
    Audience,
    ResponseChannel,
    Schedule,
    Survey,
    SurveyChannel,
    SurveyResponse,
    SurveySend,
    SurveyStatus,
    category_of,
)

__all__ = [
    "RoundResult", "activate_survey", "audience_of", "create_survey", "delete_survey", "forget_comments",
    "pause_survey", "record_answer", "record_api_response", "record_comment", "send_due_surveys", "send_round",
    "send_survey_now", "survey_rules", "update_survey",
]

THROTTLE = timedelta(days=THROTTLE_DAYS)
MAX_COMMENT = 5000
MAX_NAME = 120
MAX_QUESTION = 300
MAX_EXTERNAL_ID = 100
MAX_EVERY_DAYS = 730
FUTURE_SKEW = timedelta(days=1)  # an integration's answered_at: at most a day ahead (clocks, time zones)
EARLIEST_ANSWER = datetime(2000, 1, 1, tzinfo=UTC)
ROUND_LOCK_NAMESPACE = 61001  # pg_advisory_xact_lock(namespace, workspace id): one round at a time per workspace
BATCH = 2000  # people locked, checked and sent per statement batch
EMAIL_BATCH = 200  # sends per email task

SURVEY_FIELDS = (
    "name", "question", "follow_up_question", "audience", "audience_tag", "audience_type", "audience_stage", "channels",
    "schedule", "every_days", "auto_invite_promoters", "status", "next_run_at",
)
SETTABLE_STATUSES = (SurveyStatus.DRAFT, SurveyStatus.ACTIVE, SurveyStatus.PAUSED)


@dataclass(frozen=True)
class RoundResult:
    sent: int = 0  # people sent the survey in this round
    held: int = 0  # people held back (recorded as ContactHold rows with the reason)
    round: int = 0  # the round's number (the survey's rounds so far when nothing ran)


# --- Cleaning a survey's fields ----------------------------------------------------------------


def _bad(field: str, message: str, short: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [short or message]})


def _text(data: dict, field: str, *, max_length: int, required: bool = False) -> str:
    value = data.get(field)
    value = "" if value is None else value
    if not isinstance(value, str):
        raise _bad(field, f"{field.replace('_', ' ').capitalize()} must be text.", "Must be text.")
    reject_nul(**{field: value})
    value = " ".join(value.split())
    if required and not value:
        raise _bad(field, f"{field.replace('_', ' ').capitalize()} is required.", "Required.")
    if len(value) > max_length:
        raise _bad(field, f"{field.replace('_', ' ').capitalize()} is at most {max_length} characters.",
                   f"At most {max_length} characters.")
    return value


def _choice(value, field: str, choices, label: str) -> str:
    valid = [c for c, _ in choices]
    if not isinstance(value, str) or value not in valid:
        raise _bad(field, f"Choose {label}: {', '.join(valid)}.", f"Choose one of {', '.join(valid)}.")
    return value


def _whole(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 6:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(field, f"{field.replace('_', ' ').capitalize()} is a whole number from {low} to {high}.",
                   f"A whole number from {low} to {high}.")
    return value


def _tag(workspace: Workspace, value) -> Tag:
    if isinstance(value, Tag):
        if value.workspace_id != workspace.pk:
            raise _bad("audience_tag", "Choose a tag of this workspace.", "Unknown tag.")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        found = Tag.objects.filter(workspace_id=workspace.pk, pk=value).first()
    elif isinstance(value, str) and value.strip():
        reject_nul(audience_tag=value)
        found = Tag.objects.filter(workspace_id=workspace.pk, name__iexact=" ".join(value.split())[:50]).first()
    else:
        raise _bad("audience_tag", "Choose the tag of the people to survey.", "Required for a tag audience.")
    if found is None:
        raise _bad("audience_tag", f"There is no tag “{str(value)[:50]}” in this workspace.", "Unknown tag.")
    return found


def _channels(value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    valid = [c for c, _ in SurveyChannel.choices]
    if not isinstance(value, list | tuple) or not value or not all(isinstance(c, str) and c in valid for c in value):
        raise _bad("channels", "Choose where the survey is sent: email, portal or both.", "Choose email, portal or both.")
    return [c for c in valid if c in value]


def _when(value, field: str = "next_run_at") -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        raise _bad(field, "Give a date and time.", "Invalid date and time.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _clean(workspace: Workspace, data: dict[str, Any], current: Survey | None) -> dict[str, Any]:
    """The model fields from ``data`` (unknown keys ignored), checked together with the
    survey's current values for what ``data`` leaves out."""
    data = {k: v for k, v in (data or {}).items() if k in SURVEY_FIELDS}
    out: dict[str, Any] = {}
    if "name" in data or current is None:
        out["name"] = _text(data, "name", max_length=MAX_NAME, required=True)
    if "question" in data or current is None:
        out["question"] = _text(data, "question", max_length=MAX_QUESTION) or DEFAULT_QUESTION
    if "follow_up_question" in data:
        out["follow_up_question"] = _text(data, "follow_up_question", max_length=MAX_QUESTION)
    if "audience" in data:
        out["audience"] = _choice(data["audience"], "audience", Audience.choices, "who is surveyed")
    audience = out.get("audience", current.audience if current else Audience.ALL)
    if audience == Audience.TAG:
        tag = data.get("audience_tag") if "audience_tag" in data else (current.audience_tag if current else None)
        out["audience_tag"] = _tag(workspace, tag)
    else:
        out["audience_tag"] = None
    if audience == Audience.TYPE:
        value = data.get("audience_type") if "audience_type" in data else (current.audience_type if current else "")
        out["audience_type"] = _choice(value, "audience_type", AdvocateType.choices, "the type of people to survey")
    else:
        out["audience_type"] = ""
    if audience == Audience.STAGE:
        value = data.get("audience_stage") if "audience_stage" in data else (current.audience_stage if current else "")
        stages = [(c, label) for c, label in Stage.choices if c != Stage.OPTED_OUT]
        if value == Stage.OPTED_OUT:
            raise _bad("audience_stage", "People who opted out are never surveyed; choose another stage.", "Opted-out people are never surveyed.")
        out["audience_stage"] = _choice(value, "audience_stage", stages, "the stage of people to survey")
    else:
        out["audience_stage"] = ""
    if "channels" in data or current is None:
        out["channels"] = _channels(data["channels"]) if "channels" in data else [SurveyChannel.EMAIL, SurveyChannel.PORTAL]
    if "schedule" in data:
        out["schedule"] = _choice(data["schedule"], "schedule", Schedule.choices, "how often it is sent")
    schedule = out.get("schedule", current.schedule if current else Schedule.ONCE)
    if schedule == Schedule.RECURRING:
        value = data.get("every_days") if "every_days" in data else (current.every_days if current else None)
        if value in (None, ""):
            raise _bad("every_days", "A recurring survey needs the number of days between rounds.", "Required for a recurring survey.")
        out["every_days"] = _whole(value, "every_days", low=1, high=MAX_EVERY_DAYS)
    else:
        out["every_days"] = None
    if "auto_invite_promoters" in data:
        value = data["auto_invite_promoters"]
        if not isinstance(value, bool):
            raise _bad("auto_invite_promoters", "Auto-invite promoters is true or false.", "True or false.")
        out["auto_invite_promoters"] = value
    if "status" in data:
        if current is not None and current.status == SurveyStatus.DONE and data["status"] == SurveyStatus.DONE:
            out["status"] = SurveyStatus.DONE  # unchanged (an edit form sends the status back)
        else:
            out["status"] = _choice(data["status"], "status", [(s.value, s.label) for s in SETTABLE_STATUSES], "a status")
    if "next_run_at" in data:
        out["next_run_at"] = _when(data["next_run_at"])
    return out


def _unique_name(workspace_id: int, name: str, exclude_pk: int | None = None) -> None:
    qs = Survey.objects.filter(workspace_id=workspace_id, name__iexact=name)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise _bad("name", f"A survey named “{name}” already exists.", "A survey with this name exists.")


def _save(survey: Survey, **update) -> None:
    try:
        with transaction.atomic():
            survey.save(**update)
    except IntegrityError:
        raise _bad("name", f"A survey named “{survey.name}” already exists.", "A survey with this name exists.") from None


# --- Surveys ------------------------------------------------------------------------------------


@transaction.atomic
def create_survey(*, workspace: Workspace, actor, data: dict) -> Survey:
    fields = _clean(workspace, data, None)
    _unique_name(workspace.pk, fields["name"])
    status = fields.pop("status", SurveyStatus.DRAFT)
    next_run_at = fields.pop("next_run_at", None)
    survey = Survey(workspace=workspace, created_by=acting_user(actor), status=status, **fields)
    if status == SurveyStatus.ACTIVE:
        survey.next_run_at = next_run_at or timezone.now()
    else:
        survey.next_run_at = next_run_at
    _save(survey)
    log_action(workspace=workspace, actor=actor, action="survey.created", message=f"Survey {survey.name} created",
               data={"survey": survey.pk, "status": survey.status})
    return survey


@transaction.atomic
def update_survey(*, survey: Survey, actor, data: dict) -> Survey:
    survey = Survey.objects.select_for_update().select_related("workspace").get(pk=survey.pk, workspace_id=survey.workspace_id)
    fields = _clean(survey.workspace, data, survey)
    if "name" in fields:
        _unique_name(survey.workspace_id, fields["name"], exclude_pk=survey.pk)
    status = fields.pop("status", survey.status)
    next_run_at = fields.pop("next_run_at", survey.next_run_at)
    if status != survey.status and survey.status == SurveyStatus.DONE:
        raise InvalidTransition("This one-off survey has run; create a new survey to ask again.")
    if status == SurveyStatus.ACTIVE and (survey.status != SurveyStatus.ACTIVE or next_run_at is None):
        next_run_at = next_run_at or timezone.now()
    fields |= {"status": status, "next_run_at": next_run_at}
    changed = sorted(k for k, v in fields.items() if getattr(survey, k) != v)
    for k, v in fields.items():
        setattr(survey, k, v)
    _save(survey)
    if changed:
        log_action(workspace=survey.workspace, actor=actor, action="survey.updated",
                   message=f"Survey {survey.name} changed: {', '.join(changed)}", data={"survey": survey.pk, "changed": changed})
    return survey


@transaction.atomic
def activate_survey(*, survey: Survey, actor, at: datetime | None = None) -> Survey:
    """Draft or paused → active; its next round goes out at ``at`` (default: now, i.e. with
    the next hourly run)."""
    at = _when(at, "at") or timezone.now()
    if not Survey.objects.filter(pk=survey.pk, workspace_id=survey.workspace_id,
                                 status__in=[SurveyStatus.DRAFT, SurveyStatus.PAUSED]).update(
        status=SurveyStatus.ACTIVE, next_run_at=at, updated_at=timezone.now(),
    ):
        survey.refresh_from_db()
        if survey.status == SurveyStatus.DONE:
            raise InvalidTransition("This one-off survey has run; create a new survey to ask again.")
        raise InvalidTransition("This survey is already active.")
    survey.refresh_from_db()
    log_action(workspace=survey.workspace, actor=actor, action="survey.activated",
               message=f"Survey {survey.name} activated; next round {day(at, survey.workspace)}",
               data={"survey": survey.pk, "next_run_at": at.isoformat()})
    return survey


@transaction.atomic
def pause_survey(*, survey: Survey, actor) -> Survey:
    if not Survey.objects.filter(pk=survey.pk, workspace_id=survey.workspace_id, status=SurveyStatus.ACTIVE).update(
        status=SurveyStatus.PAUSED, updated_at=timezone.now(),
    ):
        survey.refresh_from_db()
        raise InvalidTransition(f"Only an active survey can be paused; this one is {survey.get_status_display().lower()}.")
    survey.refresh_from_db()
    log_action(workspace=survey.workspace, actor=actor, action="survey.paused", message=f"Survey {survey.name} paused",
               data={"survey": survey.pk})
    return survey


@transaction.atomic
def delete_survey(*, survey: Survey, actor) -> None:
    """Delete a survey nobody was sent (its answers would go with it): one with sends or
    answers is paused instead."""
    survey = Survey.objects.select_for_update().select_related("workspace").get(pk=survey.pk, workspace_id=survey.workspace_id)
    if (SurveySend.objects.filter(workspace_id=survey.workspace_id, survey=survey).exists()
            or SurveyResponse.objects.filter(workspace_id=survey.workspace_id, survey=survey).exists()):
        raise Conflict("This survey was already sent: its answers count in the reports. Pause it instead.", code="survey_has_sends")
    ContactHold.objects.filter(workspace_id=survey.workspace_id, subject_type="survey", subject_id=survey.pk).delete()
    name, pk = survey.name, survey.pk
    survey.delete()
    log_action(workspace=survey.workspace, actor=actor, action="survey.deleted", message=f"Survey {name} deleted",
               data={"survey": pk})


# --- Sending ------------------------------------------------------------------------------------


def _has_channel(channel: str) -> Q:
    """The advocate's own channels (a JSON list) include ``channel``: jsonb containment on
    PostgreSQL, the quoted value in the list's text on SQLite (the demo)."""
    if connection.vendor == "postgresql":
        return Q(channels__contains=[channel])
    return Q(channels__icontains=f'"{channel}"')


def _emailable() -> Q:
    return _has_channel(Channel.EMAIL) & ~Q(email="")


def audience_of(survey: Survey) -> QuerySet[Advocate]:
    """The people a round of ``survey`` is for, before the throttle, the budget and the
    survey's channels: never opted out or erased, and reachable at all (they accept email
    with an address, or the portal)."""
    qs = Advocate.objects.filter(workspace_id=survey.workspace_id, erased_at__isnull=True).exclude(stage=Stage.OPTED_OUT)
    qs = qs.filter(_emailable() | _has_channel(Channel.PORTAL))
    if survey.audience == Audience.TAG:
        qs = qs.filter(pk__in=AdvocateTag.objects.filter(workspace_id=survey.workspace_id, tag_id=survey.audience_tag_id)
                       .values("advocate_id"))
    elif survey.audience == Audience.TYPE:
        qs = qs.filter(type=survey.audience_type)
    elif survey.audience == Audience.STAGE:
        qs = qs.filter(stage=survey.audience_stage)
    return qs


def throttle_rule(*, workspace: Workspace, now: datetime) -> Rule:
    """Nobody is surveyed twice within 90 days across the workspace's surveys: held while a
    send of the last 90 days exists (``sent_at > now - 90 days``)."""
    # No upper bound: a send stamped after ``now`` (a concurrent run that read the clock
    # later) holds the person back too, so a run with an older ``now`` cannot survey twice.
    recent = SurveySend.objects.filter(workspace_id=workspace.pk, sent_at__gt=now - THROTTLE)
    last = Subquery(recent.filter(advocate_id=OuterRef("pk")).order_by("-sent_at").values("sent_at")[:1])
    return Rule(
        HoldReason.SURVEY_THROTTLE, recent.values("advocate_id"),
        lambda row: (f"Surveyed on {day(row.get('last_surveyed_at'), workspace)}; nobody is surveyed more than "
                     f"once in {THROTTLE_DAYS} days, so again from "
                     f"{day(row['last_surveyed_at'] + THROTTLE, workspace) if row.get('last_surveyed_at') else 'later'}."),
        {"last_surveyed_at": last},
    )


def survey_rules(*, workspace: Workspace, now: datetime) -> list[Rule]:
    """Every rule that holds back a survey at ``now``: the 90-day throttle, then the shared
    contact budget's rules for a survey (counting contacts recorded after ``now`` by a concurrent round too)."""
    rules = budget_rules(workspace=workspace, kind=ContactKind.SURVEY, now=now, count_later=True)
    return [throttle_rule(workspace=workspace, now=now), *rules]


def _lock_workspace_rounds(workspace_id: int) -> None:
    """Serialise the rounds of one workspace (any of its surveys) until the transaction
    ends: a transaction-level advisory lock on PostgreSQL (a no-op on SQLite, the demo,
    which has one writer at a time anyway). The second round reads the first's sends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROUND_LOCK_NAMESPACE, workspace_id])


def _held_among(rules: Iterable[Rule], ids: list[int]) -> Q:
    combined = Q(pk__in=[])
    for rule in rules:
        combined |= rule.condition_among(ids)
    return combined


def _channel_expression(survey: Survey) -> Case:
    whens = []
    if SurveyChannel.EMAIL in survey.channels:
        whens.append(When(_emailable(), then=Value(SurveyChannel.EMAIL.value)))
    if SurveyChannel.PORTAL in survey.channels:
        whens.append(When(_has_channel(Channel.PORTAL), then=Value(SurveyChannel.PORTAL.value)))
    return Case(*whens, default=Value(""), output_field=CharField())


def _chunks(items: list, size: int | None = None):
    size = size or BATCH
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _next_run(survey: Survey, now: datetime) -> tuple[str, datetime | None]:
    """The survey's status and next run after a round at ``now``."""
    if survey.schedule == Schedule.ONCE:
        return SurveyStatus.DONE, None
    every = timedelta(days=survey.every_days or 1)
    base = survey.next_run_at if survey.next_run_at and survey.next_run_at <= now else now
    following = base + every
    if following <= now:
        following = now + every
    status = SurveyStatus.ACTIVE if survey.status == SurveyStatus.DRAFT else survey.status
    return status, following


def _claim(survey: Survey, now: datetime) -> Survey | None:
    """Claim the next round of ``survey`` as the instance was read: a conditional UPDATE on
    its rounds, status and next_run_at, so of two runs at once only one sends."""
    if survey.status not in SETTABLE_STATUSES:
        return None
    status, following = _next_run(survey, now)
    # The status read is part of the claim: a survey paused since the job read it sends nothing.
    qs = Survey.objects.filter(pk=survey.pk, workspace_id=survey.workspace_id, rounds=survey.rounds, status=survey.status)
    qs = qs.filter(next_run_at__isnull=True) if survey.next_run_at is None else qs.filter(next_run_at=survey.next_run_at)
    if not qs.update(rounds=F("rounds") + 1, last_run_at=now, next_run_at=following, status=status, updated_at=now):
        return None
    return Survey.objects.select_related("workspace").get(pk=survey.pk, workspace_id=survey.workspace_id)


def send_round(*, survey: Survey, now: datetime | None = None) -> RoundResult:
    """Send one round of ``survey`` now (see the module's docstring). A round already
    claimed by another run (the instance is stale) or a survey that is done sends nothing.

    The round is claimed in its own transaction first, then sent in batches of ``BATCH``
    people, each committed on its own (a large audience is never locked whole); a run that
    dies midway leaves the round claimed with the batches sent so far (the next round, or
    "Send now", reaches the rest).

    The rounds of one workspace take turns, batch by batch (an advisory lock held by the
    claim and by each batch until it commits; each batch checks its people again under
    it); without ``now``, the clock is read once the claim holds that lock."""
    with transaction.atomic():
        _lock_workspace_rounds(survey.workspace_id)
        now = now or timezone.now()
        claimed = _claim(survey, now)
    if claimed is None:
        return RoundResult(0, 0, survey.rounds)
    return _send(claimed, now)


def _send(survey: Survey, now: datetime) -> RoundResult:
    workspace = survey.workspace
    ws = workspace.pk
    round_no = survey.rounds
    rules = survey_rules(workspace=workspace, now=now)
    rows = (audience_of(survey).order_by("pk")
            .annotate(held=ExpressionWrapper(held_q(rules), output_field=BooleanField()), send_channel=_channel_expression(survey))
            .values_list("pk", "held", "send_channel"))
    wanted: dict[int, str] = {}
    held_ids: list[int] = []
    no_channel: list[int] = []
    for pk, held, channel in rows.iterator(chunk_size=BATCH):
        if held:
            held_ids.append(pk)
        elif channel:
            wanted[pk] = channel
        else:
            no_channel.append(pk)

    sent_ids: list[int] = []
    for chunk in _chunks(sorted(wanted)):
        sent, now_held = _send_batch(survey, chunk, wanted, rules, now)
        sent_ids.extend(sent)
        held_ids.extend(now_held)

    holds: dict[int, Hold] = {}
    for chunk in _chunks(held_ids):
        for advocate_id, found in holds_by_advocate(workspace=workspace, advocate_ids=chunk, rules=rules).items():
            holds[advocate_id] = found[0] if found else Hold(HoldReason.BUDGET, "Held back by the contact budget.")
    if no_channel:
        names = " or ".join(SurveyChannel(c).label.lower() for c in survey.channels)
        no_channel_hold = Hold(HoldReason.NO_CHANNEL, f"They accept no channel this survey uses ({names}).")
        holds.update(dict.fromkeys(no_channel, no_channel_hold))
    with transaction.atomic():
        for chunk in _chunks(list(holds.items())):
            record_holds(workspace_id=ws, subject_type="survey", subject_id=survey.pk, holds=dict(chunk), at=now)
        # The survey's holds say why people are held now: anyone sent this round is no longer held.
        for chunk in _chunks(sent_ids):
            ContactHold.objects.filter(workspace_id=ws, subject_type="survey", subject_id=survey.pk,
                                       advocate_id__in=chunk).delete()
    return RoundResult(sent=len(sent_ids), held=len(holds), round=round_no)


def _send_batch(survey: Survey, chunk: list[int], wanted: dict[int, str], rules: list[Rule],
                now: datetime) -> tuple[list[int], list[int]]:
    """Send the round to these people (at most ``BATCH``) in one transaction; returns the
    people sent and the people held back since the audience was read. Their emails are
    queued when it commits."""
    ws = survey.workspace_id
    round_no = survey.rounds
    with transaction.atomic():
        # One batch of the workspace's rounds at a time; then lock the people in id order
        # (as offers do) and read their throttle and budget again: a send or an offer
        # committed since the read of the audience holds them back.
        _lock_workspace_rounds(ws)
        locked = list(Advocate.objects.select_for_update().filter(workspace_id=ws, pk__in=chunk).order_by("pk")
                      .values_list("pk", flat=True))
        now_held = set(Advocate.objects.filter(workspace_id=ws, pk__in=locked).filter(_held_among(rules, locked))
                       .values_list("pk", flat=True))
        go = [pk for pk in locked if pk not in now_held]
        if not go:
            return [], sorted(now_held)
        SurveySend.objects.bulk_create(
            [SurveySend(workspace_id=ws, survey_id=survey.pk, advocate_id=pk, round=round_no, channel=wanted[pk], sent_at=now)
             for pk in go],
            ignore_conflicts=True,
        )
        made = list(SurveySend.objects.filter(workspace_id=ws, survey_id=survey.pk, round=round_no, advocate_id__in=go,
                                              sent_at=now).values_list("pk", "advocate_id", "channel"))
        Contact.objects.bulk_create(
            [Contact(workspace_id=ws, advocate_id=advocate_id, kind=ContactKind.SURVEY, subject=f"survey-send:{pk}", at=now)
             for pk, advocate_id, _ in made],
            ignore_conflicts=True,
        )
        email_sends = [pk for pk, _, channel in made if channel == SurveyChannel.EMAIL]
        if email_sends:
            from advocacy.tasks import enqueue

            from .tasks import send_survey_emails

            for emails in _chunks(email_sends, EMAIL_BATCH):
                enqueue(send_survey_emails, workspace_id=ws, send_ids=emails)
    return [advocate_id for _, advocate_id, _ in made], sorted(now_held)


def send_survey_now(*, survey: Survey, actor) -> RoundResult:
    """The manager's "Send now": one round at once, whatever ``next_run_at`` says. A draft
    recurring survey becomes active (its next round ``every_days`` later); a paused one stays
    paused; a one-off survey is done after it. (Not one transaction: the round commits its
    batches as it goes, see ``send_round``.)"""
    survey = Survey.objects.select_related("workspace").get(pk=survey.pk, workspace_id=survey.workspace_id)
    if survey.status == SurveyStatus.DONE:
        raise InvalidTransition("This one-off survey has run; create a new survey to ask again.")
    result = send_round(survey=survey)
    if result.round == survey.rounds:  # another run claimed it first
        raise Conflict("This survey is being sent right now; look again in a moment.", code="survey_sending")
    with transaction.atomic():
        log_action(workspace=survey.workspace, actor=actor, action="survey.sent",
                   message=f"Survey {survey.name} round {result.round} sent now: {result.sent} sent, {result.held} held back",
                   data={"survey": survey.pk, "round": result.round, "sent": result.sent, "held": result.held})
    return result


def due_surveys(*, now: datetime, workspace: Workspace | None = None) -> list[Survey]:
    qs = Survey.objects.filter(status=SurveyStatus.ACTIVE, next_run_at__lte=now)
    if workspace is not None:
        qs = qs.filter(workspace_id=workspace.pk)
    return list(qs.select_related("workspace").order_by("next_run_at", "pk"))


def send_due_surveys(*, now: datetime | None = None, workspace: Workspace | None = None) -> int:
    """The job: a round of every active survey whose ``next_run_at`` has come, in every
    workspace (or one). Returns the number of rounds sent. Each survey's round is claimed
    on the values read here, so a concurrent run sends no round twice. Without ``now``,
    each round reads the clock when it starts (not when the job did)."""
    due_at = now or timezone.now()
    if workspace is None:
        with scopes_disabled():
            surveys = due_surveys(now=due_at)
    else:
        surveys = due_surveys(now=due_at, workspace=workspace)
    rounds = 0
    for survey in surveys:
        with workspace_scope(survey.workspace_id):
            result = send_round(survey=survey, now=now)
        if result.round != survey.rounds:
            rounds += 1
    return rounds


# --- Answers ------------------------------------------------------------------------------------


def clean_score(value) -> int:
    """A score is a whole number from 0 to 10 (ASCII digits when given as text)."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 2:
            value = int(text)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
        raise _bad("score", "The score is a whole number from 0 to 10.", "A whole number from 0 to 10.")
    return value


def clean_comment(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad("comment", "The comment must be text.", "Must be text.")
    reject_nul(comment=value)
    value = value.strip()
    if len(value) > MAX_COMMENT:
        raise _bad("comment", f"The comment is at most {MAX_COMMENT:,} characters.", f"At most {MAX_COMMENT:,} characters.")
    return value


def _signal(response: SurveyResponse, *, created: bool, previous_category: str | None) -> None:
    from .signals import response_recorded

    transaction.on_commit(lambda: response_recorded.send(
        sender=SurveyResponse, response=response, created=created, previous_category=previous_category,
    ))


@transaction.atomic
def record_answer(*, send: SurveySend, score: int, channel: str, comment: str | None = None,
                  now: datetime | None = None) -> SurveyResponse:
    """Record the answer to a send (from the email link, the portal or the API). Answering
    again replaces the score (and the comment when one is given): one response per send,
    even for answers at the same moment (the send's row is locked). When the answer's
    category is new for this response, the loop is scheduled after commit and a settle
    period (nps/loop.py); an open follow-up task is refreshed on every change."""
    from .loop import schedule_loop

    score = clean_score(score)
    channel = _choice(channel, "channel", ResponseChannel.choices, "the channel of the answer")
    text = None if comment is None else clean_comment(comment)
    send = (SurveySend.objects.select_for_update(of=("self",)).select_related("advocate", "survey", "workspace")
            .get(pk=send.pk, workspace_id=send.workspace_id))
    now = now or timezone.now()  # read under the lock: the answers of one send are stamped in the order they are kept
    advocate = send.advocate
    if advocate.is_erased:
        raise Conflict("This survey link is no longer valid.", code="advocate_erased")
    category = category_of(score)
    response = SurveyResponse.objects.filter(workspace_id=send.workspace_id, send=send).first()
    previous = None
    if response is None:
        response = SurveyResponse.objects.create(
            workspace_id=send.workspace_id, survey_id=send.survey_id, send=send, advocate=advocate, score=score,
            category=category, comment=text or "", channel=channel, advocate_type=advocate.type,
            advocate_stage=advocate.stage, answered_at=now, updated_at=now,
        )
    else:
        previous = response.category
        response.score, response.category, response.channel, response.updated_at = score, category, channel, now
        update = ["score", "category", "channel", "updated_at"]
        if text is not None:
            response.comment = text
            update.append("comment")
        response.save(update_fields=update)
    if send.answered_at is None:
        SurveySend.objects.filter(pk=send.pk, workspace_id=send.workspace_id).update(answered_at=now)
        send.answered_at = now
    response.send, response.advocate, response.survey, response.workspace = send, advocate, send.survey, send.workspace
    if category != previous:
        schedule_loop(response=response)  # after the settle period, for the category then (nps/loop.py)
    if previous is not None:
        _refresh_task_detail(response)  # an open follow-up task shows the current score and comment
    _signal(response, created=previous is None, previous_category=previous)
    return response


def _refresh_task_detail(response: SurveyResponse) -> None:
    from .loop import refresh_follow_up

    refresh_follow_up(response=response)


@transaction.atomic
def record_comment(*, response: SurveyResponse, comment: str) -> SurveyResponse:
    """The answer to the follow-up question (replaces an earlier comment). A detractor's
    open follow-up task gets it in its detail."""
    text = clean_comment(comment)
    response = (SurveyResponse.objects.select_for_update(of=("self",)).select_related("advocate", "survey", "workspace")
                .get(pk=response.pk, workspace_id=response.workspace_id))
    response.comment = text
    response.updated_at = timezone.now()
    response.save(update_fields=["comment", "updated_at"])
    _refresh_task_detail(response)
    _signal(response, created=False, previous_category=response.category)
    return response


def record_api_response(*, workspace: Workspace, advocate: Advocate, score, comment: str | None = "",
                        survey: Survey | None = None, external_id: str | None = None,
                        answered_at: datetime | None = None) -> tuple[SurveyResponse, bool]:
    """An answer an integration posts (without a send). A repeat ``external_id`` returns the
    first answer (created False), even for two posts at once."""
    score = clean_score(score)
    text = clean_comment(comment)
    if external_id is not None:
        if not isinstance(external_id, str):
            raise _bad("external_id", "The external id must be text.", "Must be text.")
        reject_nul(external_id=external_id)
        external_id = external_id.strip() or None
        if external_id and len(external_id) > MAX_EXTERNAL_ID:
            raise _bad("external_id", f"The external id is at most {MAX_EXTERNAL_ID} characters.",
                       f"At most {MAX_EXTERNAL_ID} characters.")
    now = timezone.now()
    answered_at = _when(answered_at, "answered_at") or now
    if not EARLIEST_ANSWER <= answered_at <= now + FUTURE_SKEW:
        raise _bad("answered_at", "The answer's time must be between 1 January 2000 and tomorrow (UTC).",
                   "Between 2000-01-01 and tomorrow.")
    if advocate.workspace_id != workspace.pk:
        raise _bad("advocate", "Choose a person of this workspace.", "Unknown advocate.")
    if advocate.is_erased:
        raise Conflict("This person was erased; their answers are no longer recorded.", code="advocate_erased")
    if survey is not None and survey.workspace_id != workspace.pk:
        raise _bad("survey", "Choose a survey of this workspace.", "Unknown survey.")

    def existing() -> SurveyResponse | None:
        if not external_id:
            return None
        return SurveyResponse.objects.filter(workspace_id=workspace.pk, external_id=external_id).first()

    found = existing()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                workspace=workspace, survey=survey, advocate=advocate, score=score, category=category_of(score),
                comment=text, channel=ResponseChannel.API, external_id=external_id, advocate_type=advocate.type,
                advocate_stage=advocate.stage, answered_at=answered_at, updated_at=now,
            )
            from .loop import run_loop

            response.advocate, response.survey, response.workspace = advocate, survey, workspace
            run_loop(response=response, previous_category=None)
            _signal(response, created=True, previous_category=None)
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found, False
    return response, True


@transaction.atomic
def forget_comments(*, advocate: Advocate) -> int:
    """Erasure (PRODUCT.md "Privacy"): blank the free text of an erased person's answers and
    of their open detractor follow-ups; scores and categories stay, so the NPS keeps adding
    up. Returns the answers changed. (The core's ``erase_advocate`` cannot import nps: wire
    it through ``advocacy.signals.advocate_stage_changed`` when ``advocate.is_erased``.)"""
    answers = SurveyResponse.objects.filter(workspace_id=advocate.workspace_id, advocate_id=advocate.pk).exclude(comment="")
    changed = answers.update(comment="", updated_at=timezone.now())
    Task.objects.filter(workspace_id=advocate.workspace_id, advocate_id=advocate.pk, kind=TaskKind.DETRACTOR).update(
        detail="The person was erased; their comment is gone.",
    )
    return changed
