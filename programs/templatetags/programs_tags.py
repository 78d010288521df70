"""``{% advocate_journey advocate %}`` and ``{% advocate_actions advocate %}``: the advocate's
place in the programs, for the core's advocate page (which knows nothing of programs but
these tags' names): what holds them back now (fatigue), the contacts held back recently and
why, their assignments, invitations, outcomes and open tasks; and the Invite / Offer an ask
buttons."""

from __future__ import annotations

from django import template
from django.db.models import Count

from advocacy.models import ContactHold, HoldReason, Stage, Task

from ..fatigue import fatigue_state
from ..models import Ask, Assignment, Invitation, Outcome

register = template.Library()

SHOWN = 10


def _fatigue(advocate) -> list[dict]:
    """The rules holding the advocate back from an offer now, each with its label and the
    sentence a manager reads (programs.fatigue.fatigue_state)."""
    labels = dict(HoldReason.choices)
    return [{"reason": h.reason, "label": labels.get(h.reason, h.reason), "detail": h.detail}
            for h in fatigue_state(advocate=advocate)]


@register.inclusion_tag("manager/programs/_advocate_journey.html", takes_context=True)
def advocate_journey(context, advocate):
    workspace = context["workspace"]
    holds = list(ContactHold.objects.filter(workspace=workspace, advocate=advocate).order_by("-held_at", "-id")[:SHOWN])
    ask_ids = [h.subject_id for h in holds if h.subject_type == "ask"]
    ask_titles = dict(Ask.objects.filter(workspace=workspace, pk__in=ask_ids).values_list("pk", "title")) if ask_ids else {}
    for h in holds:
        h.subject_title = ask_titles.get(h.subject_id, "") if h.subject_type == "ask" else ""
    assignments = Assignment.objects.filter(workspace=workspace, advocate=advocate)
    return {
        "advocate": advocate, "workspace": workspace, "membership": context["membership"],
        "can_write": context["membership"].role != "viewer",
        "fatigue": _fatigue(advocate),
        "holds": holds,
        "assignments": list(assignments.select_related("ask", "ask__program").order_by("-offered_at", "-id")[:SHOWN]),
        "assignment_counts": dict(assignments.values_list("state").annotate(n=Count("id")).order_by()),
        "invitations": list(Invitation.objects.filter(workspace=workspace, advocate=advocate).select_related("program")
                            .order_by("-sent_at", "-id")[:SHOWN]),
        "outcomes": list(Outcome.objects.filter(workspace=workspace, advocate=advocate).select_related("assignment__ask")
                         .order_by("-created_at", "-id")[:SHOWN]),
        "tasks": list(Task.objects.filter(workspace=workspace, advocate=advocate, status=Task.Status.OPEN).order_by("-created_at", "-id")[:SHOWN]),
    }


@register.inclusion_tag("manager/programs/_advocate_actions.html", takes_context=True)
def advocate_actions(context, advocate):
    """The Invite and Offer an ask buttons of the advocate's page (the page shows them only to
    managers and owners), each only when the person can be invited or offered an ask."""
    from ..invitations import invite_refusal

    return {"advocate": advocate, "workspace": context["workspace"], "invitable": invite_refusal(advocate) is None,
            "active": advocate.stage == Stage.ACTIVE}


@register.simple_tag(takes_context=True)
def fatigue_of_page(context, advocates) -> dict[int, list]:
    """{advocate id: holds} for the active people of a list page, in one query
    (programs.fatigue.fatigue_states): the advocate list's Fatigue column."""
    from ..fatigue import fatigue_states

    ids = [a.pk for a in advocates if a.stage == Stage.ACTIVE]
    if not ids:
        return {}
    return {pk: holds for pk, holds in fatigue_states(workspace=context["workspace"], advocate_ids=ids).items() if holds}


@register.simple_tag
def fatigue_of(fatigue: dict, advocate_id: int) -> list:
    return fatigue.get(advocate_id, [])


@register.inclusion_tag("portal/programs/_home.html", takes_context=True)
def portal_journey(context, advocate):
    """The programs' part of the portal home: open offers, onboarding still to do, and the
    latest impact (programs.portal.home_context)."""
    from ..portal import home_context

    return {"workspace": context["workspace"], "advocate": advocate, **home_context(advocate)}
