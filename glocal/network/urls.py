from django.urls import path

from . import views

app_name = "network"
urlpatterns = [
    path("", views.tree, name="tree"),
    path("entities/<int:pk>/", views.entity_detail, name="entity"),
    path("entities/<int:pk>/edit/", views.entity_edit, name="entity_edit"),
    path("entities/<int:pk>/new/", views.entity_create, name="entity_create"),
    path("entities/<int:pk>/move/", views.entity_move, name="entity_move"),
    path("entities/<int:pk>/deactivate/", views.entity_deactivate, name="entity_deactivate"),
    path("groups/", views.group_list, name="groups"),
    path("groups/new/", views.group_edit, name="group_create"),
    path("groups/<int:pk>/", views.group_edit, name="group_edit"),
    path("settings/", views.network_settings, name="settings"),
    path("import/", views.network_import, name="import"),
]
