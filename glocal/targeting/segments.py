"""Segments: criteria stored as data, validated against HQ's guardrails, compiled SAFELY to Q objects.

A criterion is ``{"field": ..., "op": ..., "value": ...}`` (purchase criteria may add ``"days"``, the
period). ``FIELDS`` is the allow-list: each field names its operators, how a value is read, and the
function that builds the condition. Nothing from the user becomes a field path, a lookup name or SQL:
a user picks keys of ``FIELDS`` and ``OPERATORS``; values are coerced to the field's type and passed as
query parameters. Custom attributes are addressed as ``attr:<key>`` and only for keys HQ defined.

Guardrails (``SegmentPolicy``): regional and local users may use only the fields and operators HQ
allows, and at most ``max_criteria`` criteria; every segment of theirs must hold HQ's required criteria
(``required_criteria``, e.g. "age at least 18"), or a stricter one (an age range inside the required one).
The service (``validate_criteria``) enforces them, the form shows the same messages.

Age is compared on the birth date (``age`` at least / at most / between, or ``age_band``): a contact
without a birth date matches no age criterion; :func:`segment_left_out` says how many were left out so.
The catchment criterion compares a contact's postcode with its owner store's catchment postcodes (the
store profile's list; contacts have no coordinates, so no distance): no postcode, or a store without a
catchment area, leaves the contact out either way, and that is said too.

Counts: :func:`segment_counts_by_store` gives every store's count in ONE GROUP BY over the scope's
contacts (a store sees only the contacts it owns).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Trim, Upper
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from glocal.audience import selectors as audience_selectors
from glocal.audience.models import (
    POSITIVE,
    AttributeDefinition,
    Channel,
    ConsentStatus,
    Contact,
    Purchase,
    consent_field,
)
from glocal.core import audit
from glocal.core.roles import Action, is_hq, role_allows
from glocal.core.scope import Scope, get_scope
from glocal.network.models import Entity

from .models import Segment, SegmentPolicy

MAX_CRITERIA_HARD = 12  # even for HQ: keeps every count one reasonable query
DEFAULT_DAYS = 365

OPERATORS: dict[str, Any] = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "has": gettext_lazy("has"),
    "has_not": gettext_lazy("has not"),
    "startswith": gettext_lazy("starts with"),
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "within_days": gettext_lazy("within the last N days"),
    "not_within_days": gettext_lazy("not within the last N days"),
    "between": gettext_lazy("between"),
}
MAX_AGE = 150
MAX_REQUIRED = 3  # HQ's required criteria

AGE_BANDS = {
    "under_25": (0, 24),
    "25_34": (25, 34),
    "35_44": (35, 44),
    "45_54": (45, 54),
    "55_64": (55, 64),
    "65_plus": (65, 150),
}
AGE_BAND_LABELS = {
    "under_25": gettext_lazy("under 25"),
    "25_34": "25–34",
    "35_44": "35–44",
    "45_54": "45–54",
    "55_64": "55–64",
    "65_plus": gettext_lazy("65 and over"),
}
CONSENT_VALUES = {
    "granted": gettext_lazy("consent given (any form)"),
    **{s.value: s.label for s in ConsentStatus},
    "none": gettext_lazy("no answer"),
}


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: Any
    ops: tuple[str, ...]
    kind: str  # value type: choice, text, list, int, decimal, date
    # (op, coerced value, criterion) → Q; a ``scoped`` field's builder also takes the scope.
    build: Callable[..., Q]
    choices: tuple[tuple[str, Any], ...] = ()
    period: bool = False  # takes a "days" period
    # What a contact may lack for the criterion to judge it (a key of ``UNKNOWN``): such contacts
    # match neither way, and the live count says how many were left out for that reason.
    unknown: tuple[str, ...] = ()
    scoped: bool = False

    def q(self, op: str, value: Any, criterion: dict[str, Any], scope: Scope) -> Q:
        if self.scoped:
            return self.build(op, value, criterion, scope)
        return self.build(op, value, criterion)


# ---------------------------------------------------------------------------------------------------
# Builders: (op, coerced value, criterion) → Q. Every column name below is a constant.


def _compare(expression: Any, op: str, value: Any) -> Q:
    lookups = {"eq": Exact, "gte": GreaterThanOrEqual, "lte": LessThanOrEqual}
    return Q(lookups[op](expression, value))


def _kind(op: str, value: Any, _c: dict[str, Any]) -> Q:
    q = Q(kind=value)
    return q if op == "eq" else ~q


def _consent(channel: str) -> Callable[[str, Any, dict[str, Any]], Q]:
    column = consent_field(channel)

    def build(op: str, value: Any, _c: dict[str, Any]) -> Q:
        if value == "granted":
            q = Q(**{f"{column}__in": [s.value for s in POSITIVE]})
        elif value == "none":
            q = Q(**{column: ""})
        else:
            q = Q(**{column: value})
        return q if op == "eq" else ~q

    return build


def _tags(op: str, value: Any, _c: dict[str, Any]) -> Q:
    q = Q(tags__contains=f"|{value}|")
    return q if op == "has" else ~q


def _text(column: str) -> Callable[[str, Any, dict[str, Any]], Q]:
    def build(op: str, value: Any, _c: dict[str, Any]) -> Q:
        if op == "in":
            return Q(**{f"{column}__in": value})
        if op == "startswith":
            return Q(**{f"{column}__istartswith": value})
        q = Q(**{f"{column}__iexact": value})
        return q if op == "eq" else ~q

    return build


def _purchases_since(since: datetime.date, strict: bool = False) -> Exists:
    """A purchase of the contact on or after ``since`` (after, when ``strict``). The contact is in
    scope; its purchases count wherever they were made (unscoped by design, correlated on the contact
    only). "last purchase ≥ d" is exactly "some purchase ≥ d": an EXISTS on (contact, date)."""
    lookup = "date__gt" if strict else "date__gte"
    return Exists(Purchase.unscoped.filter(contact_id=OuterRef("pk"), **{lookup: since}))


def _last_purchase(op: str, value: Any, _c: dict[str, Any]) -> Q:
    if op == "after":
        return Q(_purchases_since(value, strict=True))
    if op == "before":  # bought, and nothing since that date
        return Q(Exists(Purchase.unscoped.filter(contact_id=OuterRef("pk")))) & ~Q(_purchases_since(value))
    since = timezone.localdate() - datetime.timedelta(days=int(value))
    if op == "within_days":
        return Q(_purchases_since(since))
    return ~Q(_purchases_since(since))  # not within N days: long ago, or never


def _period_purchases(criterion: dict[str, Any]) -> Any:
    since = timezone.localdate() - datetime.timedelta(days=int(criterion.get("days") or DEFAULT_DAYS))
    return (
        Purchase.unscoped.filter(contact_id=OuterRef("pk"), date__gte=since).order_by().values("contact_id")
    )


def _purchase_count(op: str, value: Any, criterion: dict[str, Any]) -> Q:
    count = Coalesce(Subquery(_period_purchases(criterion).annotate(n=Count("pk")).values("n")[:1]), Value(0))
    return _compare(count, op, int(value))


def _purchase_amount(op: str, value: Any, criterion: dict[str, Any]) -> Q:
    output = DecimalField(max_digits=14, decimal_places=2)
    total = Coalesce(
        Subquery(_period_purchases(criterion).annotate(s=Sum("amount")).values("s")[:1], output_field=output),
        Value(Decimal("0"), output_field=output),
        output_field=output,
    )
    return _compare(total, op, value)


def _years_ago(today: datetime.date, n: int) -> datetime.date:
    """The date ``n`` years before ``today`` (28 February for 29 February): whoever was born on or
    before it is ``n`` or older today (born on 29 February: of age on 1 March in a common year)."""
    try:
        return today.replace(year=today.year - n)
    except ValueError:  # 29 February
        return today.replace(year=today.year - n, day=28)


def _age_between(low: int | None, high: int | None, today: datetime.date) -> Q:
    """Aged ``low`` or more and ``high`` or less (inclusive; None: no bound): born on or before
    (today - low years) and after (today - high - 1 years). No birth date: never."""
    q = Q(birth_date__isnull=False)
    if low is not None:
        q &= Q(birth_date__lte=_years_ago(today, low))
    if high is not None:
        q &= Q(birth_date__gt=_years_ago(today, high + 1))
    return q


def _birth_range(band: str, today: datetime.date) -> Q:
    low, high = AGE_BANDS[band]
    return _age_between(low, high, today)


def _age_bounds(op: str, value: Any) -> tuple[int | None, int | None]:
    """The ages an ``age`` criterion keeps, as (lowest, highest); None: no bound."""
    if op == "between":
        return int(value[0]), int(value[1])
    return (int(value), None) if op == "gte" else (None, int(value))


def _age(op: str, value: Any, _c: dict[str, Any]) -> Q:
    low, high = _age_bounds(op, value)
    return _age_between(low, high, timezone.localdate())


def _age_band(op: str, value: Any, _c: dict[str, Any]) -> Q:
    today = timezone.localdate()
    bands = value if isinstance(value, list) else [value]
    q = Q()
    for band in bands:
        q |= _birth_range(band, today)
    return q if op in ("eq", "in") else (~q & Q(birth_date__isnull=False))


def _postcode() -> Any:
    """A contact's postcode as catchment lists hold it (trimmed, upper case)."""
    return Upper(Trim("postcode"))


