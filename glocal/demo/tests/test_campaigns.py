"""The demo's campaigns step (run after the templates' and the contacts' steps)."""

import pytest
from django.utils import timezone

from glocal.campaigns.models import Campaign, LedgerEntry, Operation, OperationWave
from glocal.campaigns.states import State
from glocal.campaigns.tests.conftest import contacts, templates  # noqa: F401  (fixtures)
from glocal.core.scope import activate
from glocal.demo.campaigns import seed_campaigns

pytestmark = pytest.mark.django_db


def test_demo_has_the_wine_fair_and_local_campaigns(network, templates, contacts):  # noqa: F811
    with activate(network.scope("hq_admin")):
        seed_campaigns(network.org)
    op = Operation.unscoped.get(organisation=network.org, name="Foire aux vins")
    assert op.status == Operation.Status.PUBLISHED
    assert OperationWave.unscoped.filter(operation=op).count() == 2
    campaigns = Campaign.unscoped.filter(organisation=network.org)
    assert campaigns.filter(operation=op).count() == 6  # 3 stores × 2 waves, automatic mode
    assert campaigns.filter(operation=op, state=State.SUBMITTED).count() == 1  # store A's teaser
    local = dict(campaigns.filter(kind="local").values_list("name", "state"))
    assert local == {
        "Réouverture après travaux": State.SCHEDULED,
        "Week-end ensoleillé": State.DRAFT,
        "Bienvenue chez nous": State.SCHEDULED,  # approved by the region and due: sent at the demo's start
    }
    welcome = campaigns.get(name="Bienvenue chez nous")
    assert welcome.scheduled_at is not None and welcome.scheduled_at <= timezone.now()
    reopening = campaigns.get(name="Réouverture après travaux")
    assert reopening.estimated_recipients == 5  # customers of store A with consent
    assert LedgerEntry.unscoped.filter(campaign=reopening, kind="commit").count() == 1
