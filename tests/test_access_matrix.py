"""The access matrix: every URL route has a row; each row says what each persona gets.

Each row names the action of ``MATRIX`` its view is wrapped in (``scoped(action)``; a test checks the
two agree) and the objects it is about; the answer each persona gets is derived from the matrix: no
login → the login page, a role without the action → 403, an object outside the persona's scope → 404,
otherwise the route's success status. Every route is sent the request it exists for: a GET for pages,
and a POST (CSRF token checked, a plausible body) for every route that accepts one; a refused POST must
leave the whole database as it was. Explicit ``override`` entries are the places where a route's rule
is more than the matrix, each with its reason.

A route added without a row fails ``test_every_route_has_a_row``; a route that accepts POST without a
POST case fails ``test_every_post_route_has_a_post_case``. For object routes the same request is also
made with the object of another store and of another organisation: both must answer 404, exactly like
a missing id. The Django admin (``/ops/``) is for platform operators only.
"""

from __future__ import annotations

import datetime as dt
import dis
import inspect
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from conftest import Network, build_network
from glocal.accounts.models import Invitation
from glocal.audience.views import SESSION_KEY as IMPORTS_SESSION_KEY
from glocal.brand.tests import factories as brand_factories
from glocal.campaigns.tests import factories as campaign_factories
from glocal.core.models import AuditEvent, Job
from glocal.core.roles import MATRIX, Action, Role
from glocal.core.scope import activate
from glocal.delivery.tests import factories as delivery_factories
from glocal.network.models import CustomFieldDefinition, Entity, EntityGroup, EntityType, Membership
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
# each persona's role and the node it is granted on (conftest.build_network)
ROLE = {
    "hq_admin": Role.HQ_ADMIN,
    "hq_marketer": Role.HQ_MARKETER,
    "regional": Role.REGIONAL_MANAGER,
    "store_a": Role.LOCAL_MANAGER,
    "store_b": Role.LOCAL_MANAGER,
    "staff_a": Role.LOCAL_STAFF,
    "viewer": Role.VIEWER,
    "other_org": Role.HQ_ADMIN,
}
HOME = {
    "hq_admin": "hq",
    "hq_marketer": "hq",
    "regional": "region_n",
    "store_a": "store_a",
    "store_b": "store_b",
    "staff_a": "store_a",
    "viewer": "hq",
    "other_org": "other_hq",
}
ANY_MEMBER = None  # a row's action when the view only needs a login and a membership (``scoped()``)
PENDING_IMPORT = "matrix-import"  # the key of the contact file every persona has uploaded (its session)


@dataclass
class Built:
    """Objects some routes are about that a case cannot cheaply make itself (an uploaded file behind a
    job, a submitted campaign, a rendered batch): made once with the module's network."""

    folders: dict[int, int]  # organisation id → a folder of its head office (uploads go there)
    pending_import: dict[str, Any]  # an uploaded contact file, as the upload step leaves it in the session
    checked_import: int  # store A's contact import, checked (its dry run passed): ready to run
    approval_step: int  # the pending regional step of store A's submitted campaign
    direct_mail_batch: int  # a finished direct-mail batch of store A's letter campaign: ready to download


@dataclass
class MatrixNetwork(Network):
    objects: Built


Body = Callable[[MatrixNetwork, str, dict], dict]  # (network, persona, URL kwargs) → POST data


@dataclass
class Post:
    """The POST a route exists for: ``data`` builds a plausible body (files included) for a persona,
    ``ok`` is the answer of a persona allowed to send it."""

    data: Body | dict = field(default_factory=dict)
    ok: int = 302
    content_type: str | None = None  # a raw body (webhooks); else multipart form data
    # The model whose table an allowed POST must change ("app.Model"): checked, so that a body the
    # form rejects (the form back with its errors, nothing written) cannot pass for a success.
    writes: str = ""


@dataclass
class Row:
    """``action``: the action of ``MATRIX`` the view is wrapped in (``ANY_MEMBER``: login + membership).
    ``needs``: a second action the view checks itself after finding the object (what a write needs
    beyond what reading needs). ``obj`` builds the URL kwargs for an object owned by the node ``owner``
    (a network attribute): a persona whose scope does not reach it gets 404. ``reach``: ``"down"`` — the
    owner's node and the nodes above it see it (stores' data); ``"tree"`` — the nodes below it too
    (templates, operations). ``get``: the success status of a GET (``None``: POST only, a GET answers
    405). ``override``: ``(method, persona) → status`` where the rule is more than the matrix.
    ``foreign`` builds the same kwargs for objects store A's manager must not see."""

    action: Action | None
    get: int | None = 200
    post: Post | None = None
    obj: Callable[[MatrixNetwork], dict] | None = None
    owner: str | None = None
    reach: str = "down"
    needs: Action | None = None
    override: dict[tuple[str, str], int] = field(default_factory=dict)
    foreign: list[Callable[[Network], dict]] = field(default_factory=list)
    foreign_personas: tuple[str, ...] = ("store_a",)
    public: bool = False
    redirects: tuple[str, ...] = ()  # personas whose 302 goes to a page of their own, not to the login


def body(**data: Any) -> Body:
    return lambda n, persona, kwargs: dict(data)


def home_of(n: Network, persona: str) -> Entity:
    return getattr(n, HOME.get(persona, "store_a"))


def csv_file(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def png_file(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, brand_factories.png_bytes(), content_type="image/png")


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


def make_refused_contact_import(entity_attr: str) -> Callable[[Network], dict]:
    """A check of a node's contact file that found a bad row (the file stored behind the job)."""

    def build(n: Network) -> dict:
        from glocal.audience import importer
        from glocal.core.uploads import save_upload

        entity = getattr(n, entity_attr)
        name = save_upload(importer.csv_bytes([["email"], ["not-an-email"]]), suffix=".csv")
        job = Job.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            role="local_manager",
            kind="audience.import",
            status=Job.Status.DONE,
            params={"upload": name, "filename": "x.csv", "mapping": ["email"], "dry_run": True},
            result={"ok": False, "error_count": 1, "errors": [{"row": 2, "code": "", "messages": ["bad"]}]},
        )
        return {"pk": job.pk}

    return build


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


def make_restorable_template(entity_attr: str) -> Callable[[Network], dict]:
    """A template with two published versions (content that passes the checks): v1 can be restored."""

    def build(n: Network) -> dict:
        from glocal.creatives.models import TemplateVersion

        made = _template_on(getattr(n, entity_attr))
        v1 = made["version"]
        source = "{{ organisation.sms_advertiser }} {{ zones.message }} STOP au 36180"
        TemplateVersion.unscoped.filter(pk=v1.pk).update(source=source)
        TemplateVersion.unscoped.create(
            organisation=v1.organisation,
            template=v1.template,
            number=2,
            source=source + " !",
            zones=v1.zones,
            published_at=timezone.now(),
        )
        return {"pk": made["pk"], "number": 1}

    return build


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


def make_saved_block(entity_attr: str) -> Callable[[Network], dict]:
    """A block saved for reuse by the node ``entity_attr`` (HQ's: seen below it, managed by HQ)."""

    def build(n: Network) -> dict:
        from glocal.creatives.models import SavedBlock

        entity = getattr(n, entity_attr)
        saved = SavedBlock.unscoped.create(
            organisation=entity.organisation, entity=entity, name="Bouton", block={"type": "divider"}
        )
        return {"pk": saved.pk}

    return build


