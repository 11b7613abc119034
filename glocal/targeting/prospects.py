"""External prospect lists: rented or partner lists for one store's catchment area and ONE campaign.

The company may not keep these people like its own customers, so they live in their own tables
(``ProspectList`` / ``ProspectRecord``): never contacts, never in the contact list, search or counts.
A list is bound to one campaign (``campaign_ref``) and only that campaign may read it
(:func:`records_for_campaign`). After the campaign (``purge_after``) the rows are deleted by
:func:`purge_list` / :func:`purge_due_lists` (job ``targeting.purge_prospect_lists``, command
``glocal purge-prospect-lists``) and a ``ProspectListPurge`` records who, when and how many rows.
Reporting reads :func:`prospect_list_stats`, kept apart from the audience counts.

Upload (CSV, read as a stream by :mod:`glocal.core.tabular`): all or nothing; every bad row is reported
with its number and reason; people on the opposition list (by hash) are excluded at upload and only counted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from glocal.audience import services as audience
from glocal.audience.models import Channel, Suppression, hash_value
from glocal.core import audit, tabular
from glocal.core.jobs import Report, job_handler
from glocal.core.models import Job
from glocal.core.scope import get_scope
from glocal.core.tabular import RowError
from glocal.network.models import Entity

from .models import ProspectList, ProspectListPurge, ProspectRecord

JOB_KIND = "targeting.purge_prospect_lists"
MAX_ROWS = 200_000
COLUMNS = {
    "email": ("email", "e-mail", "mail", "courriel"),
    "mobile": ("mobile", "phone", "telephone", "téléphone", "portable", "tel"),
    "first_name": ("first_name", "firstname", "first name", "prénom", "prenom"),
    "last_name": ("last_name", "lastname", "last name", "name", "nom"),
    "postcode": ("postcode", "zip", "postal_code", "code postal", "code_postal", "cp"),
    "city": ("city", "ville", "town"),
}


@dataclass
class ParsedList:
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    excluded: int = 0  # on the opposition list
    encoding: str = ""  # as detected ("UTF-8", "Windows-1252"), "" for a workbook


def _error(row: int, message: str) -> RowError:
    return RowError(row=row, messages=[message])


def _header_map(header: list[str]) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lower().lstrip("\ufeff")
        for column, aliases in COLUMNS.items():
            if name in aliases and column not in mapping.values():
                mapping[index] = column
    return mapping


def _clean_prospect(row: dict[str, str]) -> str | None:
    """Normalise the row's email and mobile in place; the reason the row is refused, or None."""
    try:
        row["email"] = audience.normalise_email(row.get("email", ""))
    except ValidationError as exc:
        return exc.messages[0]
    try:
        row["mobile"] = audience.normalise_mobile(row.get("mobile", ""))
    except ValidationError as exc:
        return exc.messages[0]
    if not row["email"] and not row["mobile"]:
        return _("No email address and no mobile number.")
    return None


@dataclass
class _ListReader:
    """Reads a list's rows into checked candidates, reporting each bad row in ``result``; remembers the
    last row read, so that a file refused halfway names the row it stopped at."""

    result: ParsedList
    number: int = 0  # the last row read (the header is row 1)
    seen: set[str] = field(default_factory=set)  # emails and mobiles of the rows kept so far
    candidates: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def read(self, table: tabular.Table) -> None:
        reader = table.rows()
        header = next(reader, None)
        self.number = 1
        if not header:
            self.result.errors.append(_error(1, _("The file is empty.")))
            return
        mapping = _header_map(header)
        if "email" not in mapping.values() and "mobile" not in mapping.values():
            self.result.errors.append(_error(1, _("The file needs an “email” or a “mobile” column.")))
            return
        for number, cells in enumerate(reader, start=2):
            self.number = number
            if any(cells):
                self._add(
                    number, {column: (cells[i] if i < len(cells) else "") for i, column in mapping.items()}
                )

    def _add(self, number: int, row: dict[str, str]) -> None:
        """Keep the row unless it is bad or repeats an earlier row's email or mobile."""
        problem = _clean_prospect(row)
        if problem is not None:
            self.result.errors.append(_error(number, problem))
            return
        keys = [k for k in (row["email"], row["mobile"]) if k]
        if any(k in self.seen for k in keys):
            self.result.errors.append(_error(number, _("Duplicate of an earlier row in the file.")))
            return
        self.seen.update(keys)
        self.candidates.append((number, row))


