"""Results pages, under /reports/."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("entity/<int:pk>/", views.entity, name="entity"),
    path("entity/<int:pk>/export.csv", views.export, name="export"),
    path("entity/<int:pk>/export.xlsx", views.export_xlsx, name="export_xlsx"),
    path("settings/", views.reporting_settings, name="settings"),
]
