from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """Results: rollups of the delivery engine's events, purchases and spend; attribution; dashboards.
    Read side only: it writes its own tables, never another app's."""

    name = "glocal.reporting"
    label = "reporting"
    verbose_name = "Reporting"

    def ready(self) -> None:
        # The campaign page's results panel is reporting's (campaigns never import it).
        from glocal.campaigns.results import RESULTS_PANELS

        from . import jobs  # noqa: F401  (registers the rollup job handler)
        from .panels import campaign_panel

        if campaign_panel not in RESULTS_PANELS:
            RESULTS_PANELS.append(campaign_panel)
