"""Network import from CSV: every row validated first, every error reported, then all or nothing.

Read by :mod:`glocal.core.tabular` (UTF-8 or Windows-1252, comma / semicolon / tab, limits on columns,
rows and cells; the report and its row errors are the kernel's).

Columns (header names, any order; only ``code``, ``name`` and ``type`` are required):
code, parent_code, type, name, legal_name, address_line1, address_line2, postcode, city, country, phone,
email, website, manager_name, manager_signature, timezone, latitude, longitude, catchment_postcodes
(separated by spaces, commas or semicolons), facebook, instagram, linkedin, x, tiktok, youtube, and
``custom:<key>`` for HQ-defined custom fields. Re-importing updates entities by code (and moves them
when ``parent_code`` changed); an empty cell leaves the existing value unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import phonenumbers
from django import forms
from django.db import transaction
from django.utils.translation import gettext as _

from glocal.core import tabular
from glocal.core.jobs import Report, job_handler
from glocal.core.models import Job
from glocal.core.scope import get_scope
from glocal.core.tabular import ImportReport, RowError

from . import services
from .models import SOCIAL_NETWORKS, CustomFieldDefinition, Entity, EntityType, validate_timezone

MAX_ROWS = 20_000
REQUIRED_COLUMNS = ("code", "name", "type")


class RowForm(forms.Form):
    code = forms.CharField(max_length=40)
    parent_code = forms.CharField(max_length=40, required=False)
    type = forms.CharField(max_length=40)
    name = forms.CharField(max_length=200)
    legal_name = forms.CharField(max_length=200, required=False)
    address_line1 = forms.CharField(max_length=200, required=False)
    address_line2 = forms.CharField(max_length=200, required=False)
    postcode = forms.CharField(max_length=16, required=False)
    city = forms.CharField(max_length=100, required=False)
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        required=False,
        error_messages={"invalid": _("Use a two-letter country code (FR, BE…).")},
    )
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(required=False)
    website = forms.URLField(required=False, assume_scheme="https")
    manager_name = forms.CharField(max_length=120, required=False)
    manager_signature = forms.CharField(max_length=1000, required=False)
    timezone = forms.CharField(max_length=64, required=False, validators=[validate_timezone])
    latitude = forms.DecimalField(min_value=-90, max_value=90, max_digits=9, decimal_places=6, required=False)
    longitude = forms.DecimalField(
        min_value=-180, max_value=180, max_digits=9, decimal_places=6, required=False
    )
    catchment_postcodes = forms.CharField(max_length=2000, required=False)

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        region = (self.data.get("country") or "FR").upper()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise forms.ValidationError(_("“%(value)s” is not a phone number.") % {"value": raw}) from exc
        if not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(_("“%(value)s” is not a valid phone number.") % {"value": raw})
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean_catchment_postcodes(self) -> list[str]:
        raw = self.cleaned_data["catchment_postcodes"]
        return [p for p in raw.replace(";", " ").replace(",", " ").split() if p]


def _known(column: str) -> bool:
    return column in RowForm.base_fields or column in SOCIAL_NETWORKS or column.startswith("custom:")


def _read_rows(table: tabular.Table) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the non-blank rows (row number, {column: cell}) of the columns the import knows
    (others are ignored, so a wide file costs no memory)."""
    rows = table.rows()
    header = next(rows, [])
    kept = [(i, column) for i, column in enumerate(header) if _known(column)]
    found: list[tuple[int, dict[str, str]]] = []
    for number, cells in enumerate(rows, start=2):  # row 1 is the header, as in a spreadsheet
        if cells:
            found.append((number, {column: cells[i] if i < len(cells) else "" for i, column in kept}))
    return header, found


@dataclass
class _Known:
    """What the rows are checked against: the organisation's types, custom fields and codes."""

    types: dict[str, EntityType]
    custom_defs: dict[str, CustomFieldDefinition]
    existing: dict[str, Entity]  # the entities in the importer's scope, by code
    all_codes_in_org: set[str]

    @classmethod
    def load(cls) -> _Known:
        scope = get_scope()
        return cls(
            types={t.code: t for t in EntityType.objects.all()},
            custom_defs={cf.key: cf for cf in CustomFieldDefinition.objects.all()},
            existing={e.code: e for e in Entity.objects.all()},
            all_codes_in_org=set(
                Entity.unscoped.filter(organisation_id=scope.organisation_id).values_list("code", flat=True)
            ),
        )


