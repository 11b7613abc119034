from django.apps import AppConfig


class BrandConfig(AppConfig):
    name = "glocal.brand"
    label = "brand"
    verbose_name = "Brand"

    def ready(self) -> None:
        # Print and social renderers join the creatives' channel → renderer mapping.
        from glocal.brand import printing, social, usage
        from glocal.creatives import rendering

        rendering.RENDERERS.setdefault("print", printing.render_print_channel)
        rendering.RENDERERS.setdefault("social", social.render_social_channel)
        rendering.image_url = usage.image_url
        usage.connect()

        from glocal.creatives import forms as creative_forms
        from glocal.creatives import services as creative_services

        if hasattr(creative_forms, "image_choices"):
            creative_forms.image_choices = usage.image_choices  # image zones pick from the library
        creative_services.STARTER_SOURCE.setdefault("print", printing.STARTER_SOURCE)
        creative_services.STARTER_ZONES.setdefault("print", printing.STARTER_ZONES)
        creative_services.STARTER_SOURCE.setdefault("social", social.STARTER_SOURCE)
        creative_services.STARTER_ZONES.setdefault("social", social.STARTER_ZONES)

        from glocal.brand.seed import seed_brand
        from glocal.network.seed import SEED_EXTENSIONS

        if seed_brand not in SEED_EXTENSIONS:
            SEED_EXTENSIONS.append(seed_brand)
