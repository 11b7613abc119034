from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import translation

from glocal.core.scope import activate
from glocal.creatives import rendering, services
from glocal.creatives.models import Channel, ChannelTemplate, CreativeSettings
from glocal.demo import creatives as demo


@dataclass
class Templates:
    email: ChannelTemplate
    sms: ChannelTemplate


@pytest.fixture(autouse=True)
def _fresh_render_caches():
    rendering.clear_caches()
    yield
    rendering.clear_caches()


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request with a French cookie leaves French active in the thread: reset it."""
    yield
    translation.deactivate()


def publish_demo(network) -> Templates:
    with activate(network.scope("hq_admin")):
        CreativeSettings.objects.create(
            organisation=network.org, sms_advertiser="Maison Test", restricted_patterns=["gratuit"]
        )
        email = services.template_create(channel=Channel.EMAIL, name="Lettre", entity=network.hq)
        services.version_save(
            template=email,
            source=demo.DEMO_EMAIL_MJML,
            zones_data=demo.DEMO_EMAIL_ZONES,
            subject="{{ zones.headline }} — {{ store.name }}",
            preheader="Bonjour {{ recipient.first_name|fallback('cher client') }}",
            text=demo.DEMO_EMAIL_TEXT,
        )
        services.version_publish(template=email)
        sms = services.template_create(channel=Channel.SMS, name="SMS", entity=network.hq)
        services.version_save(template=sms, source=demo.DEMO_SMS, zones_data=demo.DEMO_SMS_ZONES)
        services.version_publish(template=sms)
    return Templates(email=email, sms=sms)


@pytest.fixture
def templates(network) -> Templates:
    return publish_demo(network)
