"""Pages outside a workspace: staff invitation links, the demo's mailbox, health."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .errors import DomainError
from .models import OutboxMessage
from .services.workspaces import accept_staff_invitation, find_invitation
from .unsubscribe import advocate_for_token, unsubscribe


class StaffInvitationView(View):
    def get(self, request, token: str):
        invitation = find_invitation(token)
        if invitation is None:
            raise Http404("This invitation link is not valid.")
        return TemplateResponse(request, "public/staff_invitation.html", {"invitation": invitation, "token": token})

    def post(self, request, token: str):
        invitation = find_invitation(token)
        if invitation is None:
            raise Http404("This invitation link is not valid.")
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_signup')}?next={request.path}")
        try:
            membership = accept_staff_invitation(invitation=invitation, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("staff_invitation", token)
        messages.success(request, f"Welcome to {membership.workspace.name}.")
        return redirect("manager_home", membership.workspace.slug)


class OutboxView(View):
    """The demo's mailbox: every email the platform sent (only with the outbox backend)."""

    def get(self, request, message_id=None):
        if not settings.SHOW_OUTBOX:
            raise Http404
        if message_id:
            message = OutboxMessage.objects.filter(pk=message_id).first()
            if message is None:
                raise Http404
            if request.GET.get("html") and message.html:
                return HttpResponse(message.html)
            return TemplateResponse(request, "public/outbox_message.html", {"message": message})
        to = request.GET.get("to", "").strip()
        mails = OutboxMessage.objects.all()
        if to:
            mails = mails.filter(to__icontains=to)
        return TemplateResponse(request, "public/outbox.html", {"mails": mails[:100], "to": to})


@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(View):
    """``/u/<token>/``: GET shows one button (so link-following mail scanners change
    nothing); POST unsubscribes. Mail clients POST here directly (RFC 8058 one-click), which
    is why the view is exempt from CSRF: the signed token is the credential."""

    def get(self, request, token: str):
        advocate = advocate_for_token(token)
        if advocate is None:
            raise Http404("This unsubscribe link is not valid.")
        return TemplateResponse(request, "public/unsubscribe.html", {"advocate": advocate, "done": False})

    def post(self, request, token: str):
        advocate = advocate_for_token(token)
        if advocate is None:
            raise Http404("This unsubscribe link is not valid.")
        unsubscribe(advocate=advocate)
        return TemplateResponse(request, "public/unsubscribe.html", {"advocate": advocate, "done": True})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
