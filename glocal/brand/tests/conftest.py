from __future__ import annotations

import pytest

from glocal.brand.models import LibrarySettings
from glocal.creatives import rendering


@pytest.fixture(autouse=True)
def _fresh_render_caches():
    rendering.clear_caches()
    yield
    rendering.clear_caches()


@pytest.fixture
def local_uploads(network):
    """HQ allows stores to upload their own photos."""
    return LibrarySettings.unscoped.create(organisation=network.org, allow_local_uploads=True)
