"""Central operations and their waves, store participation, campaigns (local or an operation's local
instance), the transition log, approvals (BAT) with proofs, the calendar, budgets and the spend ledger.

Scoping: an operation is visible in its owner's subtree and to the owner's ancestors (like templates);
which stores may take part is a separate rule (``selectors.is_eligible``). Everything a store owns — a
participation, a campaign, its proofs, approvals and transitions, a budget and its ledger — is visible
only inside the store's own scope (and to its region and HQ): another store's ids answer 404.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from glocal.core.scope import EntityOwned, OrganisationOwned, Scope, TenantModel
from glocal.creatives.models import Channel, TemplateVersion, ancestor_ids_of_path
from glocal.network.models import Entity, EntityGroup, Organisation

from .states import STATE_LABELS, State


def _owned_or_ancestor(prefix: str, scope: Scope) -> Q:
    return Q(organisation_id=scope.organisation_id) & (
        Q(**{f"{prefix}path__startswith": scope.entity_path})
        | Q(**{f"{prefix}id__in": ancestor_ids_of_path(scope.entity_path)})
    )


class ApprovalPolicy(models.TextChoices):
    NONE = "none", _("No approval")
    AUTO = "auto", _("Automatic when the compliance checks pass")
    REGIONAL = "regional", _("Regional manager approves")
    HQ = "hq", _("HQ approves")
    REGIONAL_THEN_HQ = "regional_hq", _("Regional manager, then HQ")


# The approval steps (levels, in order) each policy requires.
POLICY_STEPS: dict[str, tuple[str, ...]] = {
    ApprovalPolicy.NONE: (),
    ApprovalPolicy.AUTO: ("auto",),
    ApprovalPolicy.REGIONAL: ("regional",),
    ApprovalPolicy.HQ: ("hq",),
    ApprovalPolicy.REGIONAL_THEN_HQ: ("regional", "hq"),
}


HOLDOUT_CEILING = 50  # no control group above half of an audience


class CampaignSettings(OrganisationOwned):
    """The organisation's campaign rules, chosen by HQ: unit costs, the over-budget rule, guardrails."""

    class OverBudget(models.TextChoices):
        BLOCK = "block", _("Block the submission")
        ROUTE_HQ = "route_hq", _("Send it to HQ for approval")

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="+")
    cost_email = models.DecimalField(_("cost per email (EUR)"), max_digits=8, decimal_places=4, default=0.002)
    cost_sms_segment = models.DecimalField(
        _("cost per SMS segment (EUR)"), max_digits=8, decimal_places=4, default=0.045
    )
    cost_print = models.DecimalField(
        _("cost per printed copy (EUR)"), max_digits=8, decimal_places=4, default=0.35
    )
    over_budget = models.CharField(
        _("when over budget"), max_length=10, choices=OverBudget.choices, default=OverBudget.BLOCK
    )
    local_criteria = models.JSONField(
        _("criteria stores may use"), default=list, blank=True, help_text=_("Among: kind, tag, postcode.")
    )
    reminder_hours = models.PositiveSmallIntegerField(
        _("reminders this many hours before a deadline"), default=48
    )
    # Control groups: the share of each campaign's final audience held out (not messaged) to measure
    # what the campaign adds; HQ's default and the range a store may choose in (docs/reporting.md).
    holdout_default = models.PositiveSmallIntegerField(
        _("control group by default (%)"),
        default=5,
        validators=[MaxValueValidator(HOLDOUT_CEILING)],
        help_text=_("The share of each campaign's audience held out, not messaged, to measure its effect."),
    )
    holdout_min = models.PositiveSmallIntegerField(
        _("smallest control group a store may choose (%)"),
        default=0,
        validators=[MaxValueValidator(HOLDOUT_CEILING)],
    )
    holdout_max = models.PositiveSmallIntegerField(
        _("largest control group a store may choose (%)"),
        default=20,
        validators=[MaxValueValidator(HOLDOUT_CEILING)],
    )

    class Meta:
        verbose_name = _("campaign settings")
        verbose_name_plural = _("campaign settings")


