"""Contact import from CSV or XLSX: map columns, validate every row, then all or nothing.

Streaming in two passes so that a file of a million rows never sits in memory:

1. *validate*: read row by row, clean each one, look existing contacts up in batches, remember only
   an 8-byte key per email and mobile (duplicates inside the file are found by sorting those keys);
   every bad row is reported with its number (row 1 is the header, as in a spreadsheet) and reason.
2. *write* (only when no row is bad, and not a dry run): read the file again and upsert in batches
   inside ONE transaction (bulk_create / bulk_update): a failure anywhere writes nothing.

Idempotent: a row identical to what is stored changes nothing (no ledger entry either); an empty
cell leaves the stored value alone. A person on the opposition list never gets a positive consent
from an import. A row matching another store's contact is refused when HQ lets stores see that
customers exist, and otherwise silently left unchanged (the importer learns nothing).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import pickle
import re
import tempfile
import unicodedata
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from glocal.core import audit, tabular
from glocal.core.jobs import Report, job_handler
from glocal.core.models import Job
from glocal.core.scope import get_scope
from glocal.network.models import Entity

from . import services
from .models import (
    AttributeDefinition,
    Channel,
    ConsentEvent,
    ConsentSource,
    ConsentStatus,
    Contact,
    OwnershipTransfer,
    Suppression,
    consent_field,
    hash_value,
)

JOB_KIND = "audience.import"
BATCH = 1000
MAX_REPORTED_ERRORS = tabular.ImportReport.MAX_REPORTED_ERRORS
DEFAULT_MAX_ROWS = 1_000_000  # data rows per file; the setting GLOCAL_CONTACT_IMPORT_MAX_ROWS overrides it

# target field → (label, header synonyms, compared after normalise_header)
TARGETS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "email": (
        gettext_lazy("Email"),
        (
            "email",
            "e-mail",
            "mail",
            "courriel",
            "adresse email",
            "adresse mail",
            "adresse courriel",
            "adresse electronique",
            "email address",
            "mail address",
        ),
    ),
    "mobile": (
        gettext_lazy("Mobile"),
        (
            "mobile",
            "phone",
            "telephone",
            "tel",
            "portable",
            "gsm",
            "numero",
            "cell",
            "mobile phone",
            "phone number",
            "mobile number",
            "cell phone",
            "telephone portable",
            "telephone mobile",
            "tel portable",
            "numero de telephone",
            "numero de portable",
            "n de telephone",
            "n telephone",
            "n portable",
        ),
    ),
    "first_name": (
        gettext_lazy("First name"),
        ("first name", "firstname", "prenom", "given name", "forename"),
    ),
    "last_name": (
        gettext_lazy("Last name"),
        ("last name", "lastname", "nom", "nom de famille", "surname", "family name", "name"),
    ),
    "address_line1": (gettext_lazy("Address"), ("address", "adresse", "address line1", "address1", "rue")),
    "address_line2": (gettext_lazy("Address (line 2)"), ("address line2", "address2", "complement")),
    "postcode": (
        gettext_lazy("Postcode"),
        ("postcode", "postal code", "post code", "zip", "zip code", "code postal", "cp"),
    ),
    "city": (gettext_lazy("City"), ("city", "ville", "town", "commune", "localite")),
    "country": (gettext_lazy("Country"), ("country", "pays")),
    "language": (gettext_lazy("Language"), ("language", "langue", "lang")),
    "birth_date": (
        gettext_lazy("Birth date"),
        (
            "birth date",
            "birthdate",
            "date of birth",
            "dob",
            "date de naissance",
            "date naissance",
            "naissance",
            "birthday",
        ),
    ),
    "kind": (gettext_lazy("Kind (customer / prospect)"), ("kind", "type", "statut")),
    "tags": (gettext_lazy("Tags"), ("tags", "tag", "etiquettes")),
    "owner": (
        gettext_lazy("Owner store code"),
        ("owner", "store", "store code", "magasin", "code magasin", "entity", "entite", "shop"),
    ),
    "consent_email": (
        gettext_lazy("Email consent"),
        (
            "consent email",
            "email consent",
            "optin email",
            "email optin",
            "optin mail",
            "consentement email",
            "consentement mail",
            "accepte email",
            "accepte mail",
            "accepte les emails",
            "accepte les mails",
        ),
    ),
    "consent_sms": (
        gettext_lazy("SMS consent"),
        (
            "consent sms",
            "sms consent",
            "optin sms",
            "sms optin",
            "consentement sms",
            "accepte sms",
            "accepte les sms",
        ),
    ),
    "consent_postal": (
        gettext_lazy("Postal mail consent"),
        ("consent postal", "postal consent", "optin courrier", "consentement courrier"),
    ),
    "consent_phone": (
        gettext_lazy("Phone call consent"),
        ("consent phone", "phone consent", "optin telephone", "consentement telephone"),
    ),
}
PROFILE_TARGETS = (
    "first_name",
    "last_name",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "country",
    "language",
)
CONSENT_VALUES = {
    **dict.fromkeys(
        ("opt_in", "optin", "opt-in", "yes", "oui", "1", "true", "vrai", "y", "o", "x"), "opt_in"
    ),
    **dict.fromkeys(("soft_opt_in", "soft", "soft opt-in", "soft opt in"), "soft_opt_in"),
    **dict.fromkeys(("b2b",), "b2b"),
    **dict.fromkeys(("opt_out", "optout", "opt-out", "no", "non", "0", "false", "faux", "n"), "opt_out"),
}
KIND_VALUES = {
    **dict.fromkeys(("customer", "client", "cliente", "c"), "customer"),
    **dict.fromkeys(("prospect", "p", "lead"), "prospect"),
}


def normalise_header(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def compact_header(text: str) -> str:
    """A header as compared for the guess: accents, case, spaces and punctuation ignored ("Opt-in
    e-mail" and "optin email" are one header)."""
    return normalise_header(text).replace(" ", "")


def target_choices(attributes: list[AttributeDefinition]) -> list[tuple[str, str]]:
    return [
        ("", _("— ignore this column —")),
        *((key, str(label)) for key, (label, _syn) in TARGETS.items()),
        *((f"attr:{a.key}", f"{a.label} ({_('attribute')})") for a in attributes),
    ]


def guess_mapping(header: list[str], attributes: list[AttributeDefinition]) -> list[str]:
    """A target per column (or "" to ignore), each target used once."""
    lookup: dict[str, str] = {}
    for key, (_label, synonyms) in TARGETS.items():
        lookup[compact_header(key)] = key
        for synonym in synonyms:
            lookup.setdefault(compact_header(synonym), key)
    for a in attributes:
        lookup.setdefault(compact_header(a.key), f"attr:{a.key}")
        lookup.setdefault(compact_header(a.label), f"attr:{a.key}")
        lookup[compact_header(f"attr:{a.key}")] = f"attr:{a.key}"
    used: set[str] = set()
    mapping = []
    for column in header:
        target = lookup.get(compact_header(column), "")
        if target in used:
            target = ""
        used.add(target)
        mapping.append(target)
    return mapping


# ---------------------------------------------------------------------------------------------------
# Reading (glocal.core.tabular: encodings, delimiters, limits, streaming) and the report

FileError = tabular.TabularError
RowError = tabular.RowError
is_xlsx = tabular.is_xlsx


def limits() -> tabular.Limits:
    return tabular.Limits.from_settings(
        max_rows=getattr(settings, "GLOCAL_CONTACT_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)
    )


@contextmanager
def _open(source: str) -> Iterator[IO[bytes]]:
    """``source`` is a storage name (uploads from the web) or ``file:<path>`` (the command line)."""
    if source.startswith("file:"):
        with open(source[5:], "rb") as handle:
            yield handle
    else:
        with default_storage.open(source, "rb") as handle:
            yield handle


@contextmanager
def open_table(source: str, filename: str) -> Iterator[tabular.Table]:
    with _open(source) as handle, tabular.open_table(handle, filename, limits()) as table:
        yield table


def iter_rows(source: str, filename: str) -> Iterator[list[str]]:
    """Every row of the file as text cells, the header first. Streams (CSV and XLSX)."""
    with open_table(source, filename) as table:
        yield from table.rows()


def preview(source: str, filename: str) -> tabular.Preview:
    """The header, three short sample rows and the detected encoding, for the mapping page."""
    with _open(source) as handle:
        return tabular.preview(handle, filename, limits())


def read_header(source: str, filename: str) -> list[str]:
    return preview(source, filename).header


def estimate_rows(source: str, filename: str) -> int:
    """Data rows, for the progress bar (quoted line breaks may make it approximate for CSV)."""
    with _open(source) as handle:
        return tabular.estimate_rows(handle, filename, limits())


@dataclass
class ImportReport(tabular.ImportReport):
    consents: int = 0
    consent_refused: int = 0  # positive consent not recorded: the person is on the opposition list

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "consents": self.consents,
            "consent_refused": self.consent_refused,
        }


# ---------------------------------------------------------------------------------------------------
# Validation of one row


@dataclass
class Context:
    organisation_id: int
    default_owner: tuple[int, str]  # (id, path)
    entities: dict[str, tuple[int, str]]  # code → (id, path) inside the scope
    org_codes: set[str]  # every entity code of the organisation
    attributes: dict[str, AttributeDefinition]
    scope_path: str
    existence_visible: bool


class CellError(ValueError):
    """One cell's refusal, its message complete (column and reason)."""


def _clean_email(name: str, raw: str, ctx: Context, country: str) -> Any:
    return services.normalise_email(raw)


def _clean_mobile(name: str, raw: str, ctx: Context, country: str) -> Any:
    """Read in the row's country (two letters), France otherwise."""
    return services.normalise_mobile(raw, country if len(country) == 2 else "FR")


def _clean_birth_date(name: str, raw: str, ctx: Context, country: str) -> Any:
    try:
        return services.parse_date(raw)
    except ValueError:
        raise CellError(_("birth date: “%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw}) from None


def _clean_country(name: str, raw: str, ctx: Context, country: str) -> Any:
    if len(raw) != 2 or not raw.isalpha():
        raise CellError(_("country: use a two-letter code (FR, BE…)."))
    return raw.upper()


def _clean_kind(name: str, raw: str, ctx: Context, country: str) -> Any:
    kind = KIND_VALUES.get(raw.lower())
    if kind is None:
        raise CellError(_("kind: “%(value)s” is neither customer nor prospect.") % {"value": raw})
    return kind


def _clean_tags(name: str, raw: str, ctx: Context, country: str) -> Any:
    return services.normalise_tags(raw)


def _clean_owner(name: str, raw: str, ctx: Context, country: str) -> Any:
    """A store code inside the importer's scope → (id, path); one outside it is named as such."""
    if raw in ctx.entities:
        return ctx.entities[raw]
    if raw in ctx.org_codes:
        raise CellError(_("owner: store “%(code)s” is outside your scope.") % {"code": raw})
    raise CellError(_("owner: unknown store “%(code)s”.") % {"code": raw})


def _clean_consent(name: str, raw: str, ctx: Context, country: str) -> Any:
    status = CONSENT_VALUES.get(raw.lower())
    if status is None:
        raise CellError(
            _("%(column)s: “%(value)s” is not a consent (opt_in, soft_opt_in, b2b, opt_out).")
            % {"column": _label(name), "value": raw}
        )
    return status


def _clean_attribute(name: str, raw: str, ctx: Context, country: str) -> Any:
    definition = ctx.attributes[name[5:]]
    try:
        return services.coerce_attribute(definition, raw)
    except ValueError as exc:
        raise CellError(f"{definition.label}: {exc}") from None


def _clean_profile(name: str, raw: str, ctx: Context, country: str) -> Any:
    """Free text, within the model field's length."""
    limit = getattr(Contact._meta.get_field(name), "max_length", None) or 200
    if len(raw) > limit:
        raise CellError(_("%(column)s: at most %(max)d characters.") % {"column": _label(name), "max": limit})
    return raw


CellCleaner = Callable[[str, str, Context, str], Any]
CELL_CLEANERS: dict[str, CellCleaner] = {
    "email": _clean_email,
    "mobile": _clean_mobile,
    "birth_date": _clean_birth_date,
    "country": _clean_country,
    "kind": _clean_kind,
    "tags": _clean_tags,
    "owner": _clean_owner,
}


def _cell_cleaner(name: str) -> CellCleaner | None:
    """The cleaner of a mapped target (``None``: a target this importer does not store)."""
    if name in CELL_CLEANERS:
        return CELL_CLEANERS[name]
    if name.startswith("consent_"):
        return _clean_consent
    if name.startswith("attr:"):
        return _clean_attribute
    if name in PROFILE_TARGETS:
        return _clean_profile
    return None


def clean_row(cells: dict[str, str], ctx: Context) -> tuple[dict[str, Any], list[str]]:
    """Clean one row's mapped cells; returns (values, error messages). Only non-empty cells appear
    in ``values`` (an empty cell leaves the stored value alone); attributes go under ``"attributes"``."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    country = (cells.get("country") or "FR").strip().upper()
    for name, raw in cells.items():
        raw = raw.strip()
        cleaner = _cell_cleaner(name)
        if not raw or cleaner is None:
            continue
        try:
            value = cleaner(name, raw, ctx, country)
        except CellError as exc:
            errors.append(str(exc))
            continue
        except ValidationError as exc:
            errors.append(f"{_label(name)}: {' '.join(exc.messages)}")
            continue
        if name.startswith("attr:"):
            values.setdefault("attributes", {})[name[5:]] = value
        else:
            values[name] = value
    if not errors and not values.get("email") and not values.get("mobile"):
        errors.append(_("Each row needs an email address or a mobile number."))
    return values, errors


def _label(target: str) -> str:
    return str(TARGETS[target][0]) if target in TARGETS else target


def _key(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little", signed=True)


# ---------------------------------------------------------------------------------------------------
# The two passes


@dataclass
class Plan:
    source: str
    filename: str
    mapping: list[str]
    wording: str = ""
    default_owner_code: str = ""


def _context(plan: Plan) -> Context:
    scope = get_scope()
    entities = {code: (pk, path) for code, pk, path in Entity.objects.values_list("code", "pk", "path")}
    default = Entity.objects.get(pk=scope.entity_id)
    if plan.default_owner_code:
        if plan.default_owner_code not in entities:
            raise FileError(_("Unknown entity “%(code)s”.") % {"code": plan.default_owner_code})
        default_owner = entities[plan.default_owner_code]
    else:
        default_owner = (default.pk, default.path)
    return Context(
        organisation_id=scope.organisation_id,
        default_owner=default_owner,
        entities=entities,
        org_codes=set(
            Entity.unscoped.filter(organisation_id=scope.organisation_id).values_list("code", flat=True)
        ),
        attributes={a.key: a for a in AttributeDefinition.objects.all()},
        scope_path=scope.entity_path,
        existence_visible=services.settings_for(scope.organisation_id).existence_visible,
    )


def _cleaned_batches(
    plan: Plan, ctx: Context, report: ImportReport | None
) -> Iterator[list[tuple[int, dict[str, Any], list[str], str]]]:
    """Batches of (row number, values, errors, identifier) in file order."""
    with open_table(plan.source, plan.filename) as table:
        if report is not None:
            report.encoding = table.encoding_label
        rows = table.rows()
        header = next(rows, None)
        if header is None:
            raise FileError(_("The file is empty."))
        mapping = plan.mapping
        batch: list[tuple[int, dict[str, Any], list[str], str]] = []
        for number, cells in enumerate(rows, start=2):
            if not any(cells):
                continue  # blank lines are not rows
            mapped = {
                target: cells[i] if i < len(cells) else "" for i, target in enumerate(mapping) if target
            }
            values, errors = clean_row(mapped, ctx)
            ident = mapped.get("email") or mapped.get("mobile") or ""
            batch.append((number, values, errors, ident[:80]))
            if report is not None:
                report.total_rows += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _existing(
    ctx: Context, values: list[dict[str, Any]], fields: list[str] | None = None
) -> tuple[dict, dict]:
    emails = [v["email"] for v in values if v.get("email")]
    mobiles = [v["mobile"] for v in values if v.get("mobile")]
    if not emails and not mobiles:
        return {}, {}
    # Dedupe is organisation-wide: a match outside the scope is handled (never shown) below.
    # Looked up by hash: plain (organisation, *_hash) indexes, where the partial unique indexes on
    # the clear values cannot serve a long IN list.
    # The organisation is checked below rather than in SQL, so that only the hash indexes can serve.
    qs = Contact.unscoped.filter(
        Q(email_hash__in=[hash_value(e) for e in emails])
        | Q(mobile_hash__in=[hash_value(m) for m in mobiles])
    )
    if fields:
        qs = qs.only("organisation_id", *fields)
    by_email, by_mobile = {}, {}
    for contact in qs:
        if contact.organisation_id != ctx.organisation_id:
            continue
        if contact.email:
            by_email[contact.email] = contact
        if contact.mobile:
            by_mobile[contact.mobile] = contact
    return by_email, by_mobile


def _match(values: dict[str, Any], by_email: dict, by_mobile: dict) -> tuple[Contact | None, str]:
    a = by_email.get(values.get("email", ""))
    b = by_mobile.get(values.get("mobile", ""))
    if a is not None and b is not None and a.pk != b.pk:
        return None, _("the email address and the mobile number belong to two different contacts.")
    return a or b, ""


# Per identifier ("email", "mobile", "contact"): (8-byte keys, row numbers), 16 bytes per row.
Keys = dict[str, tuple["array[int]", "array[int]"]]


def _check_mapping(plan: Plan, ctx: Context) -> None:
    """Every target known, each used once, and an email or a mobile column; FileError otherwise."""
    unknown = [t for t in plan.mapping if t and t not in TARGETS and t[5:] not in ctx.attributes]
    if unknown:
        raise FileError(_("Unknown fields in the mapping: %(f)s") % {"f": ", ".join(unknown)})
    used = [t for t in plan.mapping if t]
    if len(used) != len(set(used)):
        raise FileError(_("Each field may be mapped from one column only."))
    if "email" not in used and "mobile" not in used:
        raise FileError(_("Map a column to the email address or to the mobile number."))


def _match_problem(
    values: dict[str, Any], ctx: Context, by_email: dict, by_mobile: dict
) -> tuple[int | None, str]:
    """A clean row against the stored contacts: (the matched contact's id or None, a refusal or "")."""
    contact, problem = _match(values, by_email, by_mobile)
    if problem:
        return None, problem
    if contact is None:
        return None, ""
    if not contact.owner_path.startswith(ctx.scope_path) and ctx.existence_visible:
        return None, _("This person is already a customer of another store.")
    return contact.pk, ""


def _check_batch(
    batch: list[tuple[int, dict[str, Any], list[str], str]], ctx: Context, keys: Keys, report: ImportReport
) -> None:
    """Match a batch's clean rows against the stored contacts, remember every row's identifiers (for
    the duplicates) and report the bad rows."""
    by_email, by_mobile = _existing(
        ctx, [v for _n, v, e, _i in batch if not e], ["pk", "email", "mobile", "owner_path"]
    )
    for number, values, errors, ident in batch:
        if not errors:
            contact_id, problem = _match_problem(values, ctx, by_email, by_mobile)
            if problem:
                errors.append(problem)
            elif contact_id is not None:
                keys["contact"][0].append(contact_id)
                keys["contact"][1].append(number)
        for name in ("email", "mobile"):
            if values.get(name):
                keys[name][0].append(_key(values[name]))
                keys[name][1].append(number)
        if errors:
            report.add_error(RowError(row=number, code=ident, messages=errors))


def _duplicate_groups(hashes: array[int], numbers: array[int]) -> list[list[int]]:
    """The row numbers sharing one key, each group sorted, for every key seen more than once."""
    import polars as pl

    frame = pl.DataFrame({"h": pl.Series(hashes, dtype=pl.Int64), "row": pl.Series(numbers, dtype=pl.Int64)})
    return (
        frame.group_by("h")
        .agg(pl.col("row").sort())
        .filter(pl.col("row").list.len() > 1)
        .get_column("row")
        .to_list()
    )


def _duplicate_message(name: str, first: int) -> str:
    if name == "contact":
        return _("duplicate in the file: same person as row %(row)d.") % {"row": first}
    label = _("email") if name == "email" else _("mobile")
    return _("duplicate in the file: same %(field)s as row %(row)d.") % {"field": label, "row": first}


def _duplicates(keys: Keys) -> dict[int, list[str]]:
    """Row number → its duplicate messages (each later row of a group names the group's first row)."""
    extra: dict[int, list[str]] = {}
    for name, (hashes, numbers) in keys.items():
        if not hashes:
            continue
        for group in _duplicate_groups(hashes, numbers):
            message = _duplicate_message(name, group[0])
            for number in group[1:]:
                if message not in extra.get(number, []):
                    extra.setdefault(number, []).append(message)
    return extra


def _merge_errors(report: ImportReport, extra: dict[int, list[str]]) -> None:
    """Add the duplicates to the errors already found on those rows, then keep the rows in order."""
    if not extra:
        return
    by_row = {e.row: e for e in report.errors}
    for number, messages in sorted(extra.items()):
        if number in by_row:
            by_row[number].messages.extend(messages)
        else:
            report.add_error(RowError(row=number, code="", messages=messages))
    report.errors.sort(key=lambda e: e.row)


def validate(
    plan: Plan, progress: Callable[[int], None] | None = None, spool: IO[bytes] | None = None
) -> ImportReport:
    """Pass 1: every row checked; the report lists every bad row. Writes nothing to the database.

    ``spool``: a private temporary file receiving the cleaned batches, so that the write pass does not
    parse and validate every row a second time (memory stays flat: one batch at a time)."""
    report = ImportReport()
    try:
        ctx = _context(plan)
        _check_mapping(plan, ctx)
        # 16 bytes per identifier (8-byte key, row number): a million rows stay a few dozen MB.
        keys: Keys = {name: (array("q"), array("q")) for name in ("email", "mobile", "contact")}
        for batch in _cleaned_batches(plan, ctx, report):
            if spool is not None:
                pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
            _check_batch(batch, ctx, keys, report)
            if progress:
                progress(report.total_rows)
        _merge_errors(report, _duplicates(keys))
    except FileError as exc:
        report.file_errors.append(str(exc))
    return report


def import_contacts(
    plan: Plan, *, dry_run: bool = False, report_progress: Report | None = None
) -> ImportReport:
    """Validate the file; when every row is valid (and not ``dry_run``) write it in one transaction."""
    total = estimate_rows(plan.source, plan.filename) if report_progress else 0
    span = total if dry_run else 2 * total

    def progress(done: int) -> None:
        if report_progress:
            report_progress(min(done, span), span)

    with tempfile.TemporaryFile() as spool:
        report = validate(plan, progress, spool=None if dry_run else spool)
        report.dry_run = dry_run
        if not report.ok or dry_run:
            return report
        counted, written = report.total_rows, 0
        spool.seek(0)
        with transaction.atomic():
            ctx = _context(plan)
            for batch in _spooled(spool):
                _write_batch(batch, ctx, plan, report)
                written += len(batch)
                progress(counted + written)
            audit.record(
                action="contact.import",
                summary=f"{plan.filename}: {report.created} created, {report.updated} updated",
                data={
                    **{k: v for k, v in report.as_dict().items() if k not in {"errors", "file_errors"}},
                    "file": plan.filename,
                },
            )
    progress(2 * counted)
    return report


def _spooled(spool: IO[bytes]) -> Iterator[list[tuple[int, dict[str, Any], list[str], str]]]:
    while True:
        try:
            # Our own temporary file, written by validate() a moment ago: trusted data.
            yield pickle.load(spool)  # noqa: S301
        except EOFError:
            return


def _suppressed(ctx: Context, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(channel, value hash) of the batch's emails and mobiles on the organisation's opposition list."""
    hashes = {hash_value(v.get("email", "")) for v in rows} | {hash_value(v.get("mobile", "")) for v in rows}
    hashes.discard("")
    return {
        (channel, value)
        for org, channel, value in Suppression.unscoped.filter(value_hash__in=hashes).values_list(
            "organisation_id", "channel", "value_hash"
        )
        if org == ctx.organisation_id
    }


class _BatchWriter:
    """One batch of the write pass: new contacts, changed ones, and the ledger, transfer and opposition
    rows they bring, gathered row by row and then written in bulk by :meth:`flush`."""

    def __init__(self, ctx: Context, plan: Plan, report: ImportReport, suppressed: set[tuple[str, str]]):
        self.ctx, self.plan, self.report, self.suppressed = ctx, plan, report, suppressed
        self.scope = get_scope()
        self.now = timezone.now()
        self.new: list[Contact] = []
        self.changed: list[Contact] = []
        self.changed_fields: set[str] = set()
        self.events: list[ConsentEvent] = []
        self.transfers: list[OwnershipTransfer] = []
        self.opt_outs: list[Suppression] = []
        self.seen: set[int] = set()

    # -- consents

    def _refused(self, contact: Contact, channel: str, status: str, channel_hashes: list[str]) -> bool:
        """An objection (on the opposition list, or an opt-out on record) is lifted only by the person's
        own act, never by a file: services.has_objection's rule, on this batch's data."""
        objected = contact.consent(channel) == ConsentStatus.OPT_OUT
        return status != ConsentStatus.OPT_OUT and (
            objected or any((channel, h) in self.suppressed for h in channel_hashes)
        )

    def _record_consent(self, contact: Contact, channel: str, status: str, channel_hashes: list[str]) -> None:
        """The contact's new status, its ledger row and, for an opt-out, its opposition-list rows."""
        setattr(contact, consent_field(channel), status)
        self.changed_fields.add(consent_field(channel))
        self.events.append(
            ConsentEvent(
                organisation_id=self.ctx.organisation_id,
                contact=contact,
                entity_id=self.scope.entity_id,
                channel=channel,
                status=status,
                source=ConsentSource.IMPORT,
                wording=self.plan.wording,
                form_version=self.plan.filename[:120],
                actor_id=self.scope.user_id,
                created_at=self.now,
            )
        )
        if status == ConsentStatus.OPT_OUT:
            self.opt_outs.extend(
                Suppression(
                    organisation_id=self.ctx.organisation_id, channel=channel, value_hash=h, reason="opt_out"
                )
                for h in channel_hashes
            )

    def consents(self, contact: Contact, values: dict[str, Any]) -> bool:
        """Apply the row's consents that differ from the contact's; True when one was recorded."""
        touched = False
        for channel in Channel.values:
            status = values.get(consent_field(channel))
            if not status or contact.consent(channel) == status:
                continue
            channel_hashes = services.channel_hashes(channel, contact.email_hash, contact.mobile_hash)
            if self._refused(contact, channel, status, channel_hashes):
                self.report.consent_refused += 1
                continue
            self._record_consent(contact, channel, status, channel_hashes)
            touched = True
        return touched

    # -- rows

    def add(self, values: dict[str, Any], by_email: dict, by_mobile: dict) -> None:
        contact, _problem = _match(values, by_email, by_mobile)
        if contact is None:
            self.create(values)
        elif not contact.owner_path.startswith(self.ctx.scope_path) or contact.pk in self.seen:
            self.report.unchanged += 1  # another store's contact: left alone, nothing revealed
        else:
            self.seen.add(contact.pk)
            self.update(contact, values)

    def create(self, values: dict[str, Any]) -> None:
        owner_id, owner_path = values.get("owner", self.ctx.default_owner)
        contact = Contact(
            organisation_id=self.ctx.organisation_id,
            owner_id=owner_id,
            owner_path=owner_path,
            kind=values.get("kind", Contact.Kind.PROSPECT),
            email=values.get("email", ""),
            email_hash=hash_value(values.get("email", "")),
            mobile=values.get("mobile", ""),
            mobile_hash=hash_value(values.get("mobile", "")),
            birth_date=values.get("birth_date"),
            attributes=values.get("attributes", {}),
            tags=values.get("tags", ""),
            created_at=self.now,
            last_activity_at=self.now,
            **{k: values[k] for k in PROFILE_TARGETS if k in values},
        )
        self.consents(contact, values)  # events point at the object; bulk_create fills the id
        self.new.append(contact)
        self.report.created += 1

    def update(self, contact: Contact, values: dict[str, Any]) -> None:
        touched = _update_fields(contact, values)
        if "owner" in values and values["owner"][0] != contact.owner_id:
            self._transfer(contact, values["owner"])
            touched |= {"owner", "owner_path"}
        self.changed_fields.update(touched)
        if self.consents(contact, values) or touched:
            self.changed.append(contact)
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _transfer(self, contact: Contact, owner: tuple[int, str]) -> None:
        self.transfers.append(
            OwnershipTransfer(
                organisation_id=self.ctx.organisation_id,
                contact=contact,
                from_entity_id=contact.owner_id,
                to_entity_id=owner[0],
                reason=OwnershipTransfer.Reason.IMPORT,
                detail=self.plan.filename[:200],
                actor_id=self.scope.user_id,
                created_at=self.now,
            )
        )
        contact.owner_id, contact.owner_path = owner

    # -- the writes

    def flush(self) -> None:
        """Write everything gathered: contacts, then the ledger, the transfers and the opposition list."""
        if self.new:
            Contact.unscoped.bulk_create(self.new, batch_size=BATCH)
            self.transfers.extend(
                OwnershipTransfer(
                    organisation_id=self.ctx.organisation_id,
                    contact=contact,
                    to_entity_id=contact.owner_id,
                    reason=OwnershipTransfer.Reason.CREATED,
                    detail=self.plan.filename[:200],
                    actor_id=self.scope.user_id,
                    created_at=self.now,
                )
                for contact in self.new
            )
        if self.changed:
            Contact.unscoped.bulk_update(
                self.changed, sorted(self.changed_fields | {"updated_at"}), batch_size=BATCH
            )
        ConsentEvent.unscoped.bulk_create(self.events, batch_size=BATCH)
        OwnershipTransfer.unscoped.bulk_create(self.transfers, batch_size=BATCH)
        Suppression.unscoped.bulk_create(self.opt_outs, ignore_conflicts=True)
        self.report.consents += len(self.events)


def _update_fields(contact: Contact, values: dict[str, Any]) -> set[str]:
    """Copy the row's non-empty values onto a stored contact (tags and attributes merged); returns the
    names of the fields that changed."""
    touched: set[str] = set()
    for name in (*PROFILE_TARGETS, "kind", "birth_date", "email", "mobile"):
        if name in values and getattr(contact, name) != values[name]:
            setattr(contact, name, values[name])
            touched.add(name)
    if "email" in touched:
        contact.email_hash = hash_value(contact.email)
        touched.add("email_hash")
    if "mobile" in touched:
        contact.mobile_hash = hash_value(contact.mobile)
        touched.add("mobile_hash")
    if values.get("attributes"):
        merged = {**contact.attributes, **values["attributes"]}
        if merged != contact.attributes:
            contact.attributes = merged
            touched.add("attributes")
    if values.get("tags"):
        merged_tags = services.normalise_tags(contact.tag_list + values["tags"].strip("|").split("|"))
        if merged_tags != contact.tags:
            contact.tags = merged_tags
            touched.add("tags")
    return touched


def _write_batch(
    batch: list[tuple[int, dict[str, Any], list[str], str]], ctx: Context, plan: Plan, report: ImportReport
) -> None:
    """Upsert one validated batch (inside the caller's transaction)."""
    rows = [values for _n, values, errors, _i in batch]
    if any(errors for _n, _v, errors, _i in batch):  # pragma: no cover - validate() passed
        raise RuntimeError("file changed between validation and import")
    by_email, by_mobile = _existing(ctx, rows)
    writer = _BatchWriter(ctx, plan, report, _suppressed(ctx, rows))
    for values in rows:
        writer.add(values, by_email, by_mobile)
    writer.flush()


@job_handler(JOB_KIND)
def run_import_job(job: Job, report: Report) -> dict[str, Any]:
    from django.utils import translation

    params = job.params
    with translation.override(params.get("language") or None):  # the report in the user's language
        return _run_import(params, report)


def _run_import(params: dict[str, Any], report: Report) -> dict[str, Any]:
    plan = Plan(
        source=params["upload"],
        filename=params.get("filename", ""),
        mapping=list(params["mapping"]),
        wording=params.get("wording", ""),
    )
    return import_contacts(plan, dry_run=params.get("dry_run", False), report_progress=report).as_dict()


def csv_bytes(rows: list[list[Any]]) -> bytes:
    """A CSV file from rows (tests and the demo)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


# ---------------------------------------------------------------------------------------------------
# The rows to fix: a checked file's bad rows as the user wrote them, each with what is wrong

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
NUMBER_LIKE = re.compile(r"[+-]?[\d .()/-]*\Z")  # "+33 6 12 34 56 78", "-12.5": not formulas
FLUSH_ROWS = 500


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run: a leading = + - @ (a number or a phone number aside), tab, CR
    or NUL gets a quote before it."""
    if value.startswith(FORMULA_START) and not NUMBER_LIKE.match(value):
        return "'" + value
    return value


def fix_format(source: str, filename: str, language: str) -> tuple[str, str]:
    """(codec, separator) of the rows-to-fix file: the upload's own for a CSV (a BOM kept, Windows-1252
    kept); for a workbook, UTF-8 with a BOM and the separator a spreadsheet of the reader's language
    opens directly (";" in French, "," otherwise)."""
    with open_table(source, filename) as table:
        if table.xlsx:
            return "utf-8-sig", ";" if language.startswith("fr") else ","
        return table.encoding, table.delimiter


def rows_to_fix(
    source: str, filename: str, errors: list[dict[str, Any]], *, codec: str, delimiter: str
) -> Iterator[bytes]:
    """The header and only the rows listed in ``errors`` (a check's report: row numbers as in the
    spreadsheet, messages), their cells as read, plus an "error" column in the active language. Streams:
    the file is read once, up to its last bad row."""
    problems = {int(e["row"]): e.get("messages") or [] for e in errors}
    encoder = codecs.getincrementalencoder(codec)(errors="replace")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter or ",")

    def flush(final: bool = False) -> bytes:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return encoder.encode(text, final=final)

    last, written = max(problems, default=1), 0
    with open_table(source, filename) as table:
        rows = table.rows()
        try:
            header = next(rows, [])
            writer.writerow([*map(_safe_cell, header), pgettext("rows-to-fix file column", "error")])
            for number, cells in enumerate(rows, start=2):
                if number > last:
                    break
                if number in problems:
                    padded = cells + [""] * (len(header) - len(cells))
                    message = _("Row %(row)s: %(problems)s") % {
                        "row": number,
                        "problems": "; ".join(problems[number]),
                    }
                    writer.writerow([*map(_safe_cell, padded), _safe_cell(message)])
                    written += 1
                    if written % FLUSH_ROWS == 0:
                        yield flush()
        finally:
            rows.close()  # type: ignore[attr-defined]
    yield flush(final=True)
