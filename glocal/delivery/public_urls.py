"""Recipient endpoints with short paths (they are in every email): /u/ unsubscribe, /c/ click, /o/ open."""

from django.urls import path

from . import views

app_name = "recipient"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # RFC 8058 clients POST to the exact header URL: without its slash too (APPEND_SLASH cannot redirect a
    # POST — a 500 in DEBUG, a 301 the client does not follow otherwise), the same view answers.
    path("u/<str:token>", views.unsubscribe, name="unsubscribe_exact"),
    path("c/<str:token>", views.click, name="click"),
    path("o/<str:ref>.gif", views.open_pixel, name="open"),
]