def _read(
    data: bytes | IO[bytes], report: ImportReport
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and rows; a file refused (unreadable, required columns missing) is a file error in
    ``report`` and no rows."""
    try:
        with tabular.open_table(
            data, "network.csv", tabular.Limits.from_settings(max_rows=MAX_ROWS)
        ) as table:
            report.encoding = table.encoding_label
            header, rows = _read_rows(table)
    except tabular.TabularError as exc:
        report.file_errors.append(str(exc))
        return [], []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        report.file_errors.append(_("Missing columns: %(columns)s") % {"columns": ", ".join(missing)})
        return header, []
    return header, rows


def _row_messages(
    index: int, row: dict[str, str], form: RowForm, known: _Known, file_codes: dict[str, int]
) -> list[str]:
    """The form's errors, then the code's and the type's problems (``file_codes`` remembers the row of
    each code seen so far)."""
    messages: list[str] = []
    code = row.get("code", "")
    if not form.is_valid():
        for name, errs in form.errors.items():
            messages.extend(f"{name}: {e}" for e in errs)
    if code in file_codes:
        messages.append(
            _("code: “%(code)s” already appears on row %(row)d.") % {"code": code, "row": file_codes[code]}
        )
    elif code:
        file_codes[code] = index
    if code and code in known.all_codes_in_org and code not in known.existing:
        # An entity outside the importer's subtree: indistinguishable from a clash we cannot touch.
        messages.append(_("code: “%(code)s” is used by an entity you cannot manage.") % {"code": code})
    type_code = row.get("type", "")
    if type_code and type_code not in known.types:
        messages.append(_("type: unknown entity type “%(type)s”.") % {"type": type_code})
    return messages


def _custom_values(
    row: dict[str, str], custom_defs: dict[str, CustomFieldDefinition]
) -> tuple[dict[str, Any], list[str]]:
    """The row's non-empty custom fields in their types, and one message per refused cell."""
    custom: dict[str, Any] = {}
    messages: list[str] = []
    for key, definition in custom_defs.items():
        cell = row.get(f"custom:{key}", "")
        if cell == "":
            continue
        try:
            custom[key] = coerce_custom(definition, cell)
        except ValueError as exc:
            messages.append(f"custom:{key}: {exc}")
    return custom, messages


def _check_row(
    index: int, row: dict[str, str], known: _Known, file_codes: dict[str, int]
) -> tuple[dict[str, Any] | None, list[str]]:
    """One row on its own: (its clean values, []) or (None, every message)."""
    form = RowForm(data=row)
    messages = _row_messages(index, row, form, known, file_codes)
    custom, custom_messages = _custom_values(row, known.custom_defs)
    messages += custom_messages
    if messages:
        return None, messages
    values: dict[str, Any] = dict(form.cleaned_data)
    values["custom"] = custom
    values["social_links"] = {net: row[net] for net in SOCIAL_NETWORKS if row.get(net)}
    values["_present"] = {k for k, v in row.items() if v != ""}
    return values, []


def _walks_into_a_cycle(
    code: str, parent_code: str, by_code: dict[str, tuple[int, dict[str, Any]]], existing: dict[str, Entity]
) -> bool:
    """Climb from ``parent_code`` through the file's rows (then the stored parents): back at a code
    already met means a cycle."""
    seen = {code}
    cursor = parent_code
    while cursor in by_code and cursor not in seen:
        seen.add(cursor)
        stored = existing.get(cursor)
        cursor = by_code[cursor][1].get("parent_code") or (
            stored.parent.code if stored is not None and stored.parent else ""
        )
    return cursor in seen


def _parent_problem(
    values: dict[str, Any], by_code: dict[str, tuple[int, dict[str, Any]]], existing: dict[str, Entity]
) -> str | None:
    """A clean row's parent: an entity in scope or a row of this file, no cycle, the head office never
    moved. The problem's message, or None."""
    parent_code = values.get("parent_code") or ""
    code = values["code"]
    is_head_office = code in existing and existing[code].parent_id is None
    if not parent_code:
        return None if is_head_office else _("parent_code: required.")
    if parent_code not in by_code and parent_code not in existing:
        return _("parent_code: no entity “%(code)s” in your network or in this file.") % {"code": parent_code}
    cycle = _("parent_code: “%(code)s” would make a cycle.") % {"code": parent_code}
    if _walks_into_a_cycle(code, parent_code, by_code, existing):
        return cycle
    if is_head_office:
        return _("The head office cannot be moved.")
    if (
        code in existing
        and parent_code in existing
        and existing[parent_code].is_descendant_of(existing[code])
    ):
        return cycle
    return None


def validate(data: bytes | IO[bytes]) -> tuple[ImportReport, list[tuple[int, dict[str, Any]]]]:
    """Check every row against the file and the database; return the report and the clean rows.
    ``data``: the file's bytes or a seekable binary file (read as a stream)."""
    report = ImportReport()
    header, rows = _read(data, report)
    if report.file_errors:
        return report, []
    report.total_rows = len(rows)

    known = _Known.load()
    unknown_custom = [h for h in header if h.startswith("custom:") and h[7:] not in known.custom_defs]
    if unknown_custom:
        report.file_errors.append(
            _("Unknown custom fields: %(columns)s") % {"columns": ", ".join(unknown_custom)}
        )
        return report, []

    file_codes: dict[str, int] = {}
    clean: list[tuple[int, dict[str, Any]]] = []
    for index, row in rows:
        values, messages = _check_row(index, row, known, file_codes)
        if values is None:
            report.add_error(RowError(row=index, code=row.get("code", ""), messages=messages))
        else:
            clean.append((index, values))

    # Parents: each must be an entity in scope or a row of this file, and no row may form a cycle.
    by_code = {values["code"]: (index, values) for index, values in clean}
    for index, values in clean:
        problem = _parent_problem(values, by_code, known.existing)
        if problem is not None:
            report.add_error(RowError(row=index, code=values["code"], messages=[problem]))
    report.errors.sort(key=lambda e: e.row)
    return report, clean


