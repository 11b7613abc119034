"""The access matrix: every URL route has a row; each row says what each persona gets.

A route added without a row fails ``test_every_route_has_a_row``. For object routes the same request
is also made with the object of another store and of another organisation: both must answer 404,
exactly like a missing id. Denied writes are checked for side effects in ``test_denied_writes_*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from conftest import Network
from glocal.accounts.models import Invitation
from glocal.brand.tests import factories as brand_factories
from glocal.campaigns.tests import factories as campaign_factories
from glocal.core.models import AuditEvent, Job
from glocal.core.scope import activate
from glocal.delivery.tests import factories as delivery_factories
from glocal.network.models import CustomFieldDefinition, Entity, EntityGroup, Membership
from glocal.targeting.tests import factories as targeting_factories

PERSONAS = [
    "anon",
    "hq_admin",
    "hq_marketer",
    "regional",
    "store_a",
    "store_b",
    "staff_a",
    "viewer",
    "other_org",
]
LOGIN = 302  # anonymous users are sent to the login page


@dataclass
class Row:
    """``get``: persona → expected status for GET (``"*"`` is the default). ``obj`` builds the URL
    kwargs for an object visible to store A; ``foreign`` builds the same for objects store A's manager
    must not see (another store's, another organisation's)."""

    get: dict[str, int]
    obj: Callable[[Network], dict] | None = None
    foreign: list[Callable[[Network], dict]] = field(default_factory=list)
    foreign_personas: tuple[str, ...] = ("store_a",)
    public: bool = False
    redirects: tuple[str, ...] = ()  # personas whose 302 goes to a page of their own, not to the login


def status_map(default: int, **overrides: int) -> dict[str, int]:
    return {"*": default, **overrides}


# other_org is the HQ admin of another organisation: it sees its own organisation's pages.
HQ_ONLY = status_map(403, anon=LOGIN, hq_admin=200, other_org=200)
ALL_MEMBERS = status_map(200, anon=LOGIN)
PEOPLE = status_map(200, anon=LOGIN, staff_a=403, viewer=403)


def entity_of(attr: str) -> Callable[[Network], dict]:
    return lambda n: {"pk": getattr(n, attr).pk}


def membership_of(persona: str) -> Callable[[Network], dict]:
    return lambda n: {"pk": n.memberships[persona].pk}


def make_invitation(entity_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        entity = getattr(n, entity_attr)
        inv = Invitation.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            email="x@example.test",
            role="local_staff",
            token_hash=f"h-{entity.pk}-{Invitation.new_token()}",
            expires_at="2099-01-01T00:00:00Z",
        )
        return {"pk": inv.pk}

    return build


def make_group(org_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        org = getattr(n, org_attr)
        return {"pk": EntityGroup.unscoped.create(organisation=org, code=f"g{org.pk}", name="Pilot").pk}

    return build


def make_job(entity_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        entity = getattr(n, entity_attr)
        job = Job.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            role="local_manager",
            kind="network.import",
            params={},
        )
        return {"pk": job.pk}

    return build


# audience: contacts owned by a store, import jobs of a store
def make_contact(entity_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        from glocal.audience.models import Contact

        entity = getattr(n, entity_attr)
        contact = Contact.unscoped.create(
            organisation=entity.organisation,
            owner=entity,
            owner_path=entity.path,
            last_name=f"Owned by {entity.code}",
            email=f"c{entity.pk}@example.test",
        )
        return {"pk": contact.pk}

    return build


def make_contact_import_job(entity_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        entity = getattr(n, entity_attr)
        job = Job.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            role="local_manager",
            kind="audience.import",
            params={"filename": "x.csv", "dry_run": True},
        )
        return {"pk": job.pk}

    return build


CONTACTS = status_map(200, anon=LOGIN, viewer=403)
CONTACT_OBJ = status_map(200, anon=LOGIN, viewer=403, store_b=404, other_org=404)
CONTACT_HQ_OBJ = status_map(403, anon=LOGIN, hq_admin=200, other_org=404)
CONTACT_IMPORT = status_map(200, anon=LOGIN, hq_marketer=403, regional=403, viewer=403)
CONTACT_FOREIGN = [make_contact("store_b"), make_contact("other_store")]


# creatives: channel templates (visible down the tree from their owner) and store personalisations
def _template_on(entity: Entity) -> dict:
    from django.utils import timezone

    from glocal.creatives.models import ChannelTemplate, TemplateVersion

    template = ChannelTemplate.unscoped.create(
        organisation=entity.organisation, entity=entity, channel="sms", name="T", status="published"
    )
    version = TemplateVersion.unscoped.create(
        organisation=entity.organisation,
        template=template,
        number=1,
        source="{{ store.name }} {{ zones.message }} STOP au 36180",
        zones=[{"key": "message", "type": "short_text", "max_length": 50}],
        published_at=timezone.now(),
    )
    return {"pk": template.pk, "version": version}


def make_template(entity_attr: str) -> Callable[[Network], dict]:
    return lambda n: {"pk": _template_on(getattr(n, entity_attr))["pk"]}


def make_personalisation(store_attr: str) -> Callable[[Network], dict]:
    def build(n: Network) -> dict:
        from glocal.creatives.models import Personalisation

        store = getattr(n, store_attr)
        root = Entity.unscoped.get(organisation=store.organisation, parent__isnull=True)
        found = Personalisation.unscoped.create(
            organisation=store.organisation,
            entity=store,
            version=_template_on(root)["version"],
            values={"message": "Hi"},
        )
        return {"pk": found.pk}

    return build


TEMPLATE_MANAGE = status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=200)


# brand
BRAND_HQ = status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=200)
BRAND_LOCAL_OBJ = status_map(200, anon=LOGIN, store_b=404, other_org=404)
BRAND_FOREIGN = [brand_factories.make_asset("store_b"), brand_factories.make_asset("other_store")]


# campaigns: store A's campaign (its region and HQ see it, store B does not), operations, budgets
CAMPAIGN_OBJ = status_map(200, anon=LOGIN, store_b=404, other_org=404)
CAMPAIGN_EDIT = status_map(200, anon=LOGIN, regional=403, viewer=403, store_b=404, other_org=404)
CAMPAIGN_FOREIGN = [
    campaign_factories.make_campaign("store_b"),
    campaign_factories.make_campaign("other_store"),
]
CAMPAIGN_HQ = status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=200)
POST_ONLY = status_map(405, anon=405)
KIT_REDIRECTS = tuple(p for p in PERSONAS if p != "anon")  # no template yet: back to the kit page

ROUTES: dict[str, Row] = {
    # Public routes
    "healthz": Row(get=status_map(200), public=True),
    "manifest": Row(get=status_map(200), public=True),
    "service_worker": Row(get=status_map(200), public=True),
    "offline": Row(get=status_map(200), public=True),
    "set_language": Row(get=status_map(302), public=True),  # POST only; a GET redirects back
    "accounts:login": Row(get=status_map(302, anon=200), public=True),
    "accounts:logout": Row(get=status_map(405), public=True),
    "accounts:password_reset": Row(get=status_map(200), public=True),
    "accounts:password_reset_done": Row(get=status_map(200), public=True),
    "accounts:password_reset_confirm": Row(
        get=status_map(200), public=True, obj=lambda n: {"uidb64": "MQ", "token": "bad-token"}
    ),
    "accounts:password_reset_complete": Row(get=status_map(200), public=True),
    "accounts:accept": Row(get=status_map(404), public=True, obj=lambda n: {"token": "not-a-token"}),
    # Everyone with a membership
    "core:home": Row(get=ALL_MEMBERS),
    "core:switch": Row(get=status_map(405, anon=405)),
    "core:job": Row(
        get=status_map(
            404, anon=LOGIN, hq_admin=200, hq_marketer=200, regional=200, store_a=200, staff_a=200, viewer=200
        ),
        obj=make_job("store_a"),
        foreign=[make_job("store_b"), make_job("other_store")],
    ),
    "accounts:profile": Row(get=ALL_MEMBERS),
    "network:tree": Row(get=ALL_MEMBERS),
    "network:entity": Row(
        get=status_map(200, anon=LOGIN, store_b=404, other_org=404),
        obj=entity_of("store_a"),
        foreign=[entity_of("store_b"), entity_of("other_store"), entity_of("hq")],
    ),
    "network:entity_edit": Row(
        get=status_map(200, anon=LOGIN, hq_marketer=403, staff_a=403, viewer=403, store_b=404, other_org=404),
        obj=entity_of("store_a"),
        foreign=[entity_of("store_b"), entity_of("other_store")],
    ),
    "network:entity_create": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, other_org=404),
        obj=entity_of("region_n"),
        foreign=[entity_of("other_hq")],
        foreign_personas=("hq_admin",),
    ),
    "network:entity_move": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, other_org=404),
        obj=entity_of("store_a"),
        foreign=[entity_of("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "network:entity_deactivate": Row(get=status_map(405, anon=405), obj=entity_of("store_a")),
    "network:groups": Row(get=ALL_MEMBERS),
    "network:group_create": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=200)
    ),
    "network:group_edit": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=404),
        obj=make_group("org"),
        foreign=[make_group("other_org")],
        foreign_personas=("hq_admin",),
    ),
    "network:settings": Row(get=HQ_ONLY),
    "network:import": Row(get=HQ_ONLY),
    "people:list": Row(get=PEOPLE),
    "people:invite": Row(get=status_map(200, anon=LOGIN, hq_marketer=403, staff_a=403, viewer=403)),
    "people:membership": Row(
        get=status_map(200, anon=LOGIN, hq_marketer=403, staff_a=403, viewer=403, store_b=404, other_org=404),
        obj=membership_of("staff_a"),
        foreign=[membership_of("store_b"), membership_of("other_org")],
    ),
    "people:invitation_revoke": Row(get=status_map(405, anon=405), obj=make_invitation("store_a")),
    # audience
    "audience:list": Row(get=CONTACTS),
    "audience:count": Row(get=CONTACTS),
    "audience:create": Row(get=CONTACTS),
    "audience:contact": Row(get=CONTACT_OBJ, obj=make_contact("store_a"), foreign=CONTACT_FOREIGN),
    "audience:edit": Row(get=CONTACT_OBJ, obj=make_contact("store_a"), foreign=CONTACT_FOREIGN),
    "audience:consent": Row(get=status_map(405, anon=405), obj=make_contact("store_a")),
    "audience:purchase": Row(get=status_map(405, anon=405), obj=make_contact("store_a")),
    "audience:assign": Row(
        get=CONTACT_HQ_OBJ,
        obj=make_contact("store_a"),
        foreign=[make_contact("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "audience:export": Row(
        get=status_map(200, anon=LOGIN, hq_marketer=403, staff_a=403, viewer=403, store_b=404, other_org=404),
        obj=make_contact("store_a"),
        foreign=CONTACT_FOREIGN,
    ),
    "audience:erase": Row(
        get=CONTACT_HQ_OBJ,
        obj=make_contact("store_a"),
        foreign=[make_contact("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "audience:import": Row(get=CONTACT_IMPORT),
    "audience:import_mapping": Row(
        get=status_map(404, anon=LOGIN, hq_marketer=403, regional=403, viewer=403),
        obj=lambda n: {"key": "not-a-pending-import"},
    ),
    "audience:import_job": Row(
        get=status_map(
            200, anon=LOGIN, hq_marketer=403, regional=403, viewer=403, store_b=404, other_org=404
        ),
        obj=make_contact_import_job("store_a"),
        foreign=[make_contact_import_job("store_b"), make_contact_import_job("other_store")],
    ),
    "audience:import_run": Row(get=status_map(405, anon=405), obj=make_contact_import_job("store_a")),
    "audience:settings": Row(get=HQ_ONLY),
    # targeting: public lead forms (a bad token is 404), store A's lead settings, segments, prospect lists
    "targeting:kiosk": Row(get=status_map(404), public=True, obj=lambda n: {"token": "not-a-token"}),
    "targeting:embed": Row(get=status_map(404), public=True, obj=lambda n: {"token": "not-a-token"}),
    "targeting:confirm": Row(get=status_map(404), public=True, obj=lambda n: {"token": "forged"}),
    "targeting:confirm_sms": Row(get=status_map(404), public=True, obj=lambda n: {"token": "forged"}),
    "targeting:leads": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, regional=200, store_a=200, store_b=200, other_org=200)
    ),
    "targeting:lead_settings": Row(get=HQ_ONLY),
    "targeting:lead_store": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, regional=200, store_a=200, store_b=404, other_org=404),
        obj=targeting_factories.entity_of("store_a"),
        foreign=[targeting_factories.entity_of("store_b"), targeting_factories.entity_of("other_store")],
    ),
    "targeting:lead_regenerate": Row(
        get=status_map(405, anon=405), obj=targeting_factories.entity_of("store_a")
    ),
    "targeting:segments": Row(get=CONTACTS),
    "targeting:segment_new": Row(get=CONTACTS),
    "targeting:segment_policy": Row(get=HQ_ONLY),
    "targeting:segment_rows": Row(get=status_map(405, anon=405)),
    "targeting:segment_count": Row(get=status_map(405, anon=405)),
    "targeting:segment": Row(
        get=CONTACT_OBJ,
        obj=targeting_factories.make_segment("store_a"),
        foreign=[
            targeting_factories.make_segment("store_b"),
            targeting_factories.make_segment("other_store"),
        ],
        foreign_personas=("store_a", "staff_a"),
    ),
    "targeting:segment_delete": Row(
        get=status_map(405, anon=405), obj=targeting_factories.make_segment("store_a")
    ),
    "targeting:prospect_lists": Row(get=status_map(200, anon=LOGIN, staff_a=403, viewer=403)),
    "targeting:prospect_upload": Row(get=status_map(200, anon=LOGIN, staff_a=403, viewer=403)),
    "targeting:prospect_list": Row(
        get=status_map(200, anon=LOGIN, staff_a=403, viewer=403, store_b=404, other_org=404),
        obj=targeting_factories.make_prospect_list("store_a"),
        foreign=[
            targeting_factories.make_prospect_list("store_b"),
            targeting_factories.make_prospect_list("other_store"),
        ],
    ),
    "targeting:prospect_purge": Row(
        get=status_map(405, anon=405), obj=targeting_factories.make_prospect_list("store_a")
    ),
    # creatives
    "creatives:list": Row(get=ALL_MEMBERS),
    "creatives:create": Row(get=TEMPLATE_MANAGE),
    "creatives:settings": Row(get=TEMPLATE_MANAGE),
    "creatives:detail": Row(
        get=status_map(200, anon=LOGIN, other_org=404),
        obj=make_template("hq"),
        foreign=[make_template("region_s"), make_template("other_hq")],
    ),
    "creatives:edit": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=404),
        obj=make_template("hq"),
        foreign=[make_template("other_hq")],
        foreign_personas=("hq_admin", "hq_marketer"),
    ),
    "creatives:publish": Row(get=status_map(405, anon=405), obj=make_template("hq")),
    "creatives:draft_preview": Row(get=status_map(405, anon=405), obj=make_template("hq")),
    "creatives:archive": Row(get=status_map(405, anon=405), obj=make_template("hq")),
    "creatives:preview": Row(get=status_map(405, anon=405), obj=make_template("hq")),
    "creatives:personalise": Row(
        get=status_map(200, anon=LOGIN, viewer=403, other_org=404),
        obj=make_template("hq"),
        foreign=[make_template("region_s"), make_template("other_hq")],
    ),
    "creatives:personalisation": Row(
        get=status_map(200, anon=LOGIN, viewer=403, store_b=404, other_org=404),
        obj=make_personalisation("store_a"),
        foreign=[make_personalisation("store_b"), make_personalisation("other_store")],
        foreign_personas=("store_a", "staff_a"),
    ),
    # brand: store A's own photo (visible to store A, region N and HQ, never to store B), print/social
    "brand:library": Row(get=ALL_MEMBERS),
    "brand:public": Row(get=status_map(404), public=True, obj=lambda n: {"token": "1.forged"}),
    "brand:folder_create": Row(get=BRAND_HQ),
    "brand:upload": Row(get=BRAND_HQ),  # stores: only when HQ allows local uploads (off here)
    "brand:settings": Row(get=BRAND_HQ),
    "brand:kit": Row(get=BRAND_HQ),
    "brand:asset": Row(get=BRAND_LOCAL_OBJ, obj=brand_factories.make_asset("store_a"), foreign=BRAND_FOREIGN),
    "brand:file": Row(get=BRAND_LOCAL_OBJ, obj=brand_factories.make_asset("store_a"), foreign=BRAND_FOREIGN),
    "brand:thumbnail": Row(
        get=BRAND_LOCAL_OBJ, obj=brand_factories.make_asset("store_a"), foreign=BRAND_FOREIGN
    ),
    "brand:asset_version": Row(get=status_map(405, anon=405), obj=brand_factories.make_asset("store_a")),
    "brand:print_pdf": Row(
        get=status_map(200, anon=LOGIN, other_org=404),
        obj=brand_factories.make_channel_template("hq", "print"),
        foreign=[
            brand_factories.make_channel_template("region_s", "print"),
            brand_factories.make_channel_template("other_hq", "print"),
        ],
    ),
    "brand:social_png": Row(
        get=status_map(200, anon=LOGIN, other_org=404),
        obj=brand_factories.make_channel_template("hq", "social"),
        foreign=[brand_factories.make_channel_template("other_hq", "social")],
    ),
    # campaigns
    "campaigns:home": Row(get=ALL_MEMBERS),
    "campaigns:new": Row(get=status_map(200, anon=LOGIN, regional=403, viewer=403)),
    "campaigns:detail": Row(
        get=CAMPAIGN_OBJ, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "campaigns:simulate": Row(
        get=CAMPAIGN_OBJ, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "campaigns:edit": Row(
        get=CAMPAIGN_EDIT, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "campaigns:audience": Row(
        get=CAMPAIGN_EDIT, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "campaigns:submit": Row(get=POST_ONLY, obj=campaign_factories.make_campaign("store_a")),
    "campaigns:cancel": Row(get=POST_ONLY, obj=campaign_factories.make_campaign("store_a")),
    "campaigns:approvals": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, regional=200, other_org=200)
    ),
    "campaigns:decide": Row(get=POST_ONLY, obj=lambda n: {"pk": 1}),
    "campaigns:operations": Row(get=ALL_MEMBERS),
    "campaigns:operation_new": Row(get=CAMPAIGN_HQ),
    "campaigns:operation": Row(
        get=status_map(200, anon=LOGIN, other_org=404),
        obj=campaign_factories.make_operation("hq"),
        foreign=[
            campaign_factories.make_operation("other_hq"),
            campaign_factories.make_operation("hq", only_for="store_b"),
        ],
    ),
    "campaigns:wave_new": Row(get=POST_ONLY, obj=campaign_factories.make_operation("hq")),
    "campaigns:operation_publish": Row(get=POST_ONLY, obj=campaign_factories.make_operation("hq")),
    "campaigns:operation_cancel": Row(get=POST_ONLY, obj=campaign_factories.make_operation("hq")),
    "campaigns:participate": Row(get=POST_ONLY, obj=campaign_factories.make_operation("hq")),
    "campaigns:wave_defaults": Row(
        get=status_map(403, anon=LOGIN, hq_admin=200, hq_marketer=200, other_org=404),
        obj=campaign_factories.make_wave("hq"),
        foreign=[campaign_factories.make_wave("other_hq")],
        foreign_personas=("hq_admin",),
    ),
    "campaigns:calendar": Row(get=ALL_MEMBERS),
    "campaigns:slot_new": Row(get=CAMPAIGN_HQ),
    "campaigns:budgets": Row(get=status_map(200, anon=LOGIN, staff_a=403, viewer=403)),
    "campaigns:budget": Row(
        get=status_map(200, anon=LOGIN, staff_a=403, viewer=403, store_b=404, other_org=404),
        obj=campaign_factories.make_budget("store_a"),
        foreign=[campaign_factories.make_budget("store_b"), campaign_factories.make_budget("other_store")],
    ),
    "campaigns:settings": Row(get=HQ_ONLY),
    "campaigns:policies": Row(get=CAMPAIGN_HQ),
    # delivery: the recipient's endpoints (signed tokens, no login) and the store's delivery pages
    "recipient:unsubscribe": Row(
        get=status_map(200), public=True, obj=delivery_factories.unsubscribe_kwargs("store_a")
    ),
    "recipient:unsubscribe_exact": Row(  # the same without the trailing slash (RFC 8058 posts)
        get=status_map(200), public=True, obj=delivery_factories.unsubscribe_kwargs("store_a")
    ),
    "recipient:click": Row(get=status_map(302), public=True, obj=delivery_factories.click_kwargs),
    "recipient:open": Row(get=status_map(200), public=True, obj=delivery_factories.open_kwargs("store_a")),
    "delivery:messages": Row(get=ALL_MEMBERS),
    "delivery:message": Row(
        get=CAMPAIGN_OBJ,
        obj=delivery_factories.make_message("store_a"),
        foreign=[delivery_factories.make_message("store_b"), delivery_factories.make_message("other_store")],
    ),
    "delivery:campaign": Row(
        get=CAMPAIGN_OBJ, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "delivery:settings": Row(get=HQ_ONLY),
    "delivery:window": Row(get=status_map(200, anon=LOGIN, regional=403, staff_a=403, viewer=403)),
    # provider webhooks: POST only, authenticated by a token or a signature
    "hooks:sms_json_receipt": Row(get=status_map(405), public=True),
    "hooks:sms_json_inbound": Row(get=status_map(405), public=True),
    "hooks:sms_twilio_status": Row(get=status_map(405), public=True),
    "hooks:sms_twilio_inbound": Row(get=status_map(405), public=True),
    "hooks:email_bounce": Row(get=status_map(405), public=True),
    "anymail_postmark_tracking": Row(get=status_map(405), public=True),  # POST with Anymail's secret
    # print kits, social export, direct-mail batches (a store is sent to its own kit)
    "print:kit": Row(
        get=status_map(200, anon=LOGIN, store_a=302, store_b=302, staff_a=302),
        redirects=("store_a", "store_b", "staff_a"),
    ),
    "print:store_kit": Row(
        get=CAMPAIGN_OBJ, obj=entity_of("store_a"), foreign=[entity_of("store_b"), entity_of("other_store")]
    ),
    "print:print_kit_zip": Row(
        get=status_map(302, anon=LOGIN, store_b=404, other_org=404),
        obj=entity_of("store_a"),
        foreign=[entity_of("store_b"), entity_of("other_store")],
        redirects=KIT_REDIRECTS,
    ),
    "print:social_zip": Row(
        get=status_map(302, anon=LOGIN, store_b=404, other_org=404),
        obj=entity_of("store_a"),
        foreign=[entity_of("store_b"), entity_of("other_store")],
        redirects=KIT_REDIRECTS,
    ),
    "print:direct_mail": Row(
        get=CAMPAIGN_OBJ, obj=campaign_factories.make_campaign("store_a"), foreign=CAMPAIGN_FOREIGN
    ),
    "print:direct_mail_start": Row(get=POST_ONLY, obj=campaign_factories.make_campaign("store_a")),
    "print:direct_mail_download": Row(
        get=status_map(404, anon=LOGIN, regional=403, staff_a=403, viewer=403), obj=lambda n: {"pk": 1}
    ),
}
# The Django admin is for platform operators: every route under it answers a redirect to its login.
ADMIN_NAMESPACE = "admin"


def all_route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace
                walk(p.url_patterns, f"{prefix}{ns}:" if ns else prefix)
            elif isinstance(p, URLPattern):
                names.add(f"{prefix}{p.name}" if p.name else f"{prefix}<unnamed {p.pattern}>")

    walk(get_resolver().url_patterns, "")
    return names


def test_every_route_has_a_row():
    missing = sorted(
        n for n in all_route_names() if n not in ROUTES and not n.startswith(f"{ADMIN_NAMESPACE}:")
    )
    assert not missing, f"Routes without a row in the access matrix: {missing}"
    stale = sorted(set(ROUTES) - all_route_names())
    assert not stale, f"Rows for routes that no longer exist: {stale}"


def _client_for(client, network: Network, persona: str):  # type: ignore[no-untyped-def]
    client.logout()
    if persona != "anon":
        client.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_route_matrix(route, client, network):
    row = ROUTES[route]
    kwargs = row.obj(network) if row.obj else {}
    url = reverse(route, kwargs=kwargs)
    for persona in PERSONAS:
        expected = row.get.get(persona, row.get["*"])
        response = _client_for(client, network, persona).get(url)
        assert response.status_code == expected, f"{route} as {persona}: {response.status_code} != {expected}"
        if expected == LOGIN and not row.public and persona not in row.redirects:
            assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(r for r, row in ROUTES.items() if row.foreign))
def test_foreign_objects_answer_404_like_missing_ones(route, client, network):
    row = ROUTES[route]
    for persona in row.foreign_personas:
        c = _client_for(client, network, persona)
        for build in row.foreign:
            url = reverse(route, kwargs=build(network))
            assert c.get(url).status_code == 404, f"{route} as {persona}: {url}"
            assert c.post(url, {"name": "Hacked", "role": "hq_admin"}).status_code == 404
        missing = reverse(route, kwargs={"pk": 987654321})
        assert c.get(missing).status_code == 404


@pytest.mark.django_db
def test_admin_is_for_platform_operators_only(client, network):
    for persona in PERSONAS:
        response = _client_for(client, network, persona).get("/ops/")
        assert response.status_code == 302 and "/ops/login/" in response["Location"]


def _snapshot(network: Network) -> dict:
    with activate(network.scope("hq_admin")):
        return {
            "entities": list(
                Entity.objects.order_by("pk").values_list("pk", "name", "path", "is_active", "phone")
            ),
            "memberships": list(Membership.objects.order_by("pk").values_list("pk", "role", "is_active")),
            "groups": EntityGroup.unscoped.count(),
            "fields": CustomFieldDefinition.unscoped.count(),
            "invitations": Invitation.unscoped.count(),
            "audit": AuditEvent.unscoped.count(),
            "jobs": Job.unscoped.count(),
        }


@pytest.mark.django_db
def test_denied_writes_change_nothing(client, network):
    before = _snapshot(network)
    attempts = [
        # (persona, route, kwargs, data)
        (
            "store_b",
            "network:entity_edit",
            {"pk": network.store_a.pk},
            {"name": "Hacked", "phone": "+33100000000"},
        ),
        ("store_a", "network:entity_edit", {"pk": network.store_a.pk}, {"name": "Renamed by store"}),
        ("staff_a", "network:entity_edit", {"pk": network.store_a.pk}, {"phone": "+33100000000"}),
        ("store_a", "network:entity_move", {"pk": network.store_a.pk}, {"new_parent": network.region_s.pk}),
        ("regional", "network:entity_move", {"pk": network.store_a.pk}, {"new_parent": network.region_s.pk}),
        ("store_a", "network:entity_deactivate", {"pk": network.store_a.pk}, {}),
        ("other_org", "network:entity_deactivate", {"pk": network.store_a.pk}, {}),
        ("store_a", "network:entity_create", {"pk": network.store_a.pk}, {"code": "X", "name": "X"}),
        ("viewer", "network:group_create", {}, {"code": "g", "name": "G"}),
        (
            "store_a",
            "network:settings",
            {},
            {"cf-key": "k", "cf-label": "K", "cf-field_type": "text", "cf-submit": "1"},
        ),
        (
            "staff_a",
            "people:invite",
            {},
            {"email": "n@example.test", "entity": network.store_a.pk, "role": "local_staff"},
        ),
        (
            "store_a",
            "people:invite",
            {},
            {"email": "n@example.test", "entity": network.store_a.pk, "role": "hq_admin"},
        ),
        (
            "store_a",
            "people:invite",
            {},
            {"email": "n@example.test", "entity": network.store_b.pk, "role": "local_staff"},
        ),
        ("store_b", "people:membership", {"pk": network.memberships["staff_a"].pk}, {"deactivate": "1"}),
        ("store_a", "people:membership", {"pk": network.memberships["staff_a"].pk}, {"role": "hq_admin"}),
        ("staff_a", "network:import", {}, {}),
        ("store_a", "core:switch", {}, {"membership": network.memberships["store_b"].pk}),
    ]
    for persona, route, kwargs, data in attempts:
        response = _client_for(client, network, persona).post(reverse(route, kwargs=kwargs), data)
        assert response.status_code in {200, 403, 404}, f"{persona} {route}: {response.status_code}"
    assert _snapshot(network) == before


# -- PII rule ------------------------------------------------------------------------------------------
# Roles without contact access (``roles.sees_personal_data``: the viewer) see counts, statuses and
# reasons on the outbox and job pages, never a contact's email, phone or name, nor a live unsubscribe
# link. Store A's manager (who may see its contacts) gets them on the same pages: the check is not empty.

PII = {
    "email": "hugo.pii@example.test",
    "mobile": "+33611223399",
    "first_name": "Hugolin",
    "last_name": "Piiwatcher",
    "excluded": "Huguette",
}


def _pii_world(network: Network, mailbox) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from email import policy
    from email.message import EmailMessage

    from django.utils import timezone

    from glocal.audience.models import Contact
    from glocal.delivery import tokens
    from glocal.delivery.models import Exclusion, Message, MessageEvent

    store = network.store_a
    campaign_id = campaign_factories.make_campaign("store_a")(network)["pk"]
    hugo = Contact.unscoped.create(
        organisation=network.org,
        owner=store,
        owner_path=store.path,
        first_name=PII["first_name"],
        last_name=PII["last_name"],
        email=PII["email"],
        mobile=PII["mobile"],
    )
    excluded = Contact.unscoped.create(
        organisation=network.org, owner=store, owner_path=store.path, first_name=PII["excluded"]
    )
    common = {"organisation": network.org, "entity": store, "entity_path": store.path}
    email = Message.unscoped.create(
        **common,
        campaign_id=campaign_id,
        contact=hugo,
        channel="email",
        to_address=PII["email"],
        stable_id=f"g{campaign_id}-{hugo.pk}",
        not_before=timezone.now(),
        status="failed",
        last_error=f"550 5.1.1 <{PII['email']}>: Recipient address rejected",
        enhanced_code="5.1.1",
    )
    MessageEvent.unscoped.create(
        organisation=network.org,
        message=email,
        kind="failed",
        detail={"error": f"550 5.1.1 <{PII['email']}> unknown", "enhanced": "5.1.1"},
    )
    token = tokens.unsubscribe_token(
        contact_id=hugo.pk, organisation_id=network.org.pk, channel="email", message_id=email.stable_id
    )
    mail = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    mail["To"] = f"{PII['first_name']} {PII['last_name']} <{PII['email']}>"
    mail["From"] = "Magasin A <a@example.test>"
    mail["Subject"] = "Nous rouvrons"
    mail["Message-ID"] = f"<{email.stable_id}@glocal.localhost>"
    mail["List-Unsubscribe"] = f"<http://testserver/u/{token}/>"
    mail.set_content(f"Bonjour {PII['first_name']}")
    mail.add_alternative(f"<p>Bonjour {PII['first_name']}</p>", subtype="html")
    (mailbox / f"{email.stable_id}.eml").write_bytes(mail.as_bytes())
    sms = Message.unscoped.create(
        **common,
        campaign_id=campaign_id,
        contact=None,
        channel="sms",
        to_address=PII["mobile"],
        stable_id=f"g{campaign_id}-sms",
        not_before=timezone.now(),
        status="sent",
        body=f"Magasin A : Bonjour {PII['first_name']}, -20 % ce week-end. STOP au 36180",
    )
    Exclusion.unscoped.create(
        organisation=network.org,
        entity_path=store.path,
        campaign_id=campaign_id,
        contact=excluded,
        reason="no_consent",
    )
    job = Job.unscoped.create(
        organisation=network.org,
        entity=store,
        role="local_manager",
        kind="audience.import",
        params={"filename": "clients.csv"},
        status=Job.Status.DONE,
        result={
            "ok": False,
            "dry_run": True,
            "errors": [
                {
                    "row": 2,
                    "code": PII["email"],
                    "messages": [f"“{PII['mobile']}” is not a valid mobile number ({PII['last_name']})."],
                }
            ],
            "file_errors": [],
        },
    )
    return {
        "messages": reverse("delivery:messages"),
        "message (email)": reverse("delivery:message", kwargs={"pk": email.pk}),
        "message (sms)": reverse("delivery:message", kwargs={"pk": sms.pk}),
        "campaign delivery": reverse("delivery:campaign", kwargs={"pk": campaign_id}),
        "campaign delivery, filtered": reverse("delivery:campaign", kwargs={"pk": campaign_id})
        + "?reason=no_consent",
        "messages, searched": reverse("delivery:messages") + "?q=hugo",
        "job": reverse("core:job", kwargs={"pk": job.pk}),
        "token": token,
    }


@pytest.mark.django_db
def test_pii_rule_the_viewer_sees_no_personal_data_on_outbox_and_job_pages(
    client, network, settings, tmp_path
):
    settings.GLOCAL_MAILBOX_DIR = tmp_path
    pages = _pii_world(network, tmp_path)
    token = pages.pop("token")
    secrets = [*PII.values(), PII["mobile"][3:], token[:24], "/u/"]
    viewer = _client_for(client, network, "viewer")
    for name, url in pages.items():
        response = viewer.get(url)
        assert response.status_code == 200, f"viewer {name}: {response.status_code}"
        page = response.content.decode()
        for secret in secrets:
            assert secret not in page, f"viewer {name} shows {secret!r}"
    # the search by address is no oracle for the viewer either: it is ignored
    assert "h•••@•••.test" in viewer.get(pages["messages, searched"] + "x").content.decode()
    # store A's manager, who may see its contacts, gets them on the same pages
    manager = _client_for(client, network, "store_a")
    shown = {name: manager.get(url).content.decode() for name, url in pages.items()}
    assert PII["email"] in shown["messages"]
    assert f"Bonjour {PII['first_name']}" in shown["message (email)"] and token in shown["message (email)"]
    assert f"Bonjour {PII['first_name']}" in shown["message (sms)"]
    assert PII["excluded"] in shown["campaign delivery"]
    assert PII["email"] in shown["job"]


@pytest.mark.django_db
def test_pii_rule_follows_the_matrix():
    from glocal.network.roles import MATRIX, PERSONAL_DATA_ACTION, Role, sees_personal_data

    assert {r for r in Role if sees_personal_data(r)} == set(MATRIX[PERSONAL_DATA_ACTION])
    assert not sees_personal_data(Role.VIEWER)


def _webhook_routes() -> dict[str, str]:
    """Every route under /hooks/ (Anymail's included), by name: a webhook added later is covered too."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:  # type: ignore[no-untyped-def]
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, route, ns)
            elif route.startswith("hooks/"):
                found[f"{namespace}{p.name}"] = "/" + route

    walk(get_resolver().url_patterns, "", "")
    return found


