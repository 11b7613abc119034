"""Fixtures shared by the targeting tests: a clean shared cache (rate limits, form stamps), store A's
lead form, the local SMS gateway. The helpers they share (posting an entry, reading a texted code,
uploading a prospect list) are in ``helpers.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from conftest import Network
from glocal.delivery.tests import test_providers
from glocal.targeting import leads
from glocal.targeting.models import LeadForm

# The local SMS gateway (a real HTTP server on 127.0.0.1), for the tests whose entries are texted a code.
gateway = test_providers.gateway


@pytest.fixture
def fresh_cache(db: None) -> Iterator[None]:
    """The public forms' rate limits and render stamps live in the shared cache (the database's in the
    tests): each test starts and ends with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def store_form(network: Network) -> LeadForm:
    """Store A's kiosk and web form (made as the store page's "create" button makes them)."""
    return leads.lead_form_create(entity=network.store_a)[0]
