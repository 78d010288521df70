"""``{% portal_nps_prompt advocate %}``: the open survey on the portal home (the core's
template knows nothing of nps but this tag's name)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("portal/nps/_prompt.html", takes_context=True)
def portal_nps_prompt(context, advocate):
    from ..public import SCORES
    from ..queries import open_prompt

    send = open_prompt(advocate) if advocate is not None else None
    return {
        "workspace": context.get("workspace"), "advocate": advocate, "send": send, "scores": SCORES,
        "question": send.survey.question_for(context.get("workspace") or advocate.workspace) if send else "",
        "csrf_token": context.get("csrf_token"),
    }