def _feedback_state() -> dict:
    from glocal.audience.models import ConsentEvent, Contact, Suppression
    from glocal.delivery.models import Message, MessageEvent

    return {
        "messages": sorted(Message.unscoped.values_list("pk", "status", "enhanced_code")),
        "events": MessageEvent.unscoped.count(),
        "suppressions": Suppression.unscoped.count(),
        "consents": ConsentEvent.unscoped.count(),
        "contacts": sorted(Contact.unscoped.values_list("pk", "consent_email", "consent_sms")),
    }


@pytest.mark.django_db
def test_webhooks_refuse_calls_without_valid_credentials_and_change_nothing(network, settings):
    import base64
    import json

    from django.test import Client

    from glocal.delivery import tracking
    from glocal.delivery.models import Message

    settings.GLOCAL_SMS_WEBHOOK_TOKEN = "sms-hook-token-0123456789"
    settings.GLOCAL_BOUNCE_WEBHOOK_TOKEN = "bounce-hook-token-0123456789"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:hook-secret-0123456789"}
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "twilio-token-0123456789"
    routes = _webhook_routes()
    assert set(routes) >= {n for n in ROUTES if n.startswith("hooks:") or n.startswith("anymail_")}
    message = Message.unscoped.get(pk=delivery_factories.make_message("store_a")(network)["pk"])
    Message.unscoped.filter(pk=message.pk).update(status="sent", provider_id="pm-1")
    reference = f"<{tracking.make_ref(message.stable_id)}@glocal.localhost>"
    # bodies that WOULD change something if accepted (a complaint, a hard bounce, a STOP)
    forged = {
        "RecordType": "SpamComplaint", "Type": "SpamComplaint", "MessageID": "pm-1",
        "Email": message.to_address, "Metadata": {"glocal_id": reference},
        "id": "pm-1", "status": "failed", "error_code": "21211",
        "idempotency_key": tracking.make_ref(message.stable_id), "from": "+33612345678", "text": "STOP",
    }  # fmt: skip
    wrong = [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"postmark:wrong").decode()},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_X_TWILIO_SIGNATURE": "Zm9yZ2Vk"},
    ]
    client = Client(enforce_csrf_checks=True)
    before = _feedback_state()
    for name, path in routes.items():
        for headers in wrong:
            for content_type, body in (
                ("application/json", json.dumps(forged)),
                (
                    "application/x-www-form-urlencoded",
                    "MessageSid=SM1&MessageStatus=failed&From=%2B33612345678&Body=STOP",
                ),
                ("message/rfc822", f"Message-ID: {reference}\n\nforged report\n"),
            ):
                response = client.post(
                    f"{path}?m={tracking.make_ref(message.stable_id)}",
                    body,
                    content_type=content_type,
                    **headers,
                )
                assert response.status_code in {401, 403}, f"{name} {headers}: {response.status_code}"
    assert _feedback_state() == before
