"""Django admin, for platform operators only (is_staff). Operators act with no tenant scope, so
every admin queryset uses the explicit unscoped manager."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from .models import AuditEvent, Job, WorkerHeartbeat


class UnscopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self.model.unscoped.all()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if hasattr(related, "unscoped"):
            kwargs.setdefault("queryset", related.unscoped.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if hasattr(related, "unscoped"):
            kwargs.setdefault("queryset", related.unscoped.all())
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(AuditEvent)
class AuditEventAdmin(UnscopedAdmin):
    list_display = ["created_at", "organisation", "action", "summary", "actor"]
    list_filter = ["action"]


@admin.register(Job)
class JobAdmin(UnscopedAdmin):
    list_display = ["pk", "kind", "status", "progress", "total", "created_at", "worker"]
    list_filter = ["status", "kind"]


admin.site.register(WorkerHeartbeat)
admin.site.site_header = "Glocal — platform operations"
