from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        slug = request.session.pop("new_workspace_slug", None)
        if slug:
            return reverse("manager_home", args=[slug])
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return self.get_login_redirect_url(request)

    def send_mail(self, template_prefix, email, context):
        """Render here, deliver from the worker like every other email."""
        from .tasks import enqueue, send_email

        message = self.render_mail(template_prefix, email, context)
        html = next((c for c, mime in getattr(message, "alternatives", []) if mime == "text/html"), "")
        enqueue(send_email, to=list(message.to), subject=message.subject, text=message.body, html=html)
