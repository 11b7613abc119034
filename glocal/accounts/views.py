from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from glocal.core.http import ScopedRequest
from glocal.core.roles import Action, grantable_roles
from glocal.core.views_base import scoped
from glocal.network import selectors
from glocal.network import services as network_services
from glocal.network.models import Membership

from . import services
from .forms import AcceptInvitationForm, InviteForm, LoginForm, ProfileForm, RoleForm
from .models import Invitation, User


def _with_language(response: HttpResponseBase, language: str) -> HttpResponseBase:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]  # "Lax" (settings)
    )
    return response


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        _with_language(response, form.get_user().language)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    user = request.user if request.user.is_authenticated else None
    known = User.objects.filter(email=invitation.email).first()
    if known and user is None:
        messages.info(request, _("You already have an account: log in to accept the invitation."))
        return redirect(f"{reverse_lazy('accounts:login')}?next={request.path}")
    if request.method == "POST":
        if user is not None:
            try:
                services.invitation_accept(invitation=invitation, user=cast(User, user))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("core:home")
            messages.success(request, _("Invitation accepted."))
            return redirect("core:home")
        form = AcceptInvitationForm(request.POST, email=invitation.email)
        if form.is_valid():
            new_user = services.invitation_accept(
                invitation=invitation,
                user=None,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to Glocal!"))
            return redirect("core:home")
    else:
        form = AcceptInvitationForm(email=invitation.email, initial={"full_name": invitation.full_name})
    return render(
        request, "accounts/accept.html", {"invitation": invitation, "form": form, "user_known": user}
    )


@scoped()
def profile(request: ScopedRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = services.profile_update(
            user=request.user, changes={name: form.cleaned_data[name] for name in ProfileForm.Meta.fields}
        )
        messages.success(request, _("Your profile was saved."))
        response = redirect("accounts:profile")
        _with_language(response, user.language)
        return response
    return render(request, "accounts/profile.html", {"form": form})


@scoped(Action.PEOPLE_VIEW)
def people(request: ScopedRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    memberships = selectors.people_in_scope(query=query)
    invitations = Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True).select_related(
        "entity"
    )
    return render(
        request,
        "accounts/people.html",
        {
            "memberships": memberships[:500],
            "invitations": invitations,
            "query": query,
            "total": memberships.count(),
        },
    )


@scoped(Action.PEOPLE_INVITE)
def invite(request: ScopedRequest) -> HttpResponse:
    scope = request.scope
    form = InviteForm(
        request.POST or None, roles=grantable_roles(scope.role), initial={"entity": request.GET.get("entity")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                entity=form.cleaned_data["entity"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                full_name=form.cleaned_data["full_name"],
                by=request.user,
                by_role=scope.role,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
            return redirect("people:list")
    return render(request, "accounts/invite.html", {"form": form})


@scoped(Action.PEOPLE_MANAGE)
def membership_edit(request: ScopedRequest, pk: int) -> HttpResponse:
    scope = request.scope
    membership = get_object_or_404(Membership.objects.select_related("user", "entity"), pk=pk)
    form = RoleForm(
        request.POST or None, roles=grantable_roles(scope.role), initial={"role": membership.role}
    )
    if request.method == "POST":
        try:
            if request.POST.get("deactivate"):
                network_services.membership_deactivate(
                    membership=membership, by_role=scope.role, by_user_id=request.user.pk
                )
                messages.success(request, _("Access removed."))
                return redirect("people:list")
            if form.is_valid():
                network_services.membership_change_role(
                    membership=membership, role=form.cleaned_data["role"], by_role=scope.role
                )
                messages.success(request, _("Role changed."))
                return redirect("people:list")
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(request, "accounts/membership.html", {"membership": membership, "form": form})


@require_POST
@scoped(Action.PEOPLE_INVITE)
def invitation_revoke(request: ScopedRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        services.invitation_revoke(invitation=invitation, by_role=request.scope.role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("people:list")
