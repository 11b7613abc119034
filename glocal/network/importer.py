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


def validate(data: bytes | IO[bytes]) -> tuple[ImportReport, list[tuple[int, dict[str, Any]]]]:
    """Check every row against the file and the database; return the report and the clean rows.
    ``data``: the file's bytes or a seekable binary file (read as a stream)."""
    report = ImportReport()
    try:
        with tabular.open_table(
            data, "network.csv", tabular.Limits.from_settings(max_rows=MAX_ROWS)
        ) as table:
            report.encoding = table.encoding_label
            header, rows = _read_rows(table)
    except tabular.TabularError as exc:
        report.file_errors.append(str(exc))
        return report, []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        report.file_errors.append(_("Missing columns: %(columns)s") % {"columns": ", ".join(missing)})
        return report, []
    report.total_rows = len(rows)

    scope = get_scope()
    types = {t.code: t for t in EntityType.objects.all()}
    custom_defs = {cf.key: cf for cf in CustomFieldDefinition.objects.all()}
    existing = {e.code: e for e in Entity.objects.all()}
    all_codes_in_org = set(
        Entity.unscoped.filter(organisation_id=scope.organisation_id).values_list("code", flat=True)
    )
    file_codes: dict[str, int] = {}
    clean: list[tuple[int, dict[str, Any]]] = []
    unknown_custom = [h for h in header if h.startswith("custom:") and h[7:] not in custom_defs]
    if unknown_custom:
        report.file_errors.append(
            _("Unknown custom fields: %(columns)s") % {"columns": ", ".join(unknown_custom)}
        )
        return report, []

    for index, row in rows:
        messages: list[str] = []
        form = RowForm(data=row)
        code = row.get("code", "")
        if not form.is_valid():
            for name, errs in form.errors.items():
                messages.extend(f"{name}: {e}" for e in errs)
        if code in file_codes:
            messages.append(
                _("code: “%(code)s” already appears on row %(row)d.")
                % {"code": code, "row": file_codes[code]}
            )
        elif code:
            file_codes[code] = index
        if code and code in all_codes_in_org and code not in existing:
            # An entity outside the importer's subtree: indistinguishable from a clash we cannot touch.
            messages.append(_("code: “%(code)s” is used by an entity you cannot manage.") % {"code": code})
        type_code = row.get("type", "")
        if type_code and type_code not in types:
            messages.append(_("type: unknown entity type “%(type)s”.") % {"type": type_code})
        values: dict[str, Any] = dict(form.cleaned_data) if not messages else {}
        custom: dict[str, Any] = {}
        for key, definition in custom_defs.items():
            cell = row.get(f"custom:{key}", "")
            if cell == "":
                continue
            try:
                custom[key] = coerce_custom(definition, cell)
            except ValueError as exc:
                messages.append(f"custom:{key}: {exc}")
        social = {net: row[net] for net in SOCIAL_NETWORKS if row.get(net)}
        if messages:
            report.add_error(RowError(row=index, code=code, messages=messages))
            continue
        values["custom"] = custom
        values["social_links"] = social
        values["_present"] = {k for k, v in row.items() if v != ""}
        clean.append((index, values))

    # Parents: each must be an entity in scope or a row of this file, and no row may form a cycle.
    by_code = {values["code"]: (index, values) for index, values in clean}
    for index, values in clean:
        parent_code = values.get("parent_code") or ""
        code = values["code"]
        if not parent_code:
            if code in existing and existing[code].parent_id is None:
                continue  # the head office itself
            report.add_error(RowError(row=index, code=code, messages=[_("parent_code: required.")]))
            continue
        if parent_code not in by_code and parent_code not in existing:
            report.add_error(
                RowError(
                    row=index,
                    code=code,
                    messages=[
                        _("parent_code: no entity “%(code)s” in your network or in this file.")
                        % {"code": parent_code}
                    ],
                )
            )
            continue
        seen = {code}
        cursor = parent_code
        while cursor in by_code and cursor not in seen:
            seen.add(cursor)
            cursor = by_code[cursor][1].get("parent_code") or (
                existing[cursor].parent.code if cursor in existing and existing[cursor].parent else ""
            )
        if cursor in seen:
            report.add_error(
                RowError(
                    row=index,
                    code=code,
                    messages=[_("parent_code: “%(code)s” would make a cycle.") % {"code": parent_code}],
                )
            )
        elif code in existing and existing[code].parent_id is None:
            report.add_error(RowError(row=index, code=code, messages=[_("The head office cannot be moved.")]))
        elif (
            code in existing
            and parent_code in existing
            and existing[parent_code].is_descendant_of(existing[code])
        ):
            report.add_error(
                RowError(
                    row=index,
                    code=code,
                    messages=[_("parent_code: “%(code)s” would make a cycle.") % {"code": parent_code}],
                )
            )
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