def _keep_unsuppressed(
    result: ParsedList, candidates: list[tuple[int, dict[str, str]]], organisation_id: int
) -> None:
    """Add the candidates to ``result.rows``, except the people on the opposition list (only counted)."""
    # The opposition list, by hash, in one query per chunk (organisation-wide by nature).
    suppressed: set[str] = set()
    hashes = [hash_value(r[k]) for _n, r in candidates for k in ("email", "mobile") if r[k]]
    for start in range(0, len(hashes), 5000):
        suppressed.update(
            Suppression.unscoped.filter(
                organisation_id=organisation_id,
                channel__in=[Channel.EMAIL, Channel.SMS, Channel.POSTAL, Channel.PHONE],
                value_hash__in=hashes[start : start + 5000],
            ).values_list("value_hash", flat=True)
        )
    for _number, row in candidates:
        if any(hash_value(row[k]) in suppressed for k in ("email", "mobile") if row[k]):
            result.excluded += 1
            continue
        result.rows.append({k: row.get(k, "")[:254] for k in COLUMNS})


def parse_csv(data: bytes | IO[bytes], organisation_id: int, filename: str = "list.csv") -> ParsedList:
    """Read and check a list; never writes. Read by :mod:`glocal.core.tabular` as a stream (UTF-8 or
    Windows-1252/Latin-1, comma, semicolon or tab; an .xlsx file name reads the first sheet), under its
    column, row and cell limits: a refused file is one error naming the limit."""
    result = ParsedList()
    reader = _ListReader(result)
    try:
        limits = tabular.Limits.from_settings(max_rows=MAX_ROWS)
        with tabular.open_table(data, filename, limits) as table:
            result.encoding = table.encoding_label
            reader.read(table)
    except tabular.TabularError as exc:
        # The row being read when the file was refused (the message names the limit and what to do).
        result.errors.append(_error(reader.number + 1, str(exc)))
        return result
    _keep_unsuppressed(result, reader.candidates, organisation_id)
    return result


def upload_list(
    *,
    entity: Entity,
    name: str,
    campaign_ref: str,
    purge_after: datetime.date,
    data: bytes | IO[bytes],
    provider: str = "",
    purpose: str = "",
    campaign: Any = None,
    filename: str = "",
    consent_basis: str = ProspectList.ConsentBasis.POSTAL,
) -> tuple[ProspectList | None, ParsedList]:
    """Store an external list for one campaign of ``entity`` (fetched through the caller's scope).
    ``campaign``: the Glocal campaign (fetched through the caller's scope) when there is one; it must be
    the store's. All or nothing: with any bad row nothing is written and (None, report) comes back."""
    scope = get_scope()
    if not scope.covers_path(entity.path):
        raise ValidationError(_("Unknown store."))
    if campaign is not None:
        if campaign.entity_id != entity.pk:
            raise ValidationError(_("The campaign is not this store's."))
        campaign_ref = campaign_ref or f"{campaign.name} (#{campaign.pk})"
    if not (name or "").strip() or not (campaign_ref or "").strip():
        raise ValidationError(_("Give the list a name and the campaign it is for."))
    if consent_basis not in ProspectList.ConsentBasis.values:
        raise ValidationError(_("Say what the provider's consent covers."))
    if purge_after < timezone.localdate():
        raise ValidationError(_("The purge date cannot be in the past."))
    parsed = parse_csv(data, scope.organisation_id, filename or "list.csv")
    if parsed.errors:
        return None, parsed
    with transaction.atomic():
        plist = ProspectList.unscoped.create(
            organisation_id=scope.organisation_id,
            entity=entity,
            name=name.strip()[:120],
            provider=provider.strip()[:120],
            campaign=campaign,
            campaign_ref=campaign_ref.strip()[:120],
            purpose=purpose.strip()[:300],
            consent_basis=consent_basis,
            purge_after=purge_after,
            row_count=len(parsed.rows),
            excluded_count=parsed.excluded,
            uploaded_by_id=scope.user_id,
        )
        ProspectRecord.unscoped.bulk_create(
            (
                ProspectRecord(organisation_id=scope.organisation_id, prospect_list=plist, **row)
                for row in parsed.rows
            ),
            batch_size=2000,
        )
        audit.record(
            action="prospect_list.upload",
            summary=f"list #{plist.pk}: {len(parsed.rows)} rows, {parsed.excluded} excluded",
            entity_id=entity.pk,
            data={"list": plist.pk, "rows": len(parsed.rows), "excluded": parsed.excluded},
        )
    return plist, parsed