def _has_postcode() -> Q:
    return ~Q(Exact(Trim("postcode"), ""))


def _catchments(scope: Scope) -> dict[tuple[str, ...], list[int]]:
    """The scope's entities with a catchment area, grouped by their list of postcodes (trimmed, upper
    case): ``{("59000", "59800"): [store ids]}``. Read in ``scope``'s subtree (the contacts it sees are
    owned there)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    rows = Entity.unscoped.filter(Entity.scope_q(scope)).values_list("pk", "catchment_postcodes")
    for pk, codes in rows:
        clean = tuple(sorted({str(c).strip().upper() for c in codes or [] if str(c).strip()}))
        if clean:
            groups.setdefault(clean, []).append(pk)
    return groups


def _with_catchment(scope: Scope) -> list[int]:
    return [pk for pks in _catchments(scope).values() for pk in pks]


def _catchment(op: str, value: Any, _c: dict[str, Any], scope: Scope) -> Q:
    """In (``value`` True) or out of (False) its owner's catchment area: the contact's postcode among
    its owner entity's catchment postcodes. No postcode, or an owner without a catchment area: neither."""
    q = Q(pk__in=[])
    for codes, owners in _catchments(scope).items():
        inside = Q(In(_postcode(), list(codes)))
        q |= Q(owner_id__in=owners) & (inside if value else (_has_postcode() & ~inside))
    return q


