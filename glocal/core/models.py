"""Shared kernel records: the audit trail, background jobs and worker heartbeats."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import EntityOwned

# Human wording of audit actions; apps add theirs with ``ACTION_LABELS.update(...)``.
ACTION_LABELS: dict[str, Any] = {
    "entity.create": _("created the entity"),
    "entity.update": _("updated the profile"),
    "entity.move": _("moved the entity"),
    "entity.deactivate": _("deactivated the entity"),
    "entity.reactivate": _("reactivated the entity"),
    "membership.grant": _("granted a role"),
    "membership.role": _("changed a role"),
    "membership.deactivate": _("removed an access"),
    "invitation.create": _("sent an invitation"),
    "invitation.accept": _("accepted an invitation"),
    "invitation.revoke": _("revoked an invitation"),
}


class AuditEvent(EntityOwned):
    """Who did what, when, in an organisation. Append-only."""

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=60)
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}: {self.summary}"

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))


class Job(EntityOwned):
    """A piece of long work (an import, a launch, a PDF batch) run by a worker, with progress.

    Claimed atomically with a conditional UPDATE (status queued → running), so that two workers never
    run the same job; ``attempts`` counts claims.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organisation = models.ForeignKey("network.Organisation", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("network.Entity", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    role = models.CharField(max_length=20, help_text="Role the job acts with (the launcher's).")
    kind = models.CharField(max_length=60)
    token = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.progress / self.total) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


class WorkerHeartbeat(models.Model):
    """Last sign of life of each worker process (platform data, not tenant data)."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%H:%M:%S}"
