"""Segments: criteria stored as data, validated against HQ's guardrails, compiled SAFELY to Q objects.

A criterion is ``{"field": ..., "op": ..., "value": ...}`` (purchase criteria may add ``"days"``, the
period). ``FIELDS`` is the allow-list: each field names its operators, how a value is read, and the
function that builds the condition. Nothing from the user becomes a field path, a lookup name or SQL:
a user picks keys of ``FIELDS`` and ``OPERATORS``; values are coerced to the field's type and passed as
query parameters. Custom attributes are addressed as ``attr:<key>`` and only for keys HQ defined.

Guardrails (``SegmentPolicy``): regional and local users may use only the fields and operators HQ
allows, and at most ``max_criteria`` criteria. The service (``validate_criteria``) enforces them, the
form shows the same messages.

Counts: :func:`segment_counts_by_store` gives every store's count in ONE GROUP BY over the scope's
contacts (a store sees only the contacts it owns).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
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
}

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
    build: Callable[[str, Any, dict[str, Any]], Q]
    choices: tuple[tuple[str, Any], ...] = ()
    period: bool = False  # takes a "days" period


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


def _birth_range(band: str, today: datetime.date) -> Q:
    low, high = AGE_BANDS[band]

    def years_ago(n: int) -> datetime.date:
        try:
            return today.replace(year=today.year - n)
        except ValueError:  # 29 February
            return today.replace(year=today.year - n, day=28)

    # aged between low and high (inclusive): born after (today - high - 1 years), on or before (today - low)
    return Q(birth_date__gt=years_ago(high + 1), birth_date__lte=years_ago(low))


def _age_band(op: str, value: Any, _c: dict[str, Any]) -> Q:
    today = timezone.localdate()
    bands = value if isinstance(value, list) else [value]
    q = Q()
    for band in bands:
        q |= _birth_range(band, today)
    return q if op in ("eq", "in") else (~q & Q(birth_date__isnull=False))


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
            "age_band",
            gettext_lazy("Age"),
            ("eq", "ne", "in"),
            "choice",
            _age_band,
            tuple(AGE_BAND_LABELS.items()),
        ),
    ]
    return {f.key: f for f in fields}


STATIC_FIELDS = _static_fields()
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


DEFAULT_ALLOWED_FIELDS = ["kind", "consent_email", "consent_sms", "tag", "city", "postcode", "last_purchase"]


def policy_for(organisation_id: int) -> SegmentPolicy:
    """The organisation's segment guardrails; the defaults (unsaved) until HQ first saves them: reading
    never writes (``policy_update`` creates the row)."""
    found = SegmentPolicy.unscoped.filter(organisation_id=organisation_id).first()
    return found or SegmentPolicy(
        organisation_id=organisation_id,
        allowed_fields=list(DEFAULT_ALLOWED_FIELDS),
        allowed_operators=list(OPERATORS),
    )


def policy_update(
    *, allowed_fields: list[str], allowed_operators: list[str], max_criteria: int
) -> SegmentPolicy:
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
    with transaction.atomic():
        policy.allowed_fields = list(allowed_fields)
        policy.allowed_operators = list(allowed_operators)
        policy.max_criteria = max_criteria
        policy.save()
        audit.record(
            action="segment.policy",
            summary=f"{len(allowed_fields)} fields, {len(allowed_operators)} operators, max {max_criteria}",
            data={"fields": len(allowed_fields), "operators": len(allowed_operators), "max": max_criteria},
        )
    return policy


def is_guarded(scope: Scope) -> bool:
    """Regional and local users work within HQ's guardrails; HQ sets them."""
    return not is_hq(scope.role)


def fields_for(scope: Scope) -> dict[str, FieldSpec]:
    """The fields ``scope`` may use (all for HQ; HQ's allowed ones for the others)."""
    fields = available_fields(scope.organisation_id)
    if not is_guarded(scope):
        return fields
    allowed = set(policy_for(scope.organisation_id).allowed_fields)
    return {k: v for k, v in fields.items() if k in allowed}


def operators_for(scope: Scope, spec: FieldSpec) -> tuple[str, ...]:
    if not is_guarded(scope):
        return spec.ops
    allowed = set(policy_for(scope.organisation_id).allowed_operators)
    return tuple(op for op in spec.ops if op in allowed)


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


def _coerce(spec: FieldSpec, op: str, raw: Any) -> Any:
    """The criterion's value in its type; ValueError with a clear message otherwise."""
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


def _refusal(
    name: str, op: str, spec: FieldSpec, guarded: bool, allowed_fields: set[str], allowed_ops: set[str]
) -> str | None:
    """Why a known field's criterion is refused (HQ's allow-lists for a guarded scope, an operator
    the field has not), or None."""
    if guarded and name not in allowed_fields:
        return _("head office does not allow targeting on “%(field)s”.") % {"field": spec.label}
    if op not in spec.ops:
        return _("the operator “%(op)s” does not apply to “%(field)s”.") % {
            "op": OPERATORS.get(op, op[:20]),
            "field": spec.label,
        }
    if guarded and op not in allowed_ops:
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
    criteria: Any, scope: Scope
) -> tuple[list[dict[str, Any]], list[tuple[FieldSpec, str, Any, dict]]]:
    if not isinstance(criteria, list) or not all(isinstance(c, dict) for c in criteria):
        raise ValidationError(_("Criteria must be a list of {field, op, value}."))
    guarded = is_guarded(scope)
    policy = policy_for(scope.organisation_id)
    limit = min(policy.max_criteria, MAX_CRITERIA_HARD) if guarded else MAX_CRITERIA_HARD
    errors: list[str] = []
    if len(criteria) > limit:
        errors.append(
            _("At most %(n)s criteria are allowed; this segment has %(count)s.")
            % {"n": limit, "count": len(criteria)}
        )
    every = available_fields(scope.organisation_id)
    allowed_fields = set(policy.allowed_fields)
    allowed_ops = set(policy.allowed_operators)
    normalised: list[dict[str, Any]] = []
    parts: list[tuple[FieldSpec, str, Any, dict]] = []
    for number, criterion in enumerate(criteria, start=1):
        name, op = str(criterion.get("field", "")), str(criterion.get("op", ""))
        spec = every.get(name)
        prefix = _("Criterion %(n)s") % {"n": number}
        if spec is None:
            errors.append(f"{prefix}: " + _("unknown field “%(field)s”.") % {"field": name[:60]})
            continue
        refusal = _refusal(name, op, spec, guarded, allowed_fields, allowed_ops)
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
    if errors:
        raise ValidationError(errors)
    return normalised, parts


def compile_criteria(criteria: Any, scope: Scope | None = None) -> Compiled:
    """Validate and compile ``criteria`` (ANDed) to a Q over Contact. Apply it to ``Contact.objects``
    (scoped): the result never reaches beyond the scope's owned contacts."""
    normalised, parts = _check(criteria, scope or get_scope())
    q = Q()
    for spec, op, value, clean in parts:
        q &= spec.build(op, value, clean)
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