def _attribute(definition: AttributeDefinition) -> Callable[[str, Any, dict[str, Any]], Q]:
    key = definition.key
    types = AttributeDefinition.FieldType

    def build(op: str, value: Any, _c: dict[str, Any]) -> Q:
        path = f"attributes__{key}"
        present = Q(attributes__has_key=key)
        if definition.field_type == types.BOOLEAN:
            q = Q(**{path: value})
            return q if op == "eq" else ~q
        if definition.field_type == types.NUMBER:
            number = Cast(KT(path), FloatField())
            return present & _compare(number, op, float(value))
        text = KT(path)
        if definition.field_type == types.DATE:
            lookup = LessThan if op == "before" else GreaterThan
            return present & Q(lookup(text, value.isoformat()))
        if op == "in":
            return present & Q(**{f"attributes__{key}__in": value})
        q = Q(Exact(text, value))
        return (present & q) if op == "eq" else ~(present & q)

    return build


def _consent_text(channel: Any) -> str:
    return _("Consent: %(channel)s") % {"channel": channel}


# Lazy: the field list is built once, its labels are read in each reader's language.
_consent_label = lazy(_consent_text, str)


def _static_fields() -> dict[str, FieldSpec]:
    fields = [
        FieldSpec("kind", gettext_lazy("Kind"), ("eq", "ne"), "choice", _kind, tuple(Contact.Kind.choices)),
        *[
            FieldSpec(
                f"consent_{c.value}",
                _consent_label(c.label),
                ("eq", "ne"),
                "choice",
                _consent(c.value),
                tuple(CONSENT_VALUES.items()),
            )
            for c in Channel
        ],
        FieldSpec("tag", gettext_lazy("Tag"), ("has", "has_not"), "tag", _tags),
        FieldSpec("city", gettext_lazy("City"), ("eq", "ne", "in", "startswith"), "text", _text("city")),
        FieldSpec(
            "postcode",
            gettext_lazy("Postcode"),
            ("eq", "ne", "in", "startswith"),
            "text",
            _text("postcode"),
        ),
        FieldSpec(
            "last_purchase",
            gettext_lazy("Last purchase"),
            ("before", "after", "within_days", "not_within_days"),
            "date_or_days",
            _last_purchase,
        ),
        FieldSpec(
            "purchase_count",
            gettext_lazy("Number of purchases"),
            ("gte", "lte", "eq"),
            "int",
            _purchase_count,
            period=True,
        ),
        FieldSpec(
            "purchase_amount",
            gettext_lazy("Amount spent"),
            ("gte", "lte"),
            "decimal",
            _purchase_amount,
            period=True,
        ),
        FieldSpec(
            "catchment",
            gettext_lazy("In its store's catchment area"),
            ("eq",),
            "bool",
            _catchment,
            unknown=("postcode", "catchment"),
            scoped=True,
        ),
        FieldSpec(
            "age", gettext_lazy("Age"), ("gte", "lte", "between"), "age", _age, unknown=("birth_date",)
        ),
        FieldSpec(
            "age_band",
            gettext_lazy("Age band"),
            ("eq", "ne", "in"),
            "choice",
            _age_band,
            tuple(AGE_BAND_LABELS.items()),
            unknown=("birth_date",),
        ),
    ]
    return {f.key: f for f in fields}