# brand
BRAND_FOREIGN = [brand_factories.make_asset("store_b"), brand_factories.make_asset("other_store")]


# campaigns: store A's campaign (its region and HQ see it, store B does not), operations, budgets
CAMPAIGN_FOREIGN = [
    campaign_factories.make_campaign("store_b"),
    campaign_factories.make_campaign("other_store"),
]


# bodies that need the network (a persona's own node, its membership, the store type)
def invite_body(n: Network, persona: str, kwargs: dict) -> dict:
    return {
        "email": "new@example.test",
        "full_name": "New",
        "entity": home_of(n, persona).pk,
        "role": "viewer",
    }


def own_store(n: Network, persona: str) -> Entity:
    """The store a persona acts for: its own, store A for the nodes above it, the other organisation's
    store for its HQ."""
    return {"store_b": n.store_b, "other_org": n.other_store}.get(persona, n.store_a)


def root_of(n: Network, persona: str) -> Entity:
    return n.other_hq if persona == "other_org" else n.hq


def entity_create_body(n: Network, persona: str, kwargs: dict) -> dict:
    store_type = EntityType.unscoped.get(organisation=n.org, code="store")
    return {
        "code": "S-NEW",
        "name": "Nouveau",
        "entity_type": store_type.pk,
        "is_active": "on",
        "country": "FR",
        "timezone": "Europe/Paris",
    }


def contact_body(n: Network, persona: str, kwargs: dict) -> dict:
    return {
        "kind": "customer",
        "last_name": "Durand",
        "email": "durand@example.test",
        "country": "FR",
        "language": "fr",
    }


def store_zone_body(n: Network, persona: str, kwargs: dict) -> dict:
    """A zone value for the persona's own store (store A for the nodes above it)."""
    store = n.store_b if persona == "store_b" else n.store_a
    return {"zone-message": "Bonjour", "store": store.pk}


def today() -> str:
    return timezone.localdate().isoformat()


