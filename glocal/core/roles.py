"""Roles and the authorisation matrix (role × action). Scope is handled by scoped querysets.

docs/permissions.md is the human-readable copy of this table; a test checks the two agree.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ_ADMIN = "hq_admin", _("HQ admin")
    HQ_MARKETER = "hq_marketer", _("HQ marketer")
    REGIONAL_MANAGER = "regional_manager", _("Regional manager")
    LOCAL_MANAGER = "local_manager", _("Local manager")
    LOCAL_STAFF = "local_staff", _("Local staff")
    VIEWER = "viewer", _("Viewer")


# Higher rank may grant any role of lower or equal rank inside its own subtree.
RANK = {
    Role.HQ_ADMIN: 60,
    Role.HQ_MARKETER: 50,
    Role.REGIONAL_MANAGER: 40,
    Role.LOCAL_MANAGER: 30,
    Role.LOCAL_STAFF: 20,
    Role.VIEWER: 10,
}


# Who counts as HQ: the organisation's central roles. The one definition (segment guardrails, HQ
# approval steps, the HQ home) — use ``is_hq`` / ``HQ_ROLES``, never a local copy.
HQ_ROLES = (Role.HQ_ADMIN, Role.HQ_MARKETER)


def is_hq(role: str) -> bool:
    """Is ``role`` one of HQ's roles (HQ admin, HQ marketer)?"""
    return role in HQ_ROLES


class Action(StrEnum):
    NETWORK_VIEW = "network.view"
    ENTITY_EDIT_ALL = "entity.edit_all"  # every profile field
    ENTITY_EDIT_LOCAL = "entity.edit_local"  # only the fields HQ marks as locally editable
    ENTITY_CREATE = "entity.create"
    ENTITY_MOVE = "entity.move"
    ENTITY_DEACTIVATE = "entity.deactivate"
    NETWORK_IMPORT = "network.import"
    NETWORK_SETTINGS = "network.settings"  # entity types, custom fields, locally editable fields
    GROUP_MANAGE = "group.manage"
    PEOPLE_VIEW = "people.view"
    PEOPLE_INVITE = "people.invite"
    PEOPLE_MANAGE = "people.manage"  # change a role, deactivate a membership
    # creatives
    TEMPLATE_VIEW = "template.view"
    TEMPLATE_MANAGE = "template.manage"  # HQ: create, edit, publish channel templates
    TEMPLATE_PERSONALISE = "template.personalise"  # fill a template's editable zones for a store
    # audience
    CONTACT_VIEW = "contact.view"  # list, search, counts, contact page (owned contacts only)
    CONTACT_EDIT = "contact.edit"  # create, edit, record consent and purchases
    CONTACT_IMPORT = "contact.import"
    CONTACT_EXPORT = "contact.export"  # a person's data as JSON (right of access)
    CONTACT_ASSIGN = "contact.assign"  # manual ownership override
    CONTACT_ERASE = "contact.erase"  # right to erasure
    AUDIENCE_SETTINGS = "audience.settings"  # ownership rule, visibility, retention, attributes
    # HQ's marketing rules: segment guardrails (fields, operators, required criteria) and delivery rules
    # (pressure caps, priority, SMS hours). HQ marketers set them as well as HQ admins; people, network
    # settings and integrations (sender domain, lead forms' embedding and anti-abuse) stay HQ admins'.
    MARKETING_RULES = "marketing.rules"
    # campaigns
    CAMPAIGN_VIEW = "campaign.view"  # campaigns, operations open to the entity, calendar
    CAMPAIGN_CREATE = "campaign.create"  # prepare a local campaign, personalise an operation's waves
    CAMPAIGN_SUBMIT = "campaign.submit"  # submit, subscribe / opt out, cancel
    CAMPAIGN_APPROVE = "campaign.approve"  # decide approval steps (BAT)
    OPERATION_MANAGE = "operation.manage"  # HQ: central operations, waves, defaults
    CALENDAR_MANAGE = "calendar.manage"  # HQ: reserved slots and blackout windows
    BUDGET_VIEW = "budget.view"  # own budgets and ledger
    BUDGET_MANAGE = "budget.manage"  # allocations, unit costs, over-budget rule
    # targeting (lead capture, segments, external prospect lists)
    LEADS_MANAGE = "leads.manage"  # a store's kiosk / web form links, QR code, regenerate tokens
    SEGMENT_MANAGE = "segment.manage"  # build, count and save segments (within HQ's guardrails)
    PROSPECT_LIST_MANAGE = "prospect_list.manage"  # upload, view and purge external prospect lists
    # brand
    ASSET_VIEW = "asset.view"  # the library: folders, assets, versions, usage
    ASSET_MANAGE = "asset.manage"  # HQ: folders, uploads, tags, new versions, library settings
    ASSET_UPLOAD_LOCAL = "asset.upload_local"  # a store's own photos, when HQ allows it
    BRAND_MANAGE = "brand.manage"  # brand kit of the organisation and its regional overrides


