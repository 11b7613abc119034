"""Denied writes on lead capture, segments and prospect lists leave no side effect."""

from __future__ import annotations

import pytest
from django.urls import reverse

from glocal.core.models import AuditEvent
from glocal.targeting import leads, segments
from glocal.targeting.models import (
    LeadCaptureSettings,
    LeadForm,
    ProspectList,
    ProspectRecord,
    Segment,
    SegmentPolicy,
)
from glocal.targeting.tests import factories


def _snapshot() -> dict:
    return {
        "forms": list(LeadForm.unscoped.order_by("pk").values_list("pk", "kiosk_token", "embed_token")),
        "settings": list(
            LeadCaptureSettings.unscoped.values_list("form_version", "sms_wording", "frame_ancestors")
        ),
        "segments": list(Segment.unscoped.order_by("pk").values_list("pk", "name", "criteria")),
        "policy": list(SegmentPolicy.unscoped.values_list("allowed_fields", "max_criteria")),
        "lists": list(ProspectList.unscoped.order_by("pk").values_list("pk", "status")),
        "records": ProspectRecord.unscoped.count(),
        "audit": AuditEvent.unscoped.count(),
    }


@pytest.mark.django_db
def test_denied_writes_change_nothing(client, network):
    for store in (network.store_a, network.store_b):
        leads.lead_form_for(store)
    leads.capture_settings(network.org.pk)
    segments.policy_for(network.org.pk)
    seg_a = factories.make_segment("store_a")(network)["pk"]
    list_a = factories.make_prospect_list("store_a")(network)["pk"]
    before = _snapshot()
    settings_data = {
        "form_version": "hacked",
        "email_wording": "x",
        "sms_wording": "x",
        "frame_ancestors": "https://evil.example",
        "min_fill_seconds": 0,
        "ip_limit_per_hour": 99999,
        "token_limit_per_hour": 99999,
    }
    segment_data = {"name": "Hacked", "field": ["kind"], "op": ["eq"], "value": ["customer"], "save": "1"}
    attempts = [
        ("store_b", "targeting:lead_regenerate", {"pk": network.store_a.pk}, {"kind": "kiosk"}),
        ("other_org", "targeting:lead_regenerate", {"pk": network.store_a.pk}, {"kind": "embed"}),
        ("staff_a", "targeting:lead_regenerate", {"pk": network.store_a.pk}, {"kind": "kiosk"}),
        ("store_a", "targeting:lead_settings", {}, settings_data),
        ("hq_marketer", "targeting:lead_settings", {}, settings_data),
        ("store_a", "targeting:segment_policy", {}, {"allowed_fields": ["kind"], "max_criteria": 12}),
        ("store_b", "targeting:segment", {"pk": seg_a}, segment_data),
        ("store_b", "targeting:segment_delete", {"pk": seg_a}, {}),
        ("other_org", "targeting:segment_delete", {"pk": seg_a}, {}),
        ("viewer", "targeting:segment_new", {}, segment_data),
        ("store_b", "targeting:prospect_purge", {"pk": list_a}, {}),
        ("staff_a", "targeting:prospect_purge", {"pk": list_a}, {}),
        ("other_org", "targeting:prospect_purge", {"pk": list_a}, {}),
        ("staff_a", "targeting:prospect_upload", {}, {"name": "x"}),
    ]
    for persona, route, kwargs, data in attempts:
        client.logout()
        client.force_login(network.users[persona], backend="django.contrib.auth.backends.ModelBackend")
        response = client.post(reverse(route, kwargs=kwargs), data)
        assert response.status_code in (403, 404), f"{persona} {route}: {response.status_code}"
    client.logout()
    assert _snapshot() == before