def operation_body(n: Network, persona: str, kwargs: dict) -> dict:
    now = timezone.localtime()
    return {
        "name": "Foire aux vins",
        "visible_from": now.date().isoformat(),
        "subscription_deadline": (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "personalisation_deadline": (now + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        "in_market_start": (now + dt.timedelta(days=7)).date().isoformat(),
        "in_market_end": (now + dt.timedelta(days=14)).date().isoformat(),
        "participation": "opt_in",
        "approval_policy": "regional",
        "pressure_weight": "0",
        "eligibility": "all",
    }


def new_campaign_body(n: Network, persona: str, kwargs: dict) -> dict:
    template = _template_on(Entity.unscoped.get(organisation=home_of(n, persona).organisation, parent=None))
    return {"template": template["pk"], "name": "Soldes", "store": n.store_a.pk}


ROUTES: dict[str, Row] = {
    # Public routes: the same answer for everyone (other than the login page)
    "healthz": Row(ANY_MEMBER, public=True),
    "livez": Row(ANY_MEMBER, public=True),
    "readyz": Row(ANY_MEMBER, public=True),
    "metrics": Row(ANY_MEMBER, get=404, public=True),  # no GLOCAL_METRICS_TOKEN: no endpoint (a token: 401)
    "manifest": Row(ANY_MEMBER, public=True),
    "service_worker": Row(ANY_MEMBER, public=True),
    "offline": Row(ANY_MEMBER, public=True),
    "set_language": Row(ANY_MEMBER, get=302, post=Post(body(language="fr")), public=True),  # a GET goes back
    "accounts:login": Row(
        ANY_MEMBER,
        post=Post(body(username="nobody@example.test", password="wrong"), ok=200),
        public=True,
        # a signed-in user is sent on to the home page
        override={(m, p): 302 for m in ("GET", "POST") for p in PERSONAS[1:]},
    ),
    "accounts:logout": Row(ANY_MEMBER, get=None, post=Post(), public=True),
    "accounts:password_reset": Row(ANY_MEMBER, post=Post(body(email="nobody@example.test")), public=True),
    "accounts:password_reset_done": Row(ANY_MEMBER, public=True),
    "accounts:password_reset_confirm": Row(
        ANY_MEMBER,
        post=Post(body(new_password1="x", new_password2="x"), ok=200),  # a bad link: nothing to set
        public=True,
        obj=lambda n: {"uidb64": "MQ", "token": "bad-token"},
    ),
    "accounts:password_reset_complete": Row(ANY_MEMBER, public=True),
    "accounts:accept": Row(
        ANY_MEMBER,
        get=404,
        post=Post(body(full_name="X", password1="x", password2="x"), ok=404),
        public=True,
        obj=lambda n: {"token": "not-a-token"},
    ),
    # Everyone with a membership
    "core:home": Row(ANY_MEMBER),
    "core:switch": Row(
        ANY_MEMBER,
        get=None,
        post=Post(lambda n, p, kw: {"membership": n.memberships[p].pk} if p != "anon" else {}),
    ),
    "core:job": Row(
        ANY_MEMBER,
        obj=make_job("store_a"),
        owner="store_a",
        foreign=[make_job("store_b"), make_job("other_store")],
    ),
    "accounts:profile": Row(ANY_MEMBER, post=Post(body(full_name="Renamed", language="en"))),
    "network:tree": Row(Action.NETWORK_VIEW),
    "network:entity": Row(
        Action.NETWORK_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store"), entity_of("hq")],
    ),
    "network:entity_edit": Row(
        Action.ENTITY_EDIT_LOCAL,
        post=Post(body(phone="+33320000009")),
        # entity.edit_all edits the whole profile: a phone alone is an incomplete form (errors, no write)
        override={("POST", "hq_admin"): 200},
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store")],
    ),
    "network:entity_create": Row(
        Action.ENTITY_CREATE,
        post=Post(entity_create_body, writes="network.Entity"),
        obj=entity_of("region_n"),
        owner="region_n",
        foreign=[entity_of("other_hq")],
        foreign_personas=("hq_admin",),
    ),
    "network:entity_move": Row(
        Action.ENTITY_MOVE,
        post=Post(lambda n, p, kw: {"new_parent": n.region_s.pk}),
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "network:entity_deactivate": Row(
        Action.ENTITY_DEACTIVATE, get=None, post=Post(), obj=entity_of("store_a"), owner="store_a"
    ),
    "network:groups": Row(Action.NETWORK_VIEW),
    "network:group_create": Row(Action.GROUP_MANAGE, post=Post(body(code="pilot", name="Pilot"))),
    "network:group_edit": Row(
        Action.GROUP_MANAGE,
        post=Post(body(code="pilot", name="Renamed")),
        obj=make_group("org"),
        owner="hq",
        foreign=[make_group("other_org")],
        foreign_personas=("hq_admin",),
    ),
    "network:settings": Row(
        Action.NETWORK_SETTINGS,
        post=Post(body(**{"cf-key": "k", "cf-label": "K", "cf-field_type": "text", "cf-submit": "1"})),
    ),
    "network:import": Row(
        Action.NETWORK_IMPORT,
        post=Post(lambda n, p, kw: {"file": csv_file("n.csv", "code,name,type,parent\n"), "dry_run": "on"}),
    ),
    "people:list": Row(Action.PEOPLE_VIEW),
    "people:invite": Row(Action.PEOPLE_INVITE, post=Post(invite_body)),
    "people:membership": Row(
        Action.PEOPLE_MANAGE,
        post=Post(body(role="local_staff")),
        obj=membership_of("staff_a"),
        owner="store_a",
        foreign=[membership_of("store_b"), membership_of("other_org")],
    ),
    "people:invitation_revoke": Row(
        Action.PEOPLE_INVITE, get=None, post=Post(), obj=make_invitation("store_a"), owner="store_a"
    ),
    # audience
    "audience:list": Row(Action.CONTACT_VIEW),
    "audience:count": Row(Action.CONTACT_VIEW),
    "audience:create": Row(Action.CONTACT_EDIT, post=Post(contact_body, writes="audience.Contact")),
    "audience:contact": Row(
        Action.CONTACT_VIEW, obj=make_contact("store_a"), owner="store_a", foreign=CONTACT_FOREIGN
    ),
    "audience:edit": Row(
        Action.CONTACT_EDIT,
        post=Post(contact_body, writes="audience.Contact"),
        obj=make_contact("store_a"),
        owner="store_a",
        foreign=CONTACT_FOREIGN,
    ),
    "audience:consent": Row(
        Action.CONTACT_EDIT,
        get=None,
        post=Post(body(channel="email", status="granted", wording="Au comptoir")),
        obj=make_contact("store_a"),
        owner="store_a",
    ),
    "audience:purchase": Row(
        Action.CONTACT_EDIT,
        get=None,
        post=Post(lambda n, p, kw: {"entity": n.store_a.pk, "date": today(), "amount": "12.50"}),
        obj=make_contact("store_a"),
        owner="store_a",
    ),
    "audience:assign": Row(
        Action.CONTACT_ASSIGN,
        post=Post(lambda n, p, kw: {"entity": n.store_a2.pk, "lock": "on"}),
        obj=make_contact("store_a"),
        owner="store_a",
        foreign=[make_contact("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "audience:export": Row(
        Action.CONTACT_EXPORT, obj=make_contact("store_a"), owner="store_a", foreign=CONTACT_FOREIGN
    ),
    "audience:erase": Row(
        Action.CONTACT_ERASE,
        post=Post(body(confirm="on")),
        obj=make_contact("store_a"),
        owner="store_a",
        foreign=[make_contact("other_store")],
        foreign_personas=("hq_admin",),
    ),
    "audience:import": Row(
        Action.CONTACT_IMPORT,
        post=Post(lambda n, p, kw: {"file": csv_file("c.csv", "last_name,email\nDurand,d@example.test\n")}),
    ),
    "audience:import_mapping": Row(  # the persona's own upload, kept in its session
        Action.CONTACT_IMPORT,
        post=Post(body(col_0="email", col_1="last_name", wording=""), writes="core.Job"),
        obj=lambda n: {"key": PENDING_IMPORT},
    ),
    "audience:import_job": Row(
        Action.CONTACT_IMPORT,
        obj=make_contact_import_job("store_a"),
        owner="store_a",
        foreign=[make_contact_import_job("store_b"), make_contact_import_job("other_store")],
    ),
    "audience:import_run": Row(  # store A's checked import (its uploaded file behind the job)
        Action.CONTACT_IMPORT,
        get=None,
        post=Post(writes="core.Job"),
        obj=lambda n: {"pk": n.objects.checked_import},
        owner="store_a",
    ),
    "audience:import_rows_to_fix": Row(  # a refused check's bad rows, read from its stored file
        Action.CONTACT_IMPORT,
        obj=make_refused_contact_import("store_a"),
        owner="store_a",
        foreign=[make_refused_contact_import("store_b"), make_refused_contact_import("other_store")],
    ),
    "audience:settings": Row(
        Action.AUDIENCE_SETTINGS,
        post=Post(
            body(
                **{
                    "s-ownership_rule": "explicit",  # a new rule is previewed first (no write)
                    "s-ownership_months": "12",
                    "s-prospect_retention_years": "3",
                    "settings-submit": "1",
                }
            ),
            writes="audience.AudienceSettings",
        ),
    ),
    "audience:transfers": Row(Action.CONTACT_VIEW),
    # targeting: public lead forms (a bad token is 404), store A's lead settings, segments, prospect lists
    "targeting:kiosk": Row(
        ANY_MEMBER,
        get=404,
        post=Post(body(last_name="Durand", email="d@example.test"), ok=404),
        public=True,
        obj=lambda n: {"token": "not-a-token"},
    ),
    "targeting:embed": Row(
        ANY_MEMBER,
        get=404,
        post=Post(body(last_name="Durand", email="d@example.test"), ok=404),
        public=True,
        obj=lambda n: {"token": "not-a-token"},
    ),
    "targeting:confirm": Row(
        ANY_MEMBER, get=404, post=Post(ok=404), public=True, obj=lambda n: {"token": "forged"}
    ),
    "targeting:confirm_sms": Row(
        ANY_MEMBER,
        get=404,
        post=Post(body(code="123456"), ok=404),
        public=True,
        obj=lambda n: {"token": "forged"},
    ),
    "targeting:leads": Row(Action.LEADS_MANAGE),
    "targeting:lead_settings": Row(
        Action.AUDIENCE_SETTINGS,
        post=Post(
            body(
                form_version="v2",
                email_wording="Oui, je veux recevoir les offres du magasin par email.",
                sms_wording="Oui, je veux recevoir les offres du magasin par SMS.",
                frame_ancestors="https://www.example.com",
                min_fill_seconds="3",
                ip_limit_per_hour="60",
                token_limit_per_hour="300",
            ),
            writes="targeting.LeadCaptureSettings",
        ),
    ),
    "targeting:lead_store": Row(  # no links yet: the page offers to make them, its POST does
        Action.LEADS_MANAGE,
        post=Post(writes="targeting.LeadForm"),
        obj=targeting_factories.entity_of("store_a"),
        owner="store_a",
        foreign=[targeting_factories.entity_of("store_b"), targeting_factories.entity_of("other_store")],
    ),
    "targeting:lead_regenerate": Row(
        Action.LEADS_MANAGE,
        get=None,
        post=Post(body(kind="kiosk")),
        obj=targeting_factories.entity_of("store_a"),
        owner="store_a",
    ),
    "targeting:segments": Row(Action.SEGMENT_MANAGE),
    "targeting:segment_new": Row(
        Action.SEGMENT_MANAGE,
        post=Post(
            body(
                name="Fidèles",
                channel="email",
                save="1",
                **{"field": "kind", "op": "eq", "value": "customer"},
            )
        ),
    ),
    "targeting:segment_policy": Row(Action.MARKETING_RULES, post=Post(body(max_criteria="3"))),
    "targeting:segment_rows": Row(Action.SEGMENT_MANAGE, get=None, post=Post(ok=200)),
    "targeting:segment_count": Row(Action.SEGMENT_MANAGE, get=None, post=Post(ok=200)),
    "targeting:segment": Row(
        Action.SEGMENT_MANAGE,
        post=Post(body(name="Renamed", channel="email", save="1", field="kind", op="eq", value="customer")),
        obj=targeting_factories.make_segment("store_a"),
        owner="store_a",
        foreign=[
            targeting_factories.make_segment("store_b"),
            targeting_factories.make_segment("other_store"),
        ],
        foreign_personas=("store_a", "staff_a"),
    ),
    "targeting:segment_delete": Row(
        Action.SEGMENT_MANAGE,
        get=None,
        post=Post(),
        obj=targeting_factories.make_segment("store_a"),
        owner="store_a",
    ),
    "targeting:prospect_lists": Row(Action.PROSPECT_LIST_MANAGE),
    "targeting:prospect_upload": Row(
        Action.PROSPECT_LIST_MANAGE,
        post=Post(
            lambda n, p, kw: {
                "name": "Salon",
                "provider": "Fichiers SA",
                "campaign_ref": "SALON-2025",
                "purpose": "Salon",
                "purge_after": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
                "entity": own_store(n, p).pk,
                "file": csv_file("p.csv", "email\np@example.test\n"),
            },
            writes="targeting.ProspectList",
        ),
    ),
    "targeting:prospect_list": Row(
        Action.PROSPECT_LIST_MANAGE,
        obj=targeting_factories.make_prospect_list("store_a"),
        owner="store_a",
        foreign=[
            targeting_factories.make_prospect_list("store_b"),
            targeting_factories.make_prospect_list("other_store"),
        ],
    ),
    "targeting:prospect_purge": Row(
        Action.PROSPECT_LIST_MANAGE,
        # GET: the confirmation page, with the count of what the POST will change
        post=Post(),
        obj=targeting_factories.make_prospect_list("store_a"),
        owner="store_a",
    ),
    # creatives
    "creatives:list": Row(Action.TEMPLATE_VIEW),
    "creatives:create": Row(
        Action.TEMPLATE_MANAGE,
        post=Post(
            lambda n, p, kw: {
                "name": "Promo",
                "channel": "sms",
                "entity": home_of(n, p).pk,
                "approval_policy": "none",
            }
        ),
    ),
    "creatives:settings": Row(
        Action.TEMPLATE_MANAGE,
        post=Post(
            body(
                sms_advertiser="Maison",
                sms_opt_out="STOP au 36180",
                sms_price_per_segment="0.045",
                sms_segment_limit="2",
            ),
            writes="creatives.CreativeSettings",
        ),
    ),
    "creatives:detail": Row(
        Action.TEMPLATE_VIEW,
        obj=make_template("hq"),
        owner="hq",
        reach="tree",
        foreign=[make_template("region_s"), make_template("other_hq")],
    ),
    "creatives:edit": Row(
        Action.TEMPLATE_MANAGE,
        post=Post(body(source="{{ store.name }} STOP au 36180", zones_json="[]")),
        obj=make_template("hq"),
        owner="hq",
        reach="tree",
        foreign=[make_template("other_hq")],
        foreign_personas=("hq_admin", "hq_marketer"),
    ),
    "creatives:publish": Row(
        Action.TEMPLATE_MANAGE, get=None, post=Post(), obj=make_template("hq"), owner="hq", reach="tree"
    ),
    "creatives:restore": Row(
        Action.TEMPLATE_MANAGE,
        post=Post(writes="creatives.TemplateVersion"),
        obj=make_restorable_template("hq"),
        owner="hq",
        reach="tree",  # another organisation's template and a missing version: creatives' test_publishing
    ),
    "creatives:saved_blocks": Row(Action.TEMPLATE_MANAGE),
    "creatives:saved_block_create": Row(
        Action.TEMPLATE_MANAGE,
        get=None,
        post=Post(body(name="Séparateur", block='{"type": "divider"}'), writes="creatives.SavedBlock"),
    ),
    "creatives:saved_block_delete": Row(
        Action.TEMPLATE_MANAGE,
        get=None,
        post=Post(writes="creatives.SavedBlock"),
        obj=make_saved_block("hq"),
        owner="hq",
        reach="tree",  # POST only: another organisation's block answers 404, creatives' test_blocks_views
    ),
    "creatives:draft_preview": Row(
        Action.TEMPLATE_MANAGE, get=None, post=Post(ok=200), obj=make_template("hq"), owner="hq", reach="tree"
    ),
    "creatives:archive": Row(
        Action.TEMPLATE_MANAGE, get=None, post=Post(), obj=make_template("hq"), owner="hq", reach="tree"
    ),
    "creatives:preview": Row(
        Action.TEMPLATE_PERSONALISE,
        get=None,
        post=Post(store_zone_body, ok=200),
        obj=make_template("hq"),
        owner="hq",
        reach="tree",
    ),
    "creatives:personalise": Row(
        Action.TEMPLATE_PERSONALISE,
        post=Post(store_zone_body),
        obj=make_template("hq"),
        owner="hq",
        reach="tree",
        foreign=[make_template("region_s"), make_template("other_hq")],
    ),
    "creatives:personalisation": Row(
        Action.TEMPLATE_PERSONALISE,
        post=Post(body(**{"zone-message": "Bonjour"})),
        obj=make_personalisation("store_a"),
        owner="store_a",
        foreign=[make_personalisation("store_b"), make_personalisation("other_store")],
        foreign_personas=("store_a", "staff_a"),
    ),
    # brand: store A's own photo (visible to store A, region N and HQ, never to store B), print/social
    "brand:library": Row(Action.ASSET_VIEW),
    "brand:public": Row(ANY_MEMBER, get=404, public=True, obj=lambda n: {"token": "1.forged"}),
    "brand:folder_create": Row(
        Action.ASSET_MANAGE, post=Post(lambda n, p, kw: {"name": "Affiches", "entity": home_of(n, p).pk})
    ),
    # stores upload only when HQ allows local uploads (off in this network): asset.manage decides
    "brand:upload": Row(
        Action.ASSET_VIEW,
        needs=Action.ASSET_MANAGE,
        post=Post(
            lambda n, p, kw: {
                "file": png_file(),
                "name": "Affiche",
                "kind": "image",
                "folder": n.objects.folders.get(home_of(n, p).organisation_id, ""),
            },
            writes="brand.Asset",
        ),
    ),
    "brand:settings": Row(Action.ASSET_MANAGE, post=Post(body(max_upload_mb="10", max_dimension="4000"))),
    "brand:kit": Row(Action.BRAND_MANAGE, post=Post(body(colours="#cc3366", fonts="DejaVu Sans"))),
    # reading an asset needs asset.view; editing it asset.manage (local uploads are off)
    "brand:asset": Row(
        Action.ASSET_VIEW,
        needs=Action.ASSET_MANAGE,
        post=Post(body(name="Vitrine", alt_text="La vitrine")),
        obj=brand_factories.make_asset("store_a"),
        owner="store_a",
        foreign=BRAND_FOREIGN,
    ),
    "brand:file": Row(
        Action.ASSET_VIEW, obj=brand_factories.make_asset("store_a"), owner="store_a", foreign=BRAND_FOREIGN
    ),
    "brand:thumbnail": Row(
        Action.ASSET_VIEW, obj=brand_factories.make_asset("store_a"), owner="store_a", foreign=BRAND_FOREIGN
    ),
    "brand:asset_version": Row(
        Action.ASSET_VIEW,
        needs=Action.ASSET_MANAGE,
        get=None,
        post=Post(lambda n, p, kw: {"file": png_file()}),
        obj=brand_factories.make_asset("store_a"),
        owner="store_a",
    ),
    "brand:print_pdf": Row(
        Action.TEMPLATE_VIEW,
        obj=brand_factories.make_channel_template("hq", "print"),
        owner="hq",
        reach="tree",
        foreign=[
            brand_factories.make_channel_template("region_s", "print"),
            brand_factories.make_channel_template("other_hq", "print"),
        ],
    ),
    "brand:social_png": Row(
        Action.TEMPLATE_VIEW,
        obj=brand_factories.make_channel_template("hq", "social"),
        owner="hq",
        reach="tree",
        foreign=[brand_factories.make_channel_template("other_hq", "social")],
    ),
    # campaigns
    "campaigns:home": Row(Action.CAMPAIGN_VIEW),
    "campaigns:new": Row(Action.CAMPAIGN_CREATE, post=Post(new_campaign_body)),
    "campaigns:detail": Row(
        Action.CAMPAIGN_VIEW,
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "campaigns:simulate": Row(
        Action.CAMPAIGN_VIEW,
        post=Post(body(name="Soldes", kind="all"), ok=200),  # htmx: the panel for the form being filled
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "campaigns:edit": Row(
        Action.CAMPAIGN_CREATE,
        post=Post(
            body(name="Soldes d'été", kind="", **{"zone-message": "Bonjour"}), writes="campaigns.Campaign"
        ),
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "campaigns:audience": Row(
        Action.CAMPAIGN_CREATE,
        post=Post(body(exclude="0")),
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "campaigns:submit": Row(
        Action.CAMPAIGN_SUBMIT,
        get=None,
        post=Post(),
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
    ),
    "campaigns:cancel": Row(
        Action.CAMPAIGN_SUBMIT,
        # GET: the confirmation page, with the count of what the POST will change
        post=Post(),
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
    ),
    "campaigns:approvals": Row(Action.CAMPAIGN_APPROVE, post=Post(body(decision="approve"))),
    "campaigns:decide": Row(  # the regional step store A's submitted campaign waits for
        Action.CAMPAIGN_APPROVE,
        get=None,
        post=Post(body(decision="approve"), writes="campaigns.ApprovalStep"),
        obj=lambda n: {"pk": n.objects.approval_step},
        owner="store_a",
    ),
    "campaigns:approvals_confirm": Row(Action.CAMPAIGN_APPROVE),  # GET only: its form POSTs to the queue
    "campaigns:proof": Row(  # the proof of store A's submitted campaign (the queue's lazy thumbnail)
        Action.CAMPAIGN_VIEW, obj=lambda n: {"pk": proof_of_step(n.objects.approval_step)}, owner="store_a"
    ),
    "campaigns:operations": Row(Action.CAMPAIGN_VIEW),
    "campaigns:operation_new": Row(
        Action.OPERATION_MANAGE, post=Post(operation_body, writes="campaigns.Operation")
    ),
    "campaigns:operation": Row(
        Action.CAMPAIGN_VIEW,
        obj=campaign_factories.make_operation("hq"),
        owner="hq",
        reach="tree",
        foreign=[
            campaign_factories.make_operation("other_hq"),
            campaign_factories.make_operation("hq", only_for="store_b"),
        ],
    ),
    "campaigns:wave_new": Row(
        Action.OPERATION_MANAGE,
        get=None,
        post=Post(body(name="Relance")),
        obj=campaign_factories.make_operation("hq"),
        owner="hq",
        reach="tree",
    ),
    "campaigns:operation_publish": Row(
        Action.OPERATION_MANAGE,
        # GET: the confirmation page, with the count of what the POST will change
        post=Post(),
        obj=campaign_factories.make_operation("hq"),
        owner="hq",
        reach="tree",
    ),
    "campaigns:operation_cancel": Row(
        Action.OPERATION_MANAGE,
        # GET: the confirmation page, with the count of what the POST will change
        post=Post(),
        obj=campaign_factories.make_operation("hq"),
        owner="hq",
        reach="tree",
    ),
    "campaigns:participate": Row(
        Action.CAMPAIGN_SUBMIT,
        get=None,
        post=Post(body(answer="yes")),
        # HQ is no store of the operation: there is no participation of its own to answer
        override={("POST", "hq_admin"): 404, ("POST", "hq_marketer"): 404},
        obj=campaign_factories.make_operation("hq"),
        owner="hq",
        reach="tree",
    ),
    "campaigns:wave_defaults": Row(
        Action.OPERATION_MANAGE,
        post=Post(body(kind="all")),
        obj=campaign_factories.make_wave("hq"),
        owner="hq",
        reach="tree",
        foreign=[campaign_factories.make_wave("other_hq")],
        foreign_personas=("hq_admin",),
    ),
    "campaigns:calendar": Row(Action.CAMPAIGN_VIEW),
    "campaigns:slot_new": Row(
        Action.CALENDAR_MANAGE,
        post=Post(
            lambda n, p, kw: {
                "kind": "blackout",
                "name": "Inventaire",
                "start": today(),
                "end": today(),
                "entity": home_of(n, p).pk,
            },
            writes="campaigns.CalendarSlot",
        ),
    ),
    # every budget.view role reads its budgets; creating one needs budget.manage
    "campaigns:budgets": Row(
        Action.BUDGET_VIEW,
        needs=Action.BUDGET_MANAGE,
        post=Post(
            lambda n, p, kw: {
                "entity": own_store(n, p).pk,
                "period_start": today(),
                "period_end": today(),
                "amount": "100",
                "coop_share": "0",
            },
            writes="campaigns.Budget",
        ),
    ),
    "campaigns:budget": Row(
        Action.BUDGET_VIEW,
        obj=campaign_factories.make_budget("store_a"),
        owner="store_a",
        foreign=[campaign_factories.make_budget("store_b"), campaign_factories.make_budget("other_store")],
    ),
    "campaigns:budget_edit": Row(
        Action.BUDGET_MANAGE,
        obj=campaign_factories.make_budget("store_a"),
        owner="store_a",
        post=Post(
            lambda n, p, kw: {
                "label": "Printemps",
                "period_start": today(),
                "period_end": today(),
                "amount": "1 000",
                "coop_share": "0",
            },
            writes="campaigns.Budget",
        ),
        foreign=[campaign_factories.make_budget("other_store")],  # another organisation's
        foreign_personas=("hq_admin",),
    ),
    "campaigns:budget_close": Row(  # GET: the confirmation page; POST: closes it
        Action.BUDGET_MANAGE,
        obj=campaign_factories.make_budget("store_a"),
        owner="store_a",
        post=Post(writes="campaigns.Budget"),
        foreign=[campaign_factories.make_budget("other_store")],  # another organisation's
        foreign_personas=("hq_admin",),
    ),
    "campaigns:settings": Row(
        Action.BUDGET_MANAGE,
        post=Post(
            body(
                cost_email="0.01",
                cost_sms_segment="0.05",
                cost_print="0.80",
                over_budget="route_hq",
                local_criteria=["kind", "tags"],
                reminder_hours="24",
                holdout_default="5",
                holdout_min="0",
                holdout_max="20",
            ),
            writes="campaigns.CampaignSettings",
        ),
    ),
    "campaigns:policies": Row(Action.OPERATION_MANAGE, post=Post(body(policy="none"))),
    # delivery: the recipient's endpoints (signed tokens, no login) and the store's delivery pages
    "recipient:unsubscribe": Row(
        ANY_MEMBER,
        post=Post(body(**{"List-Unsubscribe": "One-Click"}), ok=200),
        public=True,
        obj=delivery_factories.unsubscribe_kwargs("store_a"),
    ),
    "recipient:unsubscribe_exact": Row(  # the same without the trailing slash (RFC 8058 posts)
        ANY_MEMBER,
        post=Post(body(**{"List-Unsubscribe": "One-Click"}), ok=200),
        public=True,
        obj=delivery_factories.unsubscribe_kwargs("store_a"),
    ),
    "recipient:click": Row(ANY_MEMBER, get=302, public=True, obj=delivery_factories.click_kwargs),
    "recipient:open": Row(ANY_MEMBER, public=True, obj=delivery_factories.open_kwargs("store_a")),
    "delivery:messages": Row(Action.CAMPAIGN_VIEW),
    "delivery:message": Row(
        Action.CAMPAIGN_VIEW,
        obj=delivery_factories.make_message("store_a"),
        owner="store_a",
        foreign=[delivery_factories.make_message("store_b"), delivery_factories.make_message("other_store")],
    ),
    "delivery:campaign": Row(
        Action.CAMPAIGN_VIEW,
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "delivery:settings": Row(
        Action.MARKETING_RULES,
        post=Post(
            body(
                priority="central_first",
                sms_start="09:00",
                sms_end="19:00",
                **{
                    "caps-TOTAL_FORMS": "1",
                    "caps-INITIAL_FORMS": "0",
                    "caps-0-limit": "3",
                    "caps-0-days": "7",
                },
            ),
            writes="delivery.DeliverySettings",
        ),
    ),
    "delivery:window": Row(Action.CAMPAIGN_SUBMIT, post=Post(body(sms_start="10:00", sms_end="18:00"))),
    # HQ's test send from the template editor (an SMS template here: refused with its message, nothing
    # sent). The sending itself, and another organisation's template answering 404 to a POST:
    # delivery's test_test_send, with a real SMTP server.
    "delivery:template_test_send": Row(
        Action.TEMPLATE_MANAGE,
        get=None,
        post=Post(lambda n, p, kw: {"addresses": "qa@example.test", "store": n.store_a.pk}),
        obj=make_template("hq"),
        owner="hq",
        reach="tree",
    ),
    # reporting: results of the acting node, drill-down into its subtree (other nodes: 404), HQ's attribution
    "reports:dashboard": Row(Action.CAMPAIGN_VIEW),
    "reports:entity": Row(
        Action.CAMPAIGN_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store"), entity_of("hq")],
    ),
    "reports:export": Row(
        Action.CAMPAIGN_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store"), entity_of("hq")],
    ),
    "reports:export_xlsx": Row(
        Action.CAMPAIGN_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store"), entity_of("hq")],
    ),
    "reports:settings": Row(
        Action.MARKETING_RULES,
        post=Post(body(window_days="10", touch="first"), writes="reporting.ReportingSettings"),
    ),
    # provider webhooks: POST only, authenticated by a token or a signature (none here: refused)
    "hooks:sms_json_receipt": Row(ANY_MEMBER, get=None, post=Post(ok=403), public=True),
    "hooks:sms_json_inbound": Row(ANY_MEMBER, get=None, post=Post(ok=403), public=True),
    "hooks:sms_twilio_status": Row(ANY_MEMBER, get=None, post=Post(ok=403), public=True),
    "hooks:sms_twilio_inbound": Row(ANY_MEMBER, get=None, post=Post(ok=403), public=True),
    "hooks:email_bounce": Row(ANY_MEMBER, get=None, post=Post(ok=403), public=True),
    "anymail_postmark_tracking": Row(ANY_MEMBER, get=None, post=Post(ok=401), public=True),  # basic auth
    # print kits, social export, direct-mail batches (a store is sent to its own kit)
    "print:kit": Row(
        Action.CAMPAIGN_VIEW,
        override={("GET", p): 302 for p in ("store_a", "store_b", "staff_a")},  # sent to their own kit
        redirects=("store_a", "store_b", "staff_a"),
    ),
    "print:store_kit": Row(
        Action.CAMPAIGN_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store")],
    ),
    "print:print_kit_zip": Row(  # HQ's letter template is in store A's kit (listed there as skipped)
        Action.CAMPAIGN_VIEW,
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store")],
    ),
    "print:social_zip": Row(
        Action.CAMPAIGN_VIEW,
        get=302,  # no template yet: back to the kit page
        obj=entity_of("store_a"),
        owner="store_a",
        foreign=[entity_of("store_b"), entity_of("other_store")],
        redirects=tuple(PERSONAS[1:]),
    ),
    "print:direct_mail": Row(
        Action.CAMPAIGN_VIEW,
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
        foreign=CAMPAIGN_FOREIGN,
    ),
    "print:direct_mail_start": Row(
        Action.CAMPAIGN_SUBMIT,
        get=None,
        post=Post(),
        obj=campaign_factories.make_campaign("store_a"),
        owner="store_a",
    ),
    "print:direct_mail_download": Row(  # a finished batch of store A's letter campaign
        Action.CAMPAIGN_SUBMIT,
        obj=lambda n: {"pk": n.objects.direct_mail_batch},
        owner="store_a",
    ),
}

# The Django admin is for platform operators: every route under it is checked by the admin tests below.
ADMIN_NAMESPACE = "admin"


def _patterns() -> Iterator[tuple[str, URLPattern]]:
    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace
                yield from walk(p.url_patterns, f"{prefix}{ns}:" if ns else prefix)
            elif isinstance(p, URLPattern):
                yield (f"{prefix}{p.name}" if p.name else f"{prefix}<unnamed {p.pattern}>"), p

    yield from walk(get_resolver().url_patterns, "")


def all_route_names() -> set[str]:
    return {name for name, _p in _patterns()}


def test_every_route_has_a_row():
    missing = sorted(
        n for n in all_route_names() if n not in ROUTES and not n.startswith(f"{ADMIN_NAMESPACE}:")
    )
    assert not missing, f"Routes without a row in the access matrix: {missing}"
    stale = sorted(set(ROUTES) - all_route_names())
    assert not stale, f"Rows for routes that no longer exist: {stale}"
    assert any(n.startswith(f"{ADMIN_NAMESPACE}:") for n in all_route_names()), "the admin moved"


# -- what a view is wrapped in, read from the view itself --------------------------------------------


def _layers(view: Callable) -> Iterator[Callable]:
    seen: set[int] = set()
    current: Any = view
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "__wrapped__", None)


def _closure(fn: Callable) -> dict[str, Any]:
    cells = getattr(fn, "__closure__", None) or ()
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    found = {}
    for name, cell in zip(names, cells, strict=False):
        try:
            found[name] = cell.cell_contents
        except ValueError:
            continue
    return found


def view_action(route: str) -> tuple[bool, Action | None]:
    """(wrapped in ``scoped``, its action) for a route's view."""
    for layer in _layers(dict(_patterns())[route].callback):
        values = _closure(layer)
        code = getattr(layer, "__code__", None)
        if "action" in values and code is not None and code.co_qualname.startswith("scoped."):
            return True, values["action"]
    return False, None


def _global_names(fn: Callable) -> set[str]:
    """The global names ``fn`` reads (its comprehensions' and inner functions' too) — not the attribute
    names it reads on other objects: ``selectors.simulate(…)`` is not the view ``simulate``."""
    found: set[str] = set()
    codes = [getattr(fn, "__code__", None)]
    while codes:
        code = codes.pop()
        if code is None:
            continue
        found |= {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
        codes += [c for c in code.co_consts if inspect.iscode(c)]
    return found


def _source_mentions_post(fn: Callable, depth: int = 2) -> bool:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    if 'method == "POST"' in source or "request.POST" in source or "request.FILES" in source:
        return True
    if depth == 0:
        return False
    module = inspect.getmodule(fn)
    for name in _global_names(fn):  # helpers of the same module
        helper = getattr(module, name, None)
        same_module = inspect.isfunction(helper) and helper.__module__ == fn.__module__ and helper is not fn
        if same_module and _source_mentions_post(helper, depth - 1):
            return True
    return False


def accepts_post(route: str) -> bool:
    """A route accepts POST when its view is restricted to methods that include POST, is a class view
    with a ``post`` handler, or (unrestricted) reads a POST body."""
    callback = dict(_patterns())[route].callback
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return "post" in view_class.http_method_names and hasattr(view_class, "post")
    inner = callback
    for layer in _layers(callback):
        methods = _closure(layer).get("request_method_list")
        if methods is not None:
            return "POST" in methods
        inner = layer
    return _source_mentions_post(inner)


def test_rows_name_the_action_their_view_checks():
    wrong = {}
    for route, row in ROUTES.items():
        wrapped, action = view_action(route)
        if row.public:
            if wrapped:
                wrong[route] = "public row, but the view requires a login"
        elif not wrapped:
            wrong[route] = "the view is not wrapped in scoped()"
        elif action != row.action:
            wrong[route] = f"row says {row.action}, the view checks {action}"
    assert not wrong, wrong


def test_every_post_route_has_a_post_case():
    missing = sorted(r for r in ROUTES if accepts_post(r) and ROUTES[r].post is None)
    assert not missing, f"Routes accepting POST without a POST case: {missing}"
    stale = sorted(r for r in ROUTES if ROUTES[r].post is not None and not accepts_post(r))
    assert not stale, f"POST cases for routes that do not accept POST: {stale}"
    # the detection is not blind: it sees the restricted, the class-based and the unrestricted kinds
    assert accepts_post("people:invitation_revoke") and accepts_post("accounts:login")
    assert accepts_post("targeting:segment") and not accepts_post("audience:export")


# -- the derived answer --------------------------------------------------------------------------------


def reaches(n: Network, persona: str, owner_attr: str, reach: str) -> bool:
    home, owner = home_of(n, persona), getattr(n, owner_attr)
    if home.organisation_id != owner.organisation_id:
        return False
    return owner.path.startswith(home.path) or (reach == "tree" and home.path.startswith(owner.path))


def expected(n: Network, route: str, persona: str, method: str) -> int:
    row = ROUTES[route]
    if (method, persona) in row.override:
        return row.override[(method, persona)]
    if method == "GET" and row.get is None:
        return 405
    ok = row.get if method == "GET" else row.post.ok  # type: ignore[union-attr]
    assert ok is not None
    if row.public:
        return ok
    if persona == "anon":
        return LOGIN
    role = ROLE[persona]
    if row.action is not None and role not in MATRIX[row.action]:
        return 403
    if row.owner and not reaches(n, persona, row.owner, row.reach):
        return 404
    if (
        row.needs is not None
        and (method == "POST" or route == "brand:upload")
        and role not in MATRIX[row.needs]
    ):
        return 403
    return ok


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for route, row in sorted(ROUTES.items()):
        if row.get is not None:
            cases += [(route, persona, "GET") for persona in PERSONAS]
        else:  # POST only: a GET answers 405 before any check
            cases.append((route, "store_a", "GET"))
        if row.post is not None:
            cases += [(route, persona, "POST") for persona in PERSONAS]
    return cases


CASES = _cases()
SENT: Counter[str] = Counter()


# -- one persona network for the whole module, each case rolled back --------------------------------


LETTER_SOURCE = """{# print: format=letter #}
<h1>{{ zones.headline }}</h1><p>{{ recipient.last_name }}, {{ store.name }}</p>"""
LETTER_ZONES = [{"key": "headline", "type": "short_text", "max_length": 60, "default": "Portes ouvertes"}]


def _checked_import(n: Network) -> tuple[dict[str, Any], int]:
    """A contact file uploaded as the import's first step leaves it (stored, previewed), and store A's
    import of it checked by a real dry run (the job the "Import now" button starts from)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from glocal.audience import importer
    from glocal.core import jobs

    data = importer.csv_bytes([["email", "last_name"], ["lea.durand@example.test", "Durand"]])
    name = default_storage.save("uploads/access-matrix.csv", ContentFile(data))
    found = importer.preview(name, "clients.csv")
    pending = {
        "upload": name,
        "filename": "clients.csv",
        "header": found.header,
        "samples": found.samples,
        "encoding": found.encoding,
    }
    job = jobs.enqueue(
        importer.JOB_KIND,
        scope=n.scope("store_a"),
        params={
            "upload": name,
            "filename": "clients.csv",
            "mapping": ["email", "last_name"],
            "wording": "",
            "dry_run": True,
            "language": "en",
        },
        by_user_id=n.users["store_a"].pk,
    )
    assert jobs.run_job(job.pk, "access-matrix")
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.result["ok"], job.error or job.result
    return pending, job.pk


def _pending_approval(n: Network, letter: Any) -> int:
    """Store A's campaign submitted under HQ's "regional" policy: its first step waits for the region."""
    from glocal.campaigns import services as campaign_services
    from glocal.campaigns.models import ApprovalStep, Campaign

    with activate(n.scope("hq_admin")):
        campaign_services.template_policy_set(template=letter, policy="regional")
    with activate(n.scope("store_a")):
        campaign = campaign_services.campaign_create(
            entity=n.store_a, template=letter, name="Lettre à valider"
        )
        campaign_services.campaign_update(
            campaign=campaign, scheduled_at=timezone.now() + dt.timedelta(days=10)
        )
        campaign_services.campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk))
    return ApprovalStep.unscoped.get(
        campaign=campaign, status=ApprovalStep.Status.PENDING, level="regional"
    ).pk


def proof_of_step(step_id: int) -> int:
    from glocal.campaigns.models import ApprovalStep

    return ApprovalStep.unscoped.get(pk=step_id).proof_id


def _direct_mail_batch(n: Network, letter: Any) -> int:
    """Store A's scheduled letter campaign with one postal recipient, its batch rendered by the job."""
    from glocal.audience.models import Contact, hash_value
    from glocal.campaigns.models import Campaign
    from glocal.core import jobs
    from glocal.delivery import printbatch

    store = n.store_a
    version = letter.published_version()
    campaign = Campaign.unscoped.create(
        organisation=n.org,
        entity=store,
        name="Lettre aux clients",
        version=version,
        values={"headline": "Portes ouvertes"},
        state="scheduled",
    )
    Contact.unscoped.create(
        organisation=n.org,
        owner=store,
        owner_path=store.path,
        first_name="Camille",
        last_name="Lettre",
        email="camille.lettre@example.test",
        email_hash=hash_value("camille.lettre@example.test"),
        address_line1="1 rue des Lilas",
        postcode="59000",
        city="Lille",
        consent_postal="opt_in",
    )
    with activate(n.scope("store_a")):
        job = printbatch.direct_mail_start(campaign=Campaign.objects.get(pk=campaign.pk))
    assert jobs.run_job(job.pk, "access-matrix")
    job.refresh_from_db()
    assert printbatch.batch_file(job), job.error
    return job.pk


def build_matrix_network() -> MatrixNetwork:
    from glocal.brand.models import Folder

    n = build_network()
    folders = {
        root.organisation_id: Folder.unscoped.create(
            organisation=root.organisation, entity=root, name="Head office's images"
        ).pk
        for root in (n.hq, n.other_hq)
    }
    pending, checked = _checked_import(n)
    letter = brand_factories.publish_template(n, n.hq, "print", LETTER_SOURCE, LETTER_ZONES)
    batch = _direct_mail_batch(n, letter)
    step = _pending_approval(n, letter)  # once the letter has a recipient: an empty audience is refused
    built = Built(folders, pending, checked, step, batch)
    return MatrixNetwork(**{f.name: getattr(n, f.name) for f in fields(Network)}, objects=built)


@dataclass
class World:
    network: MatrixNetwork
    sessions: dict[str, str]
    csrf: str


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, request) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """The persona network, built once; every test of this module runs in a savepoint inside this
    transaction (pytest-django's ``db``), rolled back at the end of each test and of the module."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            network = build_matrix_network()
            sessions = {}
            for persona in PERSONAS[1:]:
                c = Client()
                c.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
                session = c.session  # the contact file this persona uploaded (import step one)
                session[IMPORTS_SESSION_KEY] = {PENDING_IMPORT: network.objects.pending_import}
                session.save()
                sessions[persona] = c.cookies[django_settings.SESSION_COOKIE_NAME].value
            # the token a browser gets from any form page, in its csrftoken cookie
            csrf = Client().get(reverse("accounts:login")).cookies[django_settings.CSRF_COOKIE_NAME].value
            yield World(network, sessions, csrf)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and SENT:
        reporter.write_line(
            f"access matrix: {len(CASES)} (route, persona, method) cases; requests sent: "
            f"{dict(sorted(SENT.items()))}, total {sum(SENT.values())}"
        )


@pytest.fixture
def network(world: World, db) -> MatrixNetwork:  # type: ignore[no-untyped-def]
    """This module's tests share the module's network (conftest's would build one per test)."""
    return world.network


def client_as(world: World, persona: str) -> Client:
    c = Client(enforce_csrf_checks=True, HTTP_X_CSRFTOKEN=world.csrf)
    c.cookies[django_settings.CSRF_COOKIE_NAME] = world.csrf
    if persona != "anon":
        c.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[persona]
    return c


def _rows(cursor: Any, table: str) -> list[str]:
    cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (table names from introspection or models)
    return sorted(map(repr, cursor.fetchall()))


def db_state() -> dict[str, list[str]]:
    """Every row of every table: what a refused write must leave exactly as it was."""
    with connection.cursor() as cursor:
        return {table: _rows(cursor, table) for table in sorted(connection.introspection.table_names(cursor))}


def table_state(label: str) -> list[str]:
    """Every row of one model's table (``"app.Model"``)."""
    with connection.cursor() as cursor:
        return _rows(cursor, apps.get_model(label)._meta.db_table)


def send(c: Client, method: str, url: str, data: dict | None, post: Post | None):  # type: ignore[no-untyped-def]
    SENT[method] += 1
    if method == "GET":
        return c.get(url)
    assert post is not None and data is not None
    if post.content_type:
        return c.post(url, data, content_type=post.content_type)
    return c.post(url, data)


@pytest.mark.parametrize(("route", "persona", "method"), CASES)
def test_route_matrix(route, persona, method, world, network):
    row = ROUTES[route]
    kwargs = row.obj(network) if row.obj else {}
    url = reverse(route, kwargs=kwargs)
    want = expected(network, route, persona, method)
    refused = method == "POST" and (
        want in {401, 403, 404, 405} or (want == LOGIN and persona == "anon" and not row.public)
    )
    data = None
    if method == "POST":
        post = row.post
        assert post is not None
        data = post.data(network, persona, kwargs) if callable(post.data) else dict(post.data)
    before = db_state() if refused else None
    # an allowed POST that must write: the model it writes, checked below
    writes = row.post.writes if method == "POST" and row.post is not None and want == row.post.ok else ""
    written_before = table_state(writes) if writes and not refused else None
    audit = AuditEvent.unscoped.count()
    response = send(client_as(world, persona), method, url, data, row.post)
    assert response.status_code == want, f"{method} {route} as {persona}: {response.status_code} != {want}"
    if written_before is not None:
        assert table_state(writes) != written_before, (
            f"POST {route} as {persona}: {want}, but no {writes} written"
        )
    if want == LOGIN and persona == "anon" and not row.public:
        assert "/accounts/login/" in response["Location"]
    if refused:
        assert AuditEvent.unscoped.count() == audit, f"{route} as {persona}: refused, but audited"
        after = db_state()
        changed = sorted(t for t in after if after[t] != before[t])  # type: ignore[index]
        assert not changed, f"POST {route} as {persona} was refused ({want}) but changed {changed}"


def test_the_matrix_sends_every_case():
    """The case list is the product of the rows: every persona gets each route's GET (a single one for
    POST-only routes) and each POST."""
    gets = sum(len(PERSONAS) if r.get is not None else 1 for r in ROUTES.values())
    posts = sum(len(PERSONAS) for r in ROUTES.values() if r.post is not None)
    assert len(CASES) == gets + posts
    assert posts >= 9 * 70 and len(set(CASES)) == len(CASES)


def test_a_post_without_the_csrf_token_is_refused(world, network):
    c = Client(enforce_csrf_checks=True)
    c.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions["hq_admin"]
    before = db_state()
    response = c.post(reverse("network:group_create"), {"code": "pilot", "name": "Pilot"})
    assert response.status_code == 403 and db_state() == before
    # the same request with the token is accepted: the token, not something else, made the difference
    assert (
        client_as(world, "hq_admin")
        .post(reverse("network:group_create"), {"code": "pilot", "name": "Pilot"})
        .status_code
        == 302
    )
    assert EntityGroup.unscoped.filter(code="pilot").exists()


@pytest.mark.parametrize("route", sorted(r for r, row in ROUTES.items() if row.foreign))
def test_foreign_objects_answer_404_like_missing_ones(route, world, network):
    row = ROUTES[route]
    for persona in row.foreign_personas:
        c = client_as(world, persona)
        for build in row.foreign:
            url = reverse(route, kwargs=build(network))
            assert c.get(url).status_code == 404, f"{route} as {persona}: {url}"
            assert c.post(url, {"name": "Hacked", "role": "hq_admin"}).status_code == 404
        missing = reverse(route, kwargs={"pk": 987654321})
        assert c.get(missing).status_code == 404


# -- the Django admin (/ops/): platform operators only ---------------------------------------------


def _admin_urls() -> list[str]:
    from django.contrib import admin

    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return urls


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_is_for_platform_operators_only(persona, world, network):
    """No network user gets into the admin, whatever their role: every page and every add form answers
    a redirect to the admin's login, and a POST to an add form changes nothing."""
    c = client_as(world, persona)
    before = db_state()
    for url in _admin_urls():
        for method in ("GET", "POST"):
            SENT[method] += 1
            response = c.get(url) if method == "GET" else c.post(url, {"name": "Hacked", "slug": "hacked"})
            assert response.status_code == 302 and "/ops/login/" in response["Location"], f"{method} {url}"
    assert db_state() == before


def test_admin_lets_a_superuser_in(world, network):
    from glocal.accounts.models import User

    operator = User.objects.create_superuser("ops@example.test", "pw-correct-horse")
    assert operator.is_staff
    c = Client()
    c.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    urls = [u for u in _admin_urls() if not u.endswith("/add/")]  # some models are read-only there
    for url in urls:
        SENT["GET"] += 1
        assert c.get(url).status_code == 200, url
    assert len(urls) > 10


def _client_for(client, network: Network, persona: str):  # type: ignore[no-untyped-def]
    client.logout()
    if persona != "anon":
        client.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
    return client


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
    from glocal.core.roles import MATRIX, PERSONAL_DATA_ACTION, Role, sees_personal_data

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
