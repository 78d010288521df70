"""Workspaces, staff, invitations and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..audit import log_action
from ..errors import Conflict, ValidationFailed
from ..models import (
    RESERVED_SLUGS,
    ApiKey,
    Membership,
    Role,
    StaffInvitation,
    User,
    Workspace,
    hash_token,
    slug_validator,
)
from ..scoping import workspace_scope


def validate_slug(slug: str) -> str:
    from django.core.exceptions import ValidationError

    slug = (slug or "").strip().lower()
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], fields={"slug": exc.messages}) from None
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(f"“{slug}” is reserved; choose another.", fields={"slug": ["Reserved."]})
    return slug


@transaction.atomic
def create_workspace(*, slug: str, name: str = "", owner: User | None = None, **settings_) -> Workspace:
    """Create a workspace, and make ``owner`` (if given) its owner."""
    slug = validate_slug(slug)
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(slug=slug, name=name or slug.replace("-", " ").title(), **settings_)
    except IntegrityError:
        raise Conflict(f"A workspace with the slug “{slug}” already exists.", code="slug_taken") from None
    if owner is not None:
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    with workspace_scope(workspace):
        log_action(workspace=workspace, actor=owner, action="workspace.created", message=f"Workspace {workspace.name} created")
    return workspace


def get_or_create_user(email: str, *, password: str | None = None) -> tuple[User, bool]:
    """The user with this email, created (with a verified address) when new."""
    from allauth.account.models import EmailAddress

    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    created = False
    if user is None:
        user = User.objects.create_user(email=email, password=password)
        created = True
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user, created


@transaction.atomic
def update_workspace_settings(*, workspace: Workspace, actor: User, changes: dict) -> Workspace:
    before = {field: getattr(workspace, field) for field in changes}
    for field, value in changes.items():
        setattr(workspace, field, value)
    workspace.full_clean(exclude=["slug"])
    workspace.save()
    changed = {f: [str(before[f]), str(v)] for f, v in changes.items() if before[f] != v}
    if changed:
        with workspace_scope(workspace):
            log_action(
                workspace=workspace, actor=actor, action="workspace.settings_changed",
                message="Settings changed: " + ", ".join(sorted(changed)), data=changed,
            )
    return workspace


# --- API keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


@transaction.atomic
def create_api_key(*, workspace: Workspace, name: str, actor: User | None = None) -> NewApiKey:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the key a name, for example the integration it is for.", fields={"name": ["Required."]})
    secret = ApiKey.generate()
    key = ApiKey.objects.create(
        workspace=workspace, name=name[:100], prefix=secret[: ApiKey.PREFIX_LEN],
        key_hash=hash_token(secret), created_by=actor,
    )
    with workspace_scope(workspace):
        log_action(workspace=workspace, actor=actor, action="api_key.created", message=f"API key “{key.name}” created ({key.prefix}…)")
    return NewApiKey(api_key=key, secret=secret)


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor: User) -> ApiKey:
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    if updated:
        with workspace_scope(api_key.workspace_id):
            log_action(workspace=api_key.workspace, actor=actor, action="api_key.revoked", message=f"API key “{api_key.name}” revoked")
    return api_key


def authenticate_api_key(secret: str) -> ApiKey | None:
    """The active key for this secret, or None. Records when it was last used (at most once a
    minute, so a busy integration does not write on every request)."""
    if not secret or len(secret) > 200:
        return None
    key = (
        ApiKey.objects.select_related("workspace")
        .filter(key_hash=hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- Staff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    invitation: StaffInvitation
    token: str


@transaction.atomic
def invite_staff(*, workspace: Workspace, email: str, role: str, actor: User) -> NewInvitation:
    import secrets

    email = (email or "").strip().lower()
    if role not in Role.values:
        raise ValidationFailed("Choose a role: owner, manager or viewer.", fields={"role": ["Invalid role."]})
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of this workspace.", code="already_member")
    token = secrets.token_urlsafe(32)
    invitation = StaffInvitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=hash_token(token), invited_by=actor
    )
    with workspace_scope(workspace):
        log_action(workspace=workspace, actor=actor, action="staff.invited", message=f"{email} invited as {role}")
    from ..notifications import send_staff_invitation

    transaction.on_commit(lambda: send_staff_invitation(invitation_id=invitation.pk, token=token))
    return NewInvitation(invitation=invitation, token=token)


def find_invitation(token: str) -> StaffInvitation | None:
    if not token or len(token) > 200:
        return None
    return StaffInvitation.objects.select_related("workspace", "invited_by").filter(token_hash=hash_token(token)).first()


@transaction.atomic
def accept_staff_invitation(*, invitation: StaffInvitation, user: User) -> Membership:
    invitation = StaffInvitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise Conflict("This invitation has expired, was revoked or was already used.", code="invitation_closed")
    membership, _ = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    with workspace_scope(invitation.workspace):
        log_action(
            workspace=invitation.workspace, actor=user, action="staff.joined",
            message=f"{user.email} joined as {membership.role}",
        )
    return membership


@transaction.atomic
def change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationFailed("Choose a role: owner, manager or viewer.")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    with workspace_scope(membership.workspace_id):
        log_action(
            workspace=membership.workspace, actor=actor, action="staff.role_changed",
            message=f"{membership.user.email}: {old} → {role}",
        )
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, actor: User) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    with workspace_scope(membership.workspace_id):
        log_action(
            workspace=membership.workspace, actor=actor, action="staff.removed",
            message=f"{membership.user.email} removed from the team",
        )
    membership.delete()


def _ensure_another_owner(membership: Membership) -> None:
    owners = Membership.objects.select_for_update().filter(workspace_id=membership.workspace_id, role=Role.OWNER)
    if not owners.exclude(pk=membership.pk).exists():
        raise Conflict("A workspace needs at least one owner: make someone else owner first.", code="last_owner")
