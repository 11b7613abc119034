"""The store's delivery pages, under /delivery/ (the recipient endpoints are in ``public_urls``)."""

from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("messages/", views.messages, name="messages"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("campaigns/<int:pk>/", views.campaign_report, name="campaign"),
    path("settings/", views.delivery_settings, name="settings"),
    path("window/", views.sending_window, name="window"),
    path("templates/<int:pk>/test-send/", views.template_test_send, name="template_test_send"),
]
