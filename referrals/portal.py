"""The advocate's share page at /portal/<slug>/referrals/: for each active program with a
landing URL, their personal link with a copy button and ready-made texts (email, LinkedIn,
X); their referrals with the state of each (rejected ones with the reason, flagged ones
as under review); and their referral rewards with their status and why."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.template.response import TemplateResponse

from advocacy.web import PortalView

from . import queries
from .codes import SHAREABLE_STAGES, codes_for, share_url, shareable_programs

PAGE_SIZE = 20
X_LIMIT = 280


def share_texts(*, workspace_name: str, program_name: str, url: str) -> dict[str, str]:
    """Ready-made texts with the link: an email (subject, body, mailto:), a LinkedIn post
    (with its share link) and a post for X (within 280 characters)."""
    subject = f"You might like {workspace_name}"
    body = (f"Hi,\n\nI use {workspace_name} and thought it could help you too. "
            f"If you want to give it a try, this link is mine, so they know I sent you:\n\n{url}\n\nBest,")
    linkedin = (f"I've been using {workspace_name} and I'm glad I do. If it could help your team, "
                f"have a look ({program_name}): {url}")
    x_post = f"Happy {workspace_name} user here. Worth a look: {url}"
    if len(x_post) > X_LIMIT:
        x_post = url
    return {
        "email_subject": subject,
        "email_body": body,
        "mailto": f"mailto:?{urlencode({'subject': subject, 'body': body}, quote_via=quote)}",
        "linkedin": linkedin,
        "linkedin_url": f"https://www.linkedin.com/sharing/share-offsite/?{urlencode({'url': url})}",
        "x": x_post,
        "x_url": f"https://twitter.com/intent/tweet?{urlencode({'text': x_post})}",
    }


class PortalReferralsView(PortalView):
    def get(self, request):
        links = []
        for program, code in codes_for(self.advocate, shareable_programs(self.advocate)):
            url = share_url(code)
            links.append({"program": program, "code": code, "url": url,
                          "texts": share_texts(workspace_name=self.workspace.name, program_name=program.name, url=url)})
        page = Paginator(queries.advocate_referrals(self.advocate), PAGE_SIZE).get_page(request.GET.get("page"))
        return TemplateResponse(request, "portal/referrals/share.html", self.get_context_data(
            links=links, page=page, rewards=queries.advocate_referral_rewards(self.advocate),
            can_share=self.advocate.stage in SHAREABLE_STAGES,
        ))
