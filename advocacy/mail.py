"""The demo's mail backend: keeps every message in the database (read them at /_mail/)."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        from .models import OutboxMessage

        sent = 0
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            OutboxMessage.objects.create(
                to=", ".join(message.recipients()), subject=message.subject, body=message.body,
                html=html, headers=dict(message.extra_headers or {}),
            )
            sent += 1
        return sent