_ALL = frozenset(Role)
_HQ = frozenset({Role.HQ_ADMIN})
_MANAGERS = frozenset({Role.HQ_ADMIN, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER})

MATRIX: dict[Action, frozenset[Role]] = {
    Action.NETWORK_VIEW: _ALL,
    Action.ENTITY_EDIT_ALL: _HQ,
    Action.ENTITY_EDIT_LOCAL: frozenset({Role.HQ_ADMIN, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER}),
    Action.ENTITY_CREATE: _HQ,
    Action.ENTITY_MOVE: _HQ,
    Action.ENTITY_DEACTIVATE: _HQ,
    Action.NETWORK_IMPORT: _HQ,
    Action.NETWORK_SETTINGS: _HQ,
    Action.GROUP_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
    Action.PEOPLE_VIEW: frozenset(
        {Role.HQ_ADMIN, Role.HQ_MARKETER, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER}
    ),
    Action.PEOPLE_INVITE: _MANAGERS,
    Action.PEOPLE_MANAGE: _MANAGERS,
    # creatives
    Action.TEMPLATE_VIEW: _ALL,
    Action.TEMPLATE_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
    Action.TEMPLATE_PERSONALISE: frozenset(
        {Role.HQ_ADMIN, Role.HQ_MARKETER, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER, Role.LOCAL_STAFF}
    ),
    # audience
    Action.CONTACT_VIEW: _ALL - {Role.VIEWER},
    Action.CONTACT_EDIT: _ALL - {Role.VIEWER},
    Action.CONTACT_IMPORT: frozenset({Role.HQ_ADMIN, Role.LOCAL_MANAGER, Role.LOCAL_STAFF}),
    Action.CONTACT_EXPORT: _MANAGERS,
    Action.CONTACT_ASSIGN: _HQ,
    Action.CONTACT_ERASE: _HQ,
    Action.AUDIENCE_SETTINGS: _HQ,
    Action.MARKETING_RULES: frozenset(HQ_ROLES),
    # campaigns
    Action.CAMPAIGN_VIEW: _ALL,
    Action.CAMPAIGN_CREATE: frozenset(
        {Role.HQ_ADMIN, Role.HQ_MARKETER, Role.LOCAL_MANAGER, Role.LOCAL_STAFF}
    ),
    Action.CAMPAIGN_SUBMIT: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER, Role.LOCAL_MANAGER}),
    Action.CAMPAIGN_APPROVE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER, Role.REGIONAL_MANAGER}),
    Action.OPERATION_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
    Action.CALENDAR_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
    Action.BUDGET_VIEW: frozenset(
        {Role.HQ_ADMIN, Role.HQ_MARKETER, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER}
    ),
    Action.BUDGET_MANAGE: _HQ,
    # targeting
    Action.LEADS_MANAGE: _MANAGERS,
    Action.SEGMENT_MANAGE: _ALL - {Role.VIEWER},
    Action.PROSPECT_LIST_MANAGE: frozenset(
        {Role.HQ_ADMIN, Role.HQ_MARKETER, Role.REGIONAL_MANAGER, Role.LOCAL_MANAGER}
    ),
    # brand
    Action.ASSET_VIEW: _ALL,
    Action.ASSET_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
    Action.ASSET_UPLOAD_LOCAL: frozenset({Role.LOCAL_MANAGER}),
    Action.BRAND_MANAGE: frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER}),
}


def role_allows(role: str, action: Action) -> bool:
    return role in MATRIX[action]


# Personal data of contacts (names, email addresses, phone numbers, the text a person received, their
# unsubscribe links, import reports quoting file cells) is shown only to the roles that may view
# contacts. The others (viewer) see counts, statuses and reasons, with addresses masked or omitted.
PERSONAL_DATA_ACTION = Action.CONTACT_VIEW


def sees_personal_data(role: str) -> bool:
    return role_allows(role, PERSONAL_DATA_ACTION)


def grantable_roles(role: str) -> list[Role]:
    """Roles that a holder of ``role`` may grant (never above their own)."""
    if not role_allows(role, Action.PEOPLE_INVITE):
        return []
    rank = RANK[Role(role)]
    return [r for r in Role if RANK[r] <= rank]


def matrix_markdown() -> str:
    """The role × action table of docs/permissions.md (regenerate with ``python -m glocal.core.roles``)."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action in Action:
        cells = ["yes" if r in MATRIX[action] else "—" for r in roles]
        lines.append(f"| `{action.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(matrix_markdown())
