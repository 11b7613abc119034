"""The campaign page's results panel, drawn by a higher app (reporting) that registers a renderer here
from its ``AppConfig.ready``: campaigns never import it. A renderer takes the request and the campaign and
returns HTML (already escaped) or "" when it has nothing to show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Campaign

ResultsPanel = Callable[[Any, Campaign], str]
RESULTS_PANELS: list[ResultsPanel] = []