def records_for_campaign(*, prospect_list: ProspectList, campaign: Any = None, campaign_ref: str = "") -> Any:
    """The list's people, for the campaign it was uploaded for and no other (the Campaign when the list
    is bound to one, else its reference); refused after the purge."""
    if prospect_list.status != ProspectList.Status.ACTIVE:
        raise ValidationError(_("This list was purged."))
    if prospect_list.campaign_id is not None:
        allowed = campaign is not None and campaign.pk == prospect_list.campaign_id
    else:
        allowed = bool(campaign_ref) and campaign_ref == prospect_list.campaign_ref
    if not allowed:
        raise ValidationError(_("This list may only be used by the campaign it was uploaded for."))
    return ProspectRecord.objects.filter(prospect_list=prospect_list)


def lists_for_campaign(campaign: Any) -> Any:
    """The active external lists a campaign may use (for the campaigns app's audience step)."""
    return ProspectList.objects.filter(campaign=campaign, status=ProspectList.Status.ACTIVE)


def purge_list(*, prospect_list: ProspectList, reason: str = "manual") -> ProspectListPurge:
    """Delete the list's people; keep the list's description and a record of the purge."""
    scope = get_scope()
    with transaction.atomic():
        locked = ProspectList.unscoped.select_for_update().get(pk=prospect_list.pk)
        deleted, _detail = ProspectRecord.unscoped.filter(prospect_list=locked).delete()
        ProspectList.unscoped.filter(pk=locked.pk).update(status=ProspectList.Status.PURGED)
        purge = ProspectListPurge.unscoped.create(
            organisation_id=locked.organisation_id,
            prospect_list=locked,
            purged_by_id=scope.user_id,
            reason=reason,
            rows_deleted=deleted,
        )
        audit.record(
            action="prospect_list.purge",
            summary=f"list #{locked.pk}: {deleted} rows ({reason})",
            entity_id=locked.entity_id,
            data={"list": locked.pk, "rows": deleted, "reason": reason},
        )
    prospect_list.refresh_from_db()
    return purge


def due_lists(today: datetime.date | None = None) -> Any:
    """The scope's active lists whose campaign is over: purge date passed, campaign sent (the list was
    used: its messages carry their own addresses) or cancelled."""
    return ProspectList.objects.filter(status=ProspectList.Status.ACTIVE).filter(
        Q(purge_after__lt=today or timezone.localdate()) | Q(campaign__state__in=("sent", "cancelled"))
    )


def purge_due_lists(today: datetime.date | None = None, report: Report | None = None) -> dict[str, int]:
    lists = list(due_lists(today).order_by("pk"))
    rows = 0
    for index, plist in enumerate(lists, start=1):
        rows += purge_list(prospect_list=plist, reason="scheduled").rows_deleted
        if report:
            report(index, len(lists))
    return {"lists": len(lists), "rows": rows}


@job_handler(JOB_KIND)
def purge_job(job: Job, report: Report) -> dict[str, Any]:
    return purge_due_lists(report=report)


def prospect_list_stats() -> dict[str, int]:
    """For reports: external prospects measured apart from the customer base (scope's lists)."""
    lists = ProspectList.objects.all()
    totals = lists.aggregate(
        lists=Count("pk"),
        active=Count("pk", filter=Q(status=ProspectList.Status.ACTIVE)),
        purged=Count("pk", filter=Q(status=ProspectList.Status.PURGED)),
        uploaded_rows=Sum("row_count"),
        excluded_rows=Sum("excluded_count"),
    )
    held = ProspectRecord.objects.count()
    return {k: int(v or 0) for k, v in totals.items()} | {"rows_held": held}