def coerce_custom(definition: CustomFieldDefinition, cell: str) -> Any:
    kind = definition.field_type
    if kind == CustomFieldDefinition.FieldType.NUMBER:
        try:
            return float(cell.replace(",", "."))
        except ValueError:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": cell}) from None
    if kind == CustomFieldDefinition.FieldType.BOOLEAN:
        lowered = cell.lower()
        if lowered in {"1", "yes", "oui", "true", "vrai", "y", "o"}:
            return True
        if lowered in {"0", "no", "non", "false", "faux", "n"}:
            return False
        raise ValueError(_("“%(value)s” is not yes or no.") % {"value": cell})
    if kind == CustomFieldDefinition.FieldType.DATE:
        import datetime

        try:
            return datetime.date.fromisoformat(cell).isoformat()
        except ValueError:
            raise ValueError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": cell}) from None
    if kind == CustomFieldDefinition.FieldType.CHOICE and cell not in definition.choices:
        raise ValueError(
            _("“%(value)s” is not one of: %(choices)s")
            % {"value": cell, "choices": ", ".join(definition.choices)}
        )
    return cell


FIELD_NAMES = (
    "name",
    "legal_name",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "phone",
    "email",
    "website",
    "manager_name",
    "manager_signature",
    "timezone",
    "latitude",
    "longitude",
    "catchment_postcodes",
)


def import_network(
    data: bytes | IO[bytes], *, dry_run: bool = False, report_progress: Report | None = None
) -> ImportReport:
    """Validate ``data``; when every row is valid (and not ``dry_run``), write it in one transaction."""
    report, clean = validate(data)
    report.dry_run = dry_run
    if not report.ok or dry_run:
        return report
    types = {t.code: t for t in EntityType.objects.all()}
    pending = {values["code"]: values for _, values in clean}
    with transaction.atomic():
        entities = {e.code: e for e in Entity.objects.select_related("parent")}
        done = 0
        # Parents first: repeatedly take the rows whose parent already exists.
        while pending:
            ready = [
                v
                for v in pending.values()
                if not v.get("parent_code")
                or v["parent_code"] in entities
                and v["parent_code"] not in pending
            ]
            if not ready:  # pragma: no cover - validate() rules cycles out
                raise RuntimeError("cycle in network import")
            for values in ready:
                _apply_row(values, entities, types, report)
                del pending[values["code"]]
                done += 1
                if report_progress and done % 50 == 0:
                    report_progress(done, report.total_rows)
        if report_progress:
            report_progress(done, report.total_rows)
    return report


def _apply_row(
    values: dict[str, Any], entities: dict[str, Entity], types: dict[str, EntityType], report: ImportReport
) -> None:
    present = values["_present"]
    fields: dict[str, Any] = {name: values[name] for name in FIELD_NAMES if name in present}
    if "country" in fields:
        fields["country"] = fields["country"].upper()
    fields["entity_type"] = types[values["type"]]
    code = values["code"]
    existing = entities.get(code)
    parent = entities.get(values.get("parent_code") or "")
    scope = get_scope()
    if existing is None:
        assert parent is not None
        fields.update(code=code, custom=values["custom"], social_links=values["social_links"])
        entities[code] = services.entity_create(parent=parent, fields=fields)
        report.created += 1
        return
    if values["custom"]:
        fields["custom"] = {**existing.custom, **values["custom"]}
    if values["social_links"]:
        fields["social_links"] = {**existing.social_links, **values["social_links"]}
    changed = {k: v for k, v in fields.items() if getattr(existing, k) != v}
    if changed:
        services.entity_update(entity=existing, changes=changed, by_role=scope.role)
        report.updated += 1
    if parent is not None and existing.parent_id != parent.pk:
        services.entity_move(entity=existing, new_parent=parent)
        report.moved += 1
    elif not changed:
        report.unchanged += 1


@job_handler("network.import")
def run_import_job(job: Job, report: Report) -> dict[str, Any]:
    from django.core.files.storage import default_storage

    with default_storage.open(job.params["upload"], "rb") as handle:  # streamed, never read whole
        result = import_network(handle, dry_run=job.params.get("dry_run", False), report_progress=report)
    return result.as_dict()