STATIC_FIELDS = _static_fields()
# What a contact may lack (``FieldSpec.unknown``): the contacts lacking it, as a Q.
UNKNOWN: dict[str, Callable[[Scope], Q]] = {
    "birth_date": lambda _scope: Q(birth_date__isnull=True),
    "postcode": lambda _scope: ~_has_postcode(),
    # a postcode, but an owner without a catchment area (those without a postcode are counted above)
    "catchment": lambda scope: _has_postcode() & ~Q(owner_id__in=_with_catchment(scope)),
}
ATTRIBUTE_OPS = {
    AttributeDefinition.FieldType.TEXT: ("eq", "ne"),
    AttributeDefinition.FieldType.CHOICE: ("eq", "ne", "in"),
    AttributeDefinition.FieldType.NUMBER: ("gte", "lte", "eq"),
    AttributeDefinition.FieldType.DATE: ("before", "after"),
    AttributeDefinition.FieldType.BOOLEAN: ("eq", "ne"),
}


def available_fields(organisation_id: int) -> dict[str, FieldSpec]:
    """Every field the organisation's segments can use: the built-in ones and HQ's attributes."""
    fields = dict(STATIC_FIELDS)
    for definition in AttributeDefinition.unscoped.filter(organisation_id=organisation_id).order_by("label"):
        kind = {
            AttributeDefinition.FieldType.NUMBER: "decimal",
            AttributeDefinition.FieldType.DATE: "date",
            AttributeDefinition.FieldType.BOOLEAN: "bool",
            AttributeDefinition.FieldType.CHOICE: "choice",
        }.get(definition.field_type, "text")
        fields[f"attr:{definition.key}"] = FieldSpec(
            f"attr:{definition.key}",
            definition.label,
            ATTRIBUTE_OPS[definition.field_type],
            kind,
            _attribute(definition),
            tuple((c, c) for c in definition.choices) if definition.field_type == "choice" else (),
        )
    return fields


# ---------------------------------------------------------------------------------------------------
# Guardrails


DEFAULT_ALLOWED_FIELDS = [
    "kind",
    "consent_email",
    "consent_sms",
    "tag",
    "city",
    "postcode",
    "catchment",
    "last_purchase",
]


def policy_for(organisation_id: int) -> SegmentPolicy:
    """The organisation's segment guardrails; the defaults (unsaved) until HQ first saves them: reading
    never writes (``policy_update`` creates the row)."""
    found = SegmentPolicy.unscoped.filter(organisation_id=organisation_id).first()
    return found or SegmentPolicy(
        organisation_id=organisation_id,
        allowed_fields=list(DEFAULT_ALLOWED_FIELDS),
        allowed_operators=list(OPERATORS),
    )


def _clean_required(required: Any, scope: Scope) -> list[dict[str, Any]]:
    """HQ's required criteria, checked as HQ's own (the allow-list, not the guardrails), normalised."""
    if not isinstance(required, list):
        raise ValidationError(_("Criteria must be a list of {field, op, value}."))
    if len(required) > MAX_REQUIRED:
        raise ValidationError(
            _("At most %(n)s criteria can be required on every segment.") % {"n": MAX_REQUIRED}
        )
    return _check(required, scope, guarded=False)[0]


