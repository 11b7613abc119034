"""Recipient endpoints with short paths (they are in every email): /u/ unsubscribe, /c/ click, /o/ open."""

from django.urls import path

from . import views

app_name = "recipient"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("c/<str:token>", views.click, name="click"),
    path("o/<str:ref>.gif", views.open_pixel, name="open"),
]
