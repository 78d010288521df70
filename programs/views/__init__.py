"""Manager pages of programs, asks, assignments, invitations and outcomes, mounted at
/w/<slug>/ (programs/urls.py). One module per subject; the rules are programs.services' and
programs.invitations'."""

from django.urls import path

from . import asks, assignments, invitations, programs

urls: list = [
    # Programs
    path("programs/", programs.ProgramListView.as_view(), name="program_list"),
    path("programs/new/", programs.ProgramFormView.as_view(), name="program_create"),
    path("programs/<int:program_id>/", programs.ProgramDetailView.as_view(), name="program_detail"),
    path("programs/<int:program_id>/edit/", programs.ProgramFormView.as_view(), name="program_edit"),
    path("programs/<int:program_id>/outcomes.csv", programs.ProgramOutcomesExportView.as_view(), name="program_outcomes_export"),
    # Asks
    path("programs/<int:program_id>/asks/new/", asks.AskFormView.as_view(), name="ask_create"),
    path("asks/<int:ask_id>/", asks.AskDetailView.as_view(), name="ask_detail"),
    path("asks/<int:ask_id>/edit/", asks.AskFormView.as_view(), name="ask_edit"),
    path("asks/<int:ask_id>/offer/", asks.AskOfferView.as_view(), name="ask_offer"),
    path("asks/<int:ask_id>/<str:action>/", asks.AskStatusView.as_view(), name="ask_status"),
    path("asks/<int:ask_id>/assignments.csv", asks.AskAssignmentsExportView.as_view(), name="ask_assignments_export"),
    # Approvals, assignments, outcomes
    path("approvals/", assignments.ApprovalQueueView.as_view(), name="approval_queue"),
    path("assignments/<int:assignment_id>/", assignments.AssignmentDetailView.as_view(), name="assignment_detail"),
    path("assignments/<int:assignment_id>/proof/", assignments.AssignmentProofView.as_view(), name="assignment_proof"),
    path("assignments/<int:assignment_id>/outcomes/", assignments.OutcomeCreateView.as_view(), name="outcome_create"),
    path("assignments/<int:assignment_id>/<str:action>/", assignments.AssignmentActionView.as_view(), name="assignment_action"),
    path("outcomes/<int:outcome_id>/edit/", assignments.OutcomeEditView.as_view(), name="outcome_edit"),
    # Invitations, and the advocate page's actions
    path("advocates/invite/", invitations.BulkInviteView.as_view(), name="advocate_bulk_invite"),
    path("advocates/<int:advocate_id>/invite/", invitations.AdvocateInviteView.as_view(), name="advocate_invite"),
    path("advocates/<int:advocate_id>/offer/", invitations.AdvocateOfferView.as_view(), name="advocate_offer"),
    path("invitations/", invitations.InvitationListView.as_view(), name="invitation_list"),
    path("invitations/<int:invitation_id>/resend/", invitations.InvitationResendView.as_view(), name="invitation_resend"),
]
