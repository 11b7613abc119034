"""Objects of a given store for the access matrix (tests/test_access_matrix.py) and this app's tests."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from glocal.targeting.models import ProspectList, ProspectRecord, Segment


def make_segment(entity_attr: str) -> Callable[[Any], dict]:
    def build(n: Any) -> dict:
        entity = getattr(n, entity_attr)
        segment = Segment.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            name=f"Segment of {entity.code}",
            criteria=[{"field": "city", "op": "eq", "value": "Lille"}],
        )
        return {"pk": segment.pk}

    return build


def make_prospect_list(entity_attr: str) -> Callable[[Any], dict]:
    def build(n: Any) -> dict:
        entity = getattr(n, entity_attr)
        plist = ProspectList.unscoped.create(
            organisation=entity.organisation,
            entity=entity,
            name=f"List of {entity.code}",
            campaign_ref="c-1",
            purge_after=datetime.date(2099, 1, 1),
            row_count=1,
        )
        ProspectRecord.unscoped.create(
            organisation=entity.organisation, prospect_list=plist, email=f"p{entity.pk}@example.test"
        )
        return {"pk": plist.pk}

    return build


def entity_of(attr: str) -> Callable[[Any], dict]:
    return lambda n: {"pk": getattr(n, attr).pk}
