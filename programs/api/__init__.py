"""/api/v1/programs/, /asks/, /assignments/, /outcomes/ and /invitations/.

Every rule lives in programs/services.py and programs/invitations.py; these viewsets only
check the shape of the input, look ids up within the API key's workspace (another
workspace's id, in the URL or in the body, is a plain 404) and let the central error
handler turn domain errors into JSON (409 with the message the pages show)."""

from .assignments import AssignmentViewSet, OutcomeViewSet
from .invitations import InvitationViewSet
from .programs import AskViewSet, ProgramViewSet

__all__ = ["AskViewSet", "AssignmentViewSet", "InvitationViewSet", "OutcomeViewSet", "ProgramViewSet"]
