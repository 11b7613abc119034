"""Routes of lead capture (public kiosk / web form / confirmation, settings), segments and external
prospect lists. Included once from config/urls.py at the site root; each route has its own prefix."""

from django.urls import path

from . import lead_views, prospect_views, segment_views

app_name = "targeting"
urlpatterns = [
    # public, addressed by unguessable tokens (no login)
    path("l/k/<str:token>/", lead_views.kiosk, name="kiosk"),
    path("l/f/<str:token>/", lead_views.embed, name="embed"),
    path("l/confirm/<str:token>/", lead_views.confirm, name="confirm"),
    path("l/sms/<str:token>/", lead_views.confirm_sms, name="confirm_sms"),
    # lead capture settings
    path("leads/", lead_views.lead_index, name="leads"),
    path("leads/settings/", lead_views.lead_settings, name="lead_settings"),
    path("leads/stores/<int:pk>/", lead_views.lead_store, name="lead_store"),
    path("leads/stores/<int:pk>/regenerate/", lead_views.lead_regenerate, name="lead_regenerate"),
    # segments
    path("segments/", segment_views.segment_list, name="segments"),
    path("segments/new/", segment_views.segment_new, name="segment_new"),
    path("segments/guardrails/", segment_views.segment_policy, name="segment_policy"),
    path("segments/builder/rows/", segment_views.segment_rows, name="segment_rows"),
    path("segments/builder/count/", segment_views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", segment_views.segment_edit, name="segment"),
    path("segments/<int:pk>/delete/", segment_views.segment_delete, name="segment_delete"),
    # external prospect lists
    path("prospect-lists/", prospect_views.prospect_lists, name="prospect_lists"),
    path("prospect-lists/upload/", prospect_views.prospect_upload, name="prospect_upload"),
    path("prospect-lists/<int:pk>/", prospect_views.prospect_list, name="prospect_list"),
    path("prospect-lists/<int:pk>/purge/", prospect_views.prospect_purge, name="prospect_purge"),
]
