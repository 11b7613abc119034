"""HQ's marketing rules on segments: who sets the guardrails (``marketing.rules``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from glocal.core.scope import activate
from glocal.targeting import segments
from glocal.targeting.models import SegmentPolicy


def test_an_hq_marketer_sets_the_guardrails(login, network):
    client = login(network, "hq_marketer")
    assert client.get(reverse("targeting:segments")).content.count(b"/segments/guardrails/") == 1
    answer = client.post(
        reverse("targeting:segment_policy"),
        {"allowed_fields": ["city"], "allowed_operators": ["eq"], "max_criteria": "2"},
    )
    assert answer.status_code == 302
    policy = SegmentPolicy.unscoped.get()
    assert (policy.allowed_fields, policy.max_criteria) == (["city"], 2)


@pytest.mark.parametrize("persona", ["regional", "store_a", "viewer"])
def test_the_service_refuses_the_guardrails_to_others(network, persona):
    with activate(network.scope(persona)), pytest.raises(ValidationError, match="Only head office"):
        segments.policy_update(allowed_fields=["city"], allowed_operators=["eq"], max_criteria=12)
    assert not SegmentPolicy.unscoped.exists()