def policy_update(
    *,
    allowed_fields: list[str],
    allowed_operators: list[str],
    max_criteria: int,
    required_criteria: list[dict[str, Any]] | None = None,
) -> SegmentPolicy:
    """HQ's guardrails; ``required_criteria`` None keeps the current ones."""
    scope = get_scope()
    if not role_allows(scope.role, Action.MARKETING_RULES):
        raise ValidationError(_("Only head office sets the segment guardrails."))
    known = available_fields(scope.organisation_id)
    bad = [f for f in allowed_fields if f not in known] + [o for o in allowed_operators if o not in OPERATORS]
    if bad:
        raise ValidationError(_("Unknown fields or operators: %(names)s") % {"names": ", ".join(bad)})
    if not 1 <= max_criteria <= MAX_CRITERIA_HARD:
        raise ValidationError(
            _("The maximum number of criteria must be between 1 and %(n)s.") % {"n": MAX_CRITERIA_HARD}
        )
    policy = policy_for(scope.organisation_id)
    required = (
        list(policy.required_criteria)
        if required_criteria is None
        else _clean_required(required_criteria, scope)
    )
    with transaction.atomic():
        policy.allowed_fields = list(allowed_fields)
        policy.allowed_operators = list(allowed_operators)
        policy.max_criteria = max_criteria
        policy.required_criteria = required
        policy.save()
        audit.record(
            action="segment.policy",
            summary=f"{len(allowed_fields)} fields, {len(allowed_operators)} operators, max {max_criteria}, "
            f"{len(required)} required",
            data={
                "fields": len(allowed_fields),
                "operators": len(allowed_operators),
                "max": max_criteria,
                "required": required,
            },
        )
    return policy


def criterion_limit(policy: SegmentPolicy) -> int:
    """How many criteria a guarded user's segment may hold: HQ's maximum, plus its required ones."""
    return min(policy.max_criteria + len(policy.required_criteria or []), MAX_CRITERIA_HARD)


@dataclass(frozen=True)
class Allowances:
    """What a guarded user may use: HQ's allowed fields and operators, and each required criterion's
    own field with its own operator (a store must be able to write what HQ requires)."""

    fields: frozenset[str]
    operators: frozenset[str]
    required: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, policy: SegmentPolicy) -> Allowances:
        required = frozenset((str(r.get("field")), str(r.get("op"))) for r in policy.required_criteria or [])
        return cls(frozenset(policy.allowed_fields), frozenset(policy.allowed_operators), required)

    def field(self, name: str) -> bool:
        return name in self.fields or any(name == f for f, _op in self.required)

    def operator(self, name: str, op: str) -> bool:
        return op in self.operators or (name, op) in self.required


def is_guarded(scope: Scope) -> bool:
    """Regional and local users work within HQ's guardrails; HQ sets them."""
    return not is_hq(scope.role)


def fields_for(scope: Scope) -> dict[str, FieldSpec]:
    """The fields ``scope`` may use (all for HQ; HQ's allowed ones for the others)."""
    fields = available_fields(scope.organisation_id)
    if not is_guarded(scope):
        return fields
    allowed = Allowances.of(policy_for(scope.organisation_id))
    return {k: v for k, v in fields.items() if allowed.field(k)}


def operators_for(scope: Scope, spec: FieldSpec) -> tuple[str, ...]:
    if not is_guarded(scope):
        return spec.ops
    allowed = Allowances.of(policy_for(scope.organisation_id))
    return tuple(op for op in spec.ops if allowed.operator(spec.key, op))


# ---------------------------------------------------------------------------------------------------
# Validation and compilation


def _coerce_list(spec: FieldSpec, op: str, raw: Any) -> Any:
    """A list (or comma-separated text) of 1 to 50 values, each among the field's choices if it has
    any; the list for ``in``, else its first value."""
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    values = [str(v).strip() for v in items if str(v).strip()]
    if not values:
        raise ValueError(_("Give at least one value."))
    if len(values) > 50:
        raise ValueError(_("At most 50 values."))
    if spec.choices:
        keys = {str(k) for k, _label in spec.choices}
        wrong = [v for v in values if v not in keys]
        if wrong:
            raise ValueError(_("Unknown value: %(value)s") % {"value": ", ".join(wrong)})
    return values if op == "in" else values[0]