class TemplatePolicy(OrganisationOwned):
    """HQ's approval policy for local campaigns made from a template, when it differs from the
    template's own setting (which offers only none, regional and HQ)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    template = models.OneToOneField(
        "creatives.ChannelTemplate", on_delete=models.CASCADE, related_name="+", verbose_name=_("template")
    )
    policy = models.CharField(_("approval"), max_length=12, choices=ApprovalPolicy.choices)

    class Meta:
        verbose_name = _("template approval policy")


class Operation(TenantModel):
    """A central operation at fixed dates (the wine fair): HQ designs it, stores relay it."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")

    class Eligibility(models.TextChoices):
        ALL = "all", _("Every store")
        SUBTREE = "subtree", _("The stores under one entity")
        GROUP = "group", _("A group")
        LIST = "list", _("A list of stores")

    class Mode(models.TextChoices):
        OPT_IN = "opt_in", _("Opt-in subscription")
        OPT_OUT = "opt_out", _("Automatic, stores may opt out")
        MANDATORY = "mandatory", _("Mandatory")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner"))
    name = models.CharField(_("name"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    visible_from = models.DateField(_("visible to stores from"))
    subscription_deadline = models.DateTimeField(_("subscription deadline"))
    personalisation_deadline = models.DateTimeField(_("personalisation deadline"))
    in_market_start = models.DateField(_("in market from"))
    in_market_end = models.DateField(_("in market until"))
    eligibility = models.CharField(
        _("eligible stores"), max_length=10, choices=Eligibility.choices, default=Eligibility.ALL
    )
    eligible_root = models.ForeignKey(
        Entity, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("under")
    )
    eligible_group = models.ForeignKey(
        EntityGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("group"),
    )
    eligible_entities = models.ManyToManyField(Entity, blank=True, related_name="+", verbose_name=_("stores"))
    participation = models.CharField(
        _("participation"), max_length=10, choices=Mode.choices, default=Mode.OPT_IN
    )
    approval_policy = models.CharField(
        _("approval"), max_length=12, choices=ApprovalPolicy.choices, default=ApprovalPolicy.REGIONAL
    )
    audience_criteria = models.JSONField(_("suggested audience"), default=dict, blank=True)
    pressure_weight = models.SmallIntegerField(
        _("priority weight"), default=0, help_text=_("Higher goes first when marketing pressure must choose.")
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("control group (%)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(HOLDOUT_CEILING)],
        help_text=_("Empty: the organisation's default."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    subscription_closed_at = models.DateTimeField(null=True, blank=True)
    personalisation_closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("operation")
        ordering = ["-in_market_start", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _owned_or_ancestor("owner__", scope)


class OperationWave(TenantModel):
    """One send of an operation: a channel, a published template version, a date and time, and HQ's
    default value for every editable zone (applied when a store does not personalise in time)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="waves")
    name = models.CharField(_("name"), max_length=120)
    version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("template")
    )
    send_at = models.DateTimeField(_("send date and time"))
    zone_defaults = models.JSONField(_("HQ defaults"), default=dict, blank=True)

    class Meta:
        verbose_name = _("wave")
        ordering = ["send_at", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> str:
        return self.version.template.channel

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _owned_or_ancestor("operation__owner__", scope)


class Participation(EntityOwned):
    """A store's answer to an operation."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not answered")
        SUBSCRIBED = "subscribed", _("Taking part")
        OPTED_OUT = "opted_out", _("Opted out")
        OUT = "out", _("Out (deadline passed)")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="participations")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    defaults_applied = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("participation")
        constraints = [models.UniqueConstraint(fields=["operation", "entity"], name="participation_unique")]
        ordering = ["entity__name"]


class Campaign(EntityOwned):
    """What one store sends: a local campaign, or its instance of an operation's wave."""

    class Kind(models.TextChoices):
        LOCAL = "local", _("Local campaign")
        OPERATION = "operation", _("Central operation")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.LOCAL)
    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, null=True, blank=True, related_name="campaigns"
    )
    wave = models.ForeignKey(
        OperationWave, on_delete=models.CASCADE, null=True, blank=True, related_name="campaigns"
    )
    name = models.CharField(_("name"), max_length=160)
    version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("template")
    )
    values = models.JSONField(_("content"), default=dict, blank=True)
    audience_criteria = models.JSONField(_("audience"), default=dict, blank=True)
    excluded_contacts = models.JSONField(_("contacts removed"), default=list, blank=True)
    pressure_weight = models.SmallIntegerField(_("priority weight"), default=0)
    # The share of the final audience held out as a control group, set at creation from the operation,
    # else the organisation's default; empty (campaigns older than control groups): resolved at launch.
    holdout_percent = models.PositiveSmallIntegerField(
        _("control group (%)"), null=True, blank=True, validators=[MaxValueValidator(HOLDOUT_CEILING)]
    )
    scheduled_at = models.DateTimeField(_("send date and time"), null=True, blank=True)
    personalised_at = models.DateTimeField(null=True, blank=True)  # last content save by the store
    state = models.CharField(_("state"), max_length=20, default=State.DRAFT, db_index=True)
    approval_policy = models.CharField(
        max_length=12, choices=ApprovalPolicy.choices, default=ApprovalPolicy.NONE
    )
    over_budget = models.BooleanField(default=False)
    estimated_recipients = models.PositiveIntegerField(default=0)
    estimated_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    sent_count = models.PositiveIntegerField(default=0)
    actual_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    budget_line = models.CharField(
        _("budget line"),
        max_length=80,
        blank=True,
        help_text=_("The budget line its cost goes to; empty: the budget covering the send date."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        constraints = [
            models.UniqueConstraint(
                fields=["wave", "entity"],
                condition=Q(wave__isnull=False) & ~Q(state=State.CANCELLED),
                name="campaign_wave_entity",
            )
        ]
        indexes = [models.Index(fields=["organisation", "state", "scheduled_at"], name="campaign_state_at")]
        ordering = ["-scheduled_at", "-pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def channel(self) -> str:
        return self.version.template.channel

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(State(self.state), self.state))

    @property
    def is_final(self) -> bool:
        return self.state in (State.SENT, State.CANCELLED)


class CampaignTransition(TenantModel):
    """The state log: every transition, by whom, when, on which content. Append-only."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    event = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    content_hash = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, campaign__entity__path__startswith=scope.entity_path)


class Proof(TenantModel):
    """The BAT: the rendered content exactly as submitted (one per submission round)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="proofs")
    round = models.PositiveIntegerField()
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="+")
    values = models.JSONField(default=dict)
    subject = models.CharField(max_length=300, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    content_hash = models.CharField(max_length=16)
    findings = models.JSONField(default=list, blank=True)
    test_sent_to = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-round"]
        constraints = [models.UniqueConstraint(fields=["campaign", "round"], name="proof_round_unique")]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, campaign__entity__path__startswith=scope.entity_path)


class ApprovalStep(TenantModel):
    """One step of a proof's approval, in order. Only the first pending step can be decided."""

    class Level(models.TextChoices):
        AUTO = "auto", _("Automatic checks")
        REGIONAL = "regional", _("Regional manager")
        HQ = "hq", _("Head office")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        CHANGES = "changes", _("Changes requested")
        SUPERSEDED = "superseded", _("Superseded")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    proof = models.ForeignKey(Proof, on_delete=models.CASCADE, related_name="steps")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="approval_steps")
    order = models.PositiveSmallIntegerField()
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    reason = models.CharField(max_length=40, blank=True)  # "policy" or "over_budget"
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "-proof__round", "order"]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return Q(organisation_id=scope.organisation_id, campaign__entity__path__startswith=scope.entity_path)


