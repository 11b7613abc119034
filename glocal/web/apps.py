from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages shell (the home pages): above targeting, below the demo. It reads every app through
    its selectors; no app imports it, and it registers nothing."""

    name = "glocal.web"
    label = "web"
    verbose_name = "Pages"