def _coerce_bool(text: str) -> bool:
    if text.lower() in {"true", "1", "yes", "oui"}:
        return True
    if text.lower() in {"false", "0", "no", "non"}:
        return False
    raise ValueError(_("Choose yes or no."))


def _coerce_choice(spec: FieldSpec, text: str) -> str:
    keys = {str(k) for k, _label in spec.choices}
    if text not in keys:
        raise ValueError(_("Unknown value: %(value)s") % {"value": text})
    return text


def _coerce_whole_number(text: str) -> int:
    """0 to 100,000."""
    try:
        number = int(text)
    except ValueError:
        raise ValueError(_("“%(value)s” is not a whole number.") % {"value": text}) from None
    if number < 0 or number > 100_000:
        raise ValueError(_("The number is out of range."))
    return number


def _coerce_decimal(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": text}) from None


def _coerce_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": text}) from None


AGE_RE = re.compile(r"\s*(\d{1,3})\s*")
AGE_RANGE_RE = re.compile(r"\s*(\d{1,3})\s*(?:-|–|—|,|;|/|à|a|to|and|et)\s*(\d{1,3})\s*", re.IGNORECASE)


def _coerce_age(op: str, raw: Any) -> Any:
    """An age (0 to 150) or, for ``between``, two: ``[18, 34]``, or text such as "18-34", "18, 34"."""
    text = ", ".join(str(v) for v in raw) if isinstance(raw, list) else str(raw if raw is not None else "")
    match = (AGE_RANGE_RE if op == "between" else AGE_RE).fullmatch(text)
    if match is None:
        if op == "between":
            raise ValueError(_("Give two ages, e.g. 18-34."))
        raise ValueError(_("Give an age in years, e.g. 18."))
    ages = [int(n) for n in match.groups()]
    if any(age > MAX_AGE for age in ages):
        raise ValueError(_("An age is at most %(n)s.") % {"n": MAX_AGE})
    if op != "between":
        return ages[0]
    if ages[0] > ages[1]:
        raise ValueError(_("The first age must not be above the second."))
    return ages


def _coerce(spec: FieldSpec, op: str, raw: Any) -> Any:
    """The criterion's value in its type; ValueError with a clear message otherwise."""
    if spec.kind == "age":
        return _coerce_age(op, raw)
    if op == "in" or (isinstance(raw, list) and spec.kind in ("choice", "text")):
        return _coerce_list(spec, op, raw)
    text = str(raw if raw is not None else "").strip()
    if spec.kind == "bool":
        return _coerce_bool(text)
    if not text:
        raise ValueError(_("Give a value."))
    if len(text) > 200:
        raise ValueError(_("The value is too long."))
    if spec.kind == "choice":
        return _coerce_choice(spec, text)
    if spec.kind == "tag":
        return text.lower()[:40]
    if spec.kind == "int" or (spec.kind == "date_or_days" and op.endswith("within_days")):
        return _coerce_whole_number(text)
    if spec.kind == "decimal":
        return _coerce_decimal(text)
    if spec.kind in ("date", "date_or_days"):
        return _coerce_date(text)
    return text


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass
class Compiled:
    criteria: list[dict[str, Any]]  # normalised, JSON-ready
    q: Q


def validate_criteria(criteria: Any, scope: Scope | None = None) -> list[dict[str, Any]]:
    """Check ``criteria`` against the allow-list and (for non-HQ users) HQ's guardrails; return them
    normalised. Raises ValidationError listing every problem, by criterion number."""
    return _check(criteria, scope or get_scope())[0]


def _refusal(name: str, op: str, spec: FieldSpec, allowed: Allowances | None) -> str | None:
    """Why a known field's criterion is refused (HQ's allow-lists for a guarded scope, ``allowed``; an
    operator the field has not), or None."""
    if allowed is not None and not allowed.field(name):
        return _("head office does not allow targeting on “%(field)s”.") % {"field": spec.label}
    if op not in spec.ops:
        return _("the operator “%(op)s” does not apply to “%(field)s”.") % {
            "op": OPERATORS.get(op, op[:20]),
            "field": spec.label,
        }
    if allowed is not None and not allowed.operator(name, op):
        return _("head office does not allow the operator “%(op)s”.") % {"op": OPERATORS[op]}
    return None


def _criterion_values(spec: FieldSpec, op: str, criterion: dict) -> tuple[Any, int | None]:
    """The criterion's value and, for a field over a period, its number of days (at least one)."""
    value = _coerce(spec, op, criterion.get("value"))
    days = None
    if spec.period:
        days = _coerce(STATIC_FIELDS["purchase_count"], "gte", criterion.get("days") or DEFAULT_DAYS)
        if days == 0:
            raise ValueError(_("The period must be at least one day."))
    return value, days


def _check(
    criteria: Any, scope: Scope, *, guarded: bool | None = None
) -> tuple[list[dict[str, Any]], list[tuple[FieldSpec, str, Any, dict]]]:
    """Normalise and check ``criteria``; ``guarded`` (default: the scope's) applies HQ's guardrails."""
    if not isinstance(criteria, list) or not all(isinstance(c, dict) for c in criteria):
        raise ValidationError(_("Criteria must be a list of {field, op, value}."))
    guarded = is_guarded(scope) if guarded is None else guarded
    policy = policy_for(scope.organisation_id)
    limit = criterion_limit(policy) if guarded else MAX_CRITERIA_HARD
    errors: list[str] = []
    if len(criteria) > limit:
        errors.append(
            _("At most %(n)s criteria are allowed; this segment has %(count)s.")
            % {"n": limit, "count": len(criteria)}
        )
    every = available_fields(scope.organisation_id)
    allowed = Allowances.of(policy) if guarded else None
    normalised: list[dict[str, Any]] = []
    parts: list[tuple[FieldSpec, str, Any, dict]] = []
    for number, criterion in enumerate(criteria, start=1):
        name, op = str(criterion.get("field", "")), str(criterion.get("op", ""))
        spec = every.get(name)
        prefix = _("Criterion %(n)s") % {"n": number}
        if spec is None:
            errors.append(f"{prefix}: " + _("unknown field “%(field)s”.") % {"field": name[:60]})
            continue
        refusal = _refusal(name, op, spec, allowed)
        if refusal is not None:
            errors.append(f"{prefix}: {refusal}")
            continue
        try:
            value, days = _criterion_values(spec, op, criterion)
        except ValueError as exc:
            errors.append(f"{prefix} ({spec.label}): {exc}")
            continue
        clean = {"field": name, "op": op, "value": _json_value(value)}
        if days is not None:
            clean["days"] = days
        normalised.append(clean)
        parts.append((spec, op, value, clean))
    if guarded and not errors:
        errors = [
            _("Head office requires “%(criterion)s” on every segment.")
            % {"criterion": describe_criterion(required, every)}
            for required in missing_requirements(normalised, policy.required_criteria or [])
        ]
    if errors:
        raise ValidationError(errors)
    return normalised, parts


# ---------------------------------------------------------------------------------------------------
# HQ's required criteria: met by the same criterion, or (age) by a range inside the required one


def _age_range(criteria: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The ages the segment's age criteria keep at most (their intersection, bands as their bounds), or
    None when they bound nothing. Unbounded: 0 and MAX_AGE."""
    low, high, bounded = 0, MAX_AGE, False
    for c in criteria:
        if c["field"] == "age":
            lo, hi = _age_bounds(c["op"], c["value"])
        elif c["field"] == "age_band" and c["op"] in ("eq", "in"):
            bands = [AGE_BANDS[b] for b in (c["value"] if isinstance(c["value"], list) else [c["value"]])]
            lo, hi = min(b[0] for b in bands), max(b[1] for b in bands)
        else:
            continue
        bounded = True
        low, high = max(low, lo if lo is not None else 0), min(high, hi if hi is not None else MAX_AGE)
    return (low, high) if bounded else None


def _meets(criteria: list[dict[str, Any]], required: dict[str, Any]) -> bool:
    if any(c == required for c in criteria):
        return True
    if required.get("field") != "age":
        return False
    ages = _age_range(criteria)
    if ages is None:
        return False
    low, high = _age_bounds(required["op"], required["value"])
    return (low is None or ages[0] >= low) and (high is None or ages[1] <= high)


def missing_requirements(
    criteria: list[dict[str, Any]], required: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """HQ's required criteria that normalised ``criteria`` do not meet (none: the segment may be used)."""
    return [r for r in required if not _meets(criteria, r)]


def describe_criterion(criterion: dict[str, Any], fields: dict[str, FieldSpec] | None = None) -> str:
    """A criterion in words, in the reader's language: "Age at least 18"."""
    spec = (fields or STATIC_FIELDS).get(str(criterion.get("field")))
    op, value = str(criterion.get("op")), criterion.get("value")
    if spec is None:
        return f"{criterion.get('field')} {op} {value}"
    labels = {str(k): str(label) for k, label in spec.choices}
    if op == "between" and isinstance(value, list) and len(value) == 2:
        shown = _("%(low)s and %(high)s") % {"low": value[0], "high": value[1]}
    elif isinstance(value, list):
        shown = ", ".join(labels.get(str(v), str(v)) for v in value)
    elif isinstance(value, bool):
        shown = _("yes") if value else _("no")
    else:
        shown = labels.get(str(value), str(value))
    return f"{spec.label} {OPERATORS.get(op, op)} {shown}"


def compile_criteria(criteria: Any, scope: Scope | None = None) -> Compiled:
    """Validate and compile ``criteria`` (ANDed) to a Q over Contact. Apply it to ``Contact.objects``
    (scoped): the result never reaches beyond the scope's owned contacts."""
    scope = scope or get_scope()
    normalised, parts = _check(criteria, scope)
    q = Q()
    for spec, op, value, clean in parts:
        q &= spec.q(op, value, clean, scope)
    return Compiled(criteria=normalised, q=q)


def segment_contacts(criteria: Any, channel: str | None = None) -> Any:
    """The scope's contacts matching ``criteria`` (reachable on ``channel`` when given)."""
    compiled = compile_criteria(criteria)
    qs = Contact.objects.filter(compiled.q)
    if channel:
        qs = audience_selectors.reachable_contacts(channel, qs)
    return qs


def segment_counts_by_store(criteria: Any, channel: str | None = None) -> dict[int, int]:
    """Owner entity id → number of the scope's contacts matching ``criteria`` (and reachable on
    ``channel`` when given), for every store at once: ONE query grouped by owner."""
    compiled = compile_criteria(criteria)
    q = compiled.q
    if channel:
        if channel not in Channel.values:
            raise ValidationError(_("Unknown channel."))
        q &= audience_selectors.reachable_q(channel)  # consent × usable address × not on the list
    rows = (
        Contact.objects.filter(q)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("owner_id", "n")
    )
    return dict(rows)


def segment_left_out(criteria: Any, channel: str | None = None) -> dict[str, int]:
    """Reason (a key of ``UNKNOWN``: "birth_date"…) → how many of the scope's contacts (reachable on
    ``channel`` when given) the criteria leave out for lack of it: those that match every other
    criterion but lack what a criterion needs to judge them. One COUNT per reason the criteria have."""
    scope = get_scope()
    _normalised, parts = _check(criteria, scope)
    reasons = dict.fromkeys(reason for spec, *_rest in parts for reason in spec.unknown)
    left_out: dict[str, int] = {}
    for reason in reasons:
        q = UNKNOWN[reason](scope)
        for spec, op, value, clean in parts:
            if reason not in spec.unknown:
                q &= spec.q(op, value, clean, scope)
        if channel:
            if channel not in Channel.values:
                raise ValidationError(_("Unknown channel."))
            q &= audience_selectors.reachable_q(channel)
        left_out[reason] = Contact.objects.filter(q).count()
    return {reason: n for reason, n in left_out.items() if n}


# ---------------------------------------------------------------------------------------------------
# Saved segments


def segment_save(*, name: str, criteria: Any, channel: str = "", segment: Segment | None = None) -> Segment:
    """Create or update a segment; the same guardrails as the builder (refused with the same message)."""
    scope = get_scope()
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the segment a name.")]})
    if channel and channel not in Channel.values:
        raise ValidationError({"channel": [_("Unknown channel.")]})
    normalised = validate_criteria(criteria, scope)
    with transaction.atomic():
        if segment is None:
            segment = Segment(
                organisation_id=scope.organisation_id, entity_id=scope.entity_id, created_by_id=scope.user_id
            )
        segment.name = name[:120]
        segment.criteria = normalised
        segment.channel = channel
        segment.save()
        audit.record(
            action="segment.save",
            summary=f"segment #{segment.pk}: {segment.name}",
            entity_id=segment.entity_id,
            data={"segment": segment.pk, "name": segment.name},
        )
    return segment


def segment_delete(*, segment: Segment) -> None:
    with transaction.atomic():
        audit.record(action="segment.delete", summary=f"segment #{segment.pk}", entity_id=segment.entity_id)
        segment.delete()
