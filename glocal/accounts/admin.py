from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from glocal.core.admin import UnscopedAdmin

from .models import Invitation, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name", "language"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "password1", "password2"]})]


@admin.register(Invitation)
class InvitationAdmin(UnscopedAdmin):
    list_display = ["email", "role", "entity", "created_at", "accepted_at", "revoked_at"]
    readonly_fields = ["token_hash"]
