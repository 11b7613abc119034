from django.urls import path

from . import views

app_name = "audience"
urlpatterns = [
    path("", views.contact_list, name="list"),
    path("count/", views.contact_count, name="count"),
    path("new/", views.contact_create, name="create"),
    path("<int:pk>/", views.contact_detail, name="contact"),
    path("<int:pk>/edit/", views.contact_edit, name="edit"),
    path("<int:pk>/consent/", views.contact_consent, name="consent"),
    path("<int:pk>/purchase/", views.contact_purchase, name="purchase"),
    path("<int:pk>/owner/", views.contact_assign, name="assign"),
    path("<int:pk>/export.json", views.contact_export, name="export"),
    path("<int:pk>/erase/", views.contact_erase, name="erase"),
    path("import/", views.import_upload, name="import"),
    path("import/<str:key>/mapping/", views.import_mapping, name="import_mapping"),
    path("import/jobs/<int:pk>/", views.import_job, name="import_job"),
    path("import/jobs/<int:pk>/run/", views.import_run, name="import_run"),
    path("import/jobs/<int:pk>/rows-to-fix.csv", views.import_rows_to_fix, name="import_rows_to_fix"),
    path("settings/", views.audience_settings, name="settings"),
    path("transfers/", views.transfer_log, name="transfers"),
]
