"""Contact import: the columns and consent wording a node remembers per set of file headers.

When a store (any node: the acting scope's) checks a file, the columns it matched and the consent wording
it gave are kept for that set of headers (compared like the guess: accents, case and punctuation
ignored, in any order). The next file with the same headers (typically the same file, corrected after
a refused check) starts from them: it goes straight to the check, with a link to change the mapping.

``recall`` reads (a selector); ``start_check`` writes (a service: the remembered columns with their
audit event, and the check job, in one transaction).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from glocal.core import audit, jobs
from glocal.core.models import ACTION_LABELS, Job
from glocal.core.scope import get_scope

from . import importer
from .models import AttributeDefinition, ImportMapping

AUDIT_REMEMBER = "contact.import_mapping"
ACTION_LABELS.update({AUDIT_REMEMBER: gettext_lazy("saved the columns of a contact file")})


def header_key(header: list[str]) -> str:
    """One key per set of headers, whatever their order, accents, case or punctuation."""
    names = sorted(importer.compact_header(column) for column in header)
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def known_targets(attributes: list[AttributeDefinition]) -> set[str]:
    return {*importer.TARGETS, *(f"attr:{a.key}" for a in attributes)}


def apply(header: list[str], stored: ImportMapping, allowed: set[str]) -> list[str]:
    """The stored targets laid on ``header``: by column name (a reordered file keeps its mapping; two
    columns of one name take their targets in order); a target no longer known (a removed attribute)
    is dropped."""
    queues: dict[str, list[str]] = {}
    for name, target in zip(stored.header, stored.mapping, strict=False):
        queues.setdefault(name, []).append(target)
    mapping = []
    for column in header:
        queue = queues.get(importer.compact_header(column)) or [""]
        target = queue.pop(0)
        mapping.append(target if target in allowed else "")
    return mapping


@dataclass
class Remembered:
    mapping: list[str]
    wording: str

    @property
    def complete(self) -> bool:
        """Enough to check the file without asking: an email or a mobile column, each field once, and
        the wording when the file records consents (what the mapping form requires)."""
        used = [t for t in self.mapping if t]
        return (
            len(used) == len(set(used))
            and ("email" in used or "mobile" in used)
            and (bool(self.wording.strip()) or not any(t.startswith("consent_") for t in used))
        )


def recall(header: list[str], attributes: list[AttributeDefinition]) -> Remembered | None:
    """The acting node's remembered columns and wording for this set of headers, or None."""
    scope = get_scope()
    stored = ImportMapping.objects.filter(entity_id=scope.entity_id, header_key=header_key(header)).first()
    if stored is None:
        return None
    return Remembered(mapping=apply(header, stored, known_targets(attributes)), wording=stored.wording)


def _remember(header: list[str], mapping: list[str], wording: str) -> None:
    """Keep the acting node's columns and wording for this set of headers (an audit event when they
    change; the same choices again write nothing)."""
    scope = get_scope()
    names = [importer.compact_header(column) for column in header]
    stored = ImportMapping.objects.filter(entity_id=scope.entity_id, header_key=header_key(header)).first()
    if stored is not None and (stored.header, stored.mapping, stored.wording) == (names, mapping, wording):
        return
    if stored is None:
        stored = ImportMapping(
            organisation_id=scope.organisation_id, entity_id=scope.entity_id, header_key=header_key(header)
        )
    stored.header, stored.mapping, stored.wording = names, mapping, wording
    stored.updated_at, stored.updated_by_id = timezone.now(), scope.user_id
    stored.save()
    audit.record(
        action=AUDIT_REMEMBER,
        summary=f"{sum(1 for t in mapping if t)} of {len(mapping)} columns matched",
        data={"columns": len(mapping), "fields": [t for t in mapping if t], "wording": bool(wording)},
    )


def start_check(
    *,
    pending: dict[str, Any],
    key: str,
    mapping: list[str],
    wording: str,
    language: str,
    remember: bool = True,
    remembered: bool = False,
) -> Job:
    """Check an uploaded file (``pending``: what the upload step keeps in the session, under ``key``)
    in a background job, nothing written; with ``remember``, keep its columns and wording for the next
    file with the same headers. ``remembered``: the columns come from the last such file (the check
    page then offers to change them)."""
    scope = get_scope()
    with transaction.atomic():
        if remember:
            _remember(pending["header"], mapping, wording)
        return jobs.enqueue(
            importer.JOB_KIND,
            scope=scope,
            params={
                "upload": pending["upload"],
                "filename": pending["filename"],
                "mapping": mapping,
                "wording": wording,
                "dry_run": True,
                "language": language,
                "pending": key,
                "remembered": remembered,
            },
            by_user_id=scope.user_id,
        )
