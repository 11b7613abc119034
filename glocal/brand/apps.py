from django.apps import AppConfig


class BrandConfig(AppConfig):
    name = "glocal.brand"
    label = "brand"
    verbose_name = "Brand"

    def ready(self) -> None:
        # The library plugs into creatives through its registrations (glocal.creatives.hooks): print
        # and social channels, image zones → library choices and asset URLs, the check of a store's
        # image choices before a personalisation is saved. Usage rows follow saves (brand.usage).
        from glocal.brand import printing, selectors, social, usage
        from glocal.creatives import hooks

        hooks.register_channel(
            "print",
            renderer=printing.render_print_channel,
            starter_source=printing.STARTER_SOURCE,
            starter_zones=printing.STARTER_ZONES,
        )
        hooks.register_channel(
            "social",
            renderer=social.render_social_channel,
            starter_source=social.STARTER_SOURCE,
            starter_zones=social.STARTER_ZONES,
        )
        hooks.register_image_library(
            hooks.ImageLibrary(url=usage.image_url, choices=usage.image_choices, info=usage.image_info)
        )
        hooks.register_personalisation_check(usage.check_personalisation)
        hooks.register_brand_kit(selectors.store_kit, selectors.KIT_FIELDS)
        usage.connect()
