"""Invitations: create and email, accept (new or existing user), revoke."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from glocal.core import audit
from glocal.core.scope import Scope, activate
from glocal.network import services as network_services
from glocal.network.models import Entity, Membership

from .models import Invitation, User, hash_token


def invitation_create(
    *, entity: Entity, email: str, role: str, full_name: str = "", by: User, by_role: str
) -> tuple[Invitation, str]:
    """Record an invitation and email its link. Returns the invitation and the clear token (sent only
    by email; only its hash is stored)."""
    network_services.check_can_grant(granter_role=by_role, role=role)
    email = email.strip().lower()
    if Membership.unscoped.filter(user__email=email, entity=entity, role=role, is_active=True).exists():
        raise ValidationError(_("This person already has this role here."))
    token = Invitation.new_token()
    with transaction.atomic():
        invitation = Invitation.unscoped.create(
            organisation_id=entity.organisation_id,
            entity=entity,
            email=email,
            full_name=full_name,
            role=role,
            token_hash=hash_token(token),
            invited_by=by,
            expires_at=timezone.now() + timedelta(days=settings.GLOCAL_INVITATION_DAYS),
        )
        audit.record(
            action="invitation.create",
            summary=f"{email} → {role} @ {entity.code}",
            entity_id=entity.pk,
            data={"email": email, "role": role, "entity": entity.code},
        )
        transaction.on_commit(lambda: _send_invitation(invitation, token))
    return invitation, token


def _send_invitation(invitation: Invitation, token: str) -> None:
    existing = User.objects.filter(email=invitation.email).first()
    language = existing.language if existing else translation.get_language() or "fr"
    link = settings.GLOCAL_PUBLIC_URL.rstrip("/") + reverse("accounts:accept", args=[token])
    with translation.override(language):
        context = {
            "invitation": invitation,
            "link": link,
            "organisation": invitation.organisation,
            "role": invitation.get_role_display(),
            "entity": invitation.entity,
        }
        subject = _("You are invited to %(org)s on Glocal") % {"org": invitation.organisation.name}
        body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


def invitation_for_token(token: str) -> Invitation | None:
    """Look an invitation up by its secret token (the token is the credential, so no scope)."""
    invitation = (
        Invitation.unscoped.select_related("entity", "organisation")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return invitation if invitation and invitation.is_open else None


def invitation_accept(
    *, invitation: Invitation, user: User | None, full_name: str = "", password: str = ""
) -> User:
    """Turn an open invitation into a membership; create the user when there is none yet."""
    with transaction.atomic():
        locked = Invitation.unscoped.select_for_update().get(pk=invitation.pk)
        if not locked.is_open:
            raise ValidationError(_("This invitation is no longer valid."))
        if user is None:
            user = User.objects.create_user(invitation.email, password, full_name=full_name)
        elif user.email.lower() != invitation.email:
            raise ValidationError(_("This invitation was sent to another email address."))
        scope = Scope(
            organisation_id=invitation.organisation_id,
            entity_id=invitation.entity_id,
            entity_path=invitation.entity.path,
            role="",
            user_id=user.pk,
        )
        with activate(scope):
            Membership.unscoped.update_or_create(
                user=user,
                entity=invitation.entity,
                role=invitation.role,
                defaults={
                    "organisation_id": invitation.organisation_id,
                    "is_active": True,
                    "created_by_id": invitation.invited_by_id,
                },
            )
            locked.accepted_at = timezone.now()
            locked.save(update_fields=["accepted_at"])
            audit.record(
                action="invitation.accept",
                summary=f"{user.email} → {invitation.role}",
                entity_id=invitation.entity_id,
                actor_id=user.pk,
                data={"email": user.email, "role": invitation.role},
            )
    return user


def invitation_revoke(*, invitation: Invitation, by_role: str) -> Invitation:
    network_services.check_can_grant(granter_role=by_role, role=invitation.role)
    if invitation.accepted_at:
        raise ValidationError(_("This invitation was already accepted."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(action="invitation.revoke", summary=invitation.email, entity_id=invitation.entity_id)
    return invitation


def profile_update(*, user: User, changes: dict[str, object]) -> User:
    """A user's own profile (name, language)."""
    with transaction.atomic():
        for name, value in changes.items():
            setattr(user, name, value)
        user.save(update_fields=sorted(changes))
        audit.record(
            action="user.profile", summary=", ".join(sorted(changes)), data={"fields": sorted(changes)}
        )
    return user