class CalendarSlot(TenantModel):
    """A period HQ marks on the annual plan: reserved for local campaigns, or a blackout."""

    class Kind(models.TextChoices):
        RESERVED = "reserved", _("Reserved for local campaigns")
        BLACKOUT = "blackout", _("Blackout (no campaign)")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(
        Entity, on_delete=models.PROTECT, related_name="+", verbose_name=_("applies to")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    start = models.DateField(_("from"))
    end = models.DateField(_("until"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)

    class Meta:
        ordering = ["start", "pk"]

    @classmethod
    def scope_q(cls, scope: Scope) -> Q:
        return _owned_or_ancestor("entity__", scope)


def line_key(label: str) -> str:
    """A budget line's label as compared: trimmed, spaces collapsed, case-insensitive."""
    return " ".join((label or "").split()).casefold()


class Budget(EntityOwned):
    """An entity's marketing allocation for a period on one budget line (the entity + ``label``, a
    purpose: "" is the entity's general line); HQ pays ``coop_share`` percent (co-op). Two budgets of the
    same line may not overlap; different lines may. Closed (``closed_at``): it takes no new commitment and
    what was left of it is released."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", verbose_name=_("entity"))
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))
    amount = models.DecimalField(_("allocation (EUR)"), max_digits=12, decimal_places=2)
    coop_share = models.DecimalField(
        _("HQ co-op share (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    label = models.CharField(
        _("budget line"),
        max_length=80,
        blank=True,
        help_text=_("A purpose (“Spring”, “Print”); empty: the entity's general line."),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("budget")
        ordering = ["entity__name", "-period_start"]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.period_start}–{self.period_end}"


class LedgerEntry(EntityOwned):
    """The spend ledger. Append-only: committed when a campaign is scheduled, released when it is
    cancelled or edited back to draft (and when it is sent, replaced by the actual cost)."""

    class Kind(models.TextChoices):
        COMMIT = "commit", _("Committed")
        RELEASE = "release", _("Released")
        ACTUAL = "actual", _("Spent")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    budget = models.ForeignKey(
        Budget, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ledger")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)  # signed: a release is negative
    coop_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)
    # Why this budget: the campaign named its line, it covered the send date, or it held the campaign's
    # commitment (the actual cost of a sent campaign); "": none found.
    chosen_by = models.CharField(
        max_length=8,
        blank=True,
        choices=[
            ("line", _("the line the campaign names")),
            ("date", _("covers the send date")),
            ("commit", _("the budget it was committed on")),
        ],
    )

    class Meta:
        ordering = ["at", "pk"]


class Reminder(EntityOwned):
    """A reminder already sent: one per key (deadline × recipient entity), so reruns send nothing."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120)
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "key"], name="reminder_key_unique")]
