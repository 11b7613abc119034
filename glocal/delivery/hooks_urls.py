"""Provider webhooks (no login: each is authenticated by a bearer token or the provider's signature),
included at /hooks/. Twilio's StatusCallback URL is built by ``dispatch.sms_transport`` as
``GLOCAL_PUBLIC_URL + "/hooks/sms/twilio/status/"``."""

from django.urls import path

from . import hooks_views

app_name = "hooks"

urlpatterns = [
    path("sms/json/receipt/", hooks_views.sms_json_receipt, name="sms_json_receipt"),
    path("sms/json/inbound/", hooks_views.sms_json_inbound, name="sms_json_inbound"),
    path("sms/twilio/status/", hooks_views.sms_twilio_status, name="sms_twilio_status"),
    path("sms/twilio/inbound/", hooks_views.sms_twilio_inbound, name="sms_twilio_inbound"),
    path("email/bounce/", hooks_views.email_bounce, name="email_bounce"),
]
