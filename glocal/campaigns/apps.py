from typing import cast

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "glocal.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from glocal.core.models import ACTION_LABELS

        from . import jobs  # noqa: F401  (register job handlers)

        # Lazy strings, shown in the reader's language (the dict is typed str: they behave as str).
        ACTION_LABELS.update(
            cast(
                dict[str, str],
                {
                    "campaign.create": _("created a campaign"),
                    "campaign.edit": _("edited a campaign"),
                    "campaign.submit": _("submitted a campaign"),
                    "campaign.approve": _("approved a campaign"),
                    "campaign.request_changes": _("requested changes to a campaign"),
                    "campaign.schedule": _("scheduled a campaign"),
                    "campaign.cancel": _("cancelled a campaign"),
                    "operation.create": _("created an operation"),
                    "operation.publish": _("published an operation"),
                    "operation.cancel": _("cancelled an operation"),
                    "operation.subscribe": _("took part in an operation"),
                    "operation.opt_out": _("opted out of an operation"),
                    "budget.save": _("saved a budget"),
                    "budget.close": _("closed a budget"),
                },
            )
        )
