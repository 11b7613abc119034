"""Demo step 6, targeting at work: an HQ segment, a store's own segment and a rented prospect list, each
used by one of the first store manager's campaigns (drafts a newcomer can open, simulate and submit)."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

from glocal.campaigns import services
from glocal.core.roles import Role
from glocal.core.scope import activate
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Membership, Organisation
from glocal.targeting import prospects, segments
from glocal.targeting.models import ProspectList

log = logging.getLogger(__name__)

RENTED_ROWS = 12  # a small, fixed list: deterministic and fast


def _at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _rented_csv(store_code: str) -> bytes:
    lines = ["email;first_name;last_name;postcode"]
    for i in range(RENTED_ROWS):
        lines.append(f"loc{i:02d}.{store_code.lower()}@example.test;Prénom{i};Nom{i};59000")
    return ("\n".join(lines) + "\n").encode()


def seed_targeting(org: Organisation) -> None:
    """Called by :func:`glocal.demo.seed.seed_demo` inside the HQ scope of ``org``."""
    email = ChannelTemplate.objects.filter(channel="email", status="published").order_by("pk").first()
    manager = (
        Membership.objects.filter(organisation=org, role=Role.LOCAL_MANAGER, is_active=True)
        .select_related("entity")
        .order_by("pk")
        .first()
    )
    if email is None or manager is None:
        return
    hq_segment = segments.segment_save(
        name="Clients fidèles", criteria=[{"field": "kind", "op": "eq", "value": "customer"}]
    )
    store = manager.entity
    body = {"headline": "Rien que pour vous", "body": "<p>Une attention de votre magasin.</p>"}
    try:
        with activate(manager.as_scope()):
            own = segments.segment_save(
                name="Mes prospects",
                criteria=[{"field": "kind", "op": "eq", "value": "prospect"}]
                + list(segments.policy_for(org.pk).required_criteria),
            )
            for name, criteria, days in (
                ("Merci à nos fidèles (segment du siège)", {"segment": hq_segment.pk}, 6),
                ("Découverte (mon segment)", {"segment": own.pk}, 8),
            ):
                campaign = services.campaign_create(entity=store, template=email, name=name)
                services.campaign_update(
                    campaign=campaign, values=body, criteria=criteria, scheduled_at=_at(days, 10)
                )
            rented = services.campaign_create(
                entity=store, template=email, name="Nouveaux voisins (liste louée)"
            )
            plist, _report = prospects.upload_list(
                entity=store,
                name="Fichier quartier",
                provider="Loc'Adresses",
                campaign_ref="",
                campaign=rented,
                purge_after=timezone.localdate() + dt.timedelta(days=45),
                data=_rented_csv(store.code),
                consent_basis=ProspectList.ConsentBasis.OPT_IN,
            )
            if plist is not None:
                services.campaign_update(
                    campaign=rented,
                    values=body,
                    criteria={"prospect_list": plist.pk},
                    scheduled_at=_at(10, 10),
                )
    except ValidationError:  # the demo must not fail on a rule someone tightened
        log.exception("demo targeting for %s", store)
