from django.urls import path

from . import views

app_name = "creatives"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_create, name="create"),
    path("settings/", views.creative_settings, name="settings"),
    path("blocks/", views.saved_blocks, name="saved_blocks"),
    path("blocks/new/", views.saved_block_create, name="saved_block_create"),
    path("blocks/<int:pk>/delete/", views.saved_block_delete, name="saved_block_delete"),
    path("<int:pk>/", views.template_detail, name="detail"),
    path("<int:pk>/edit/", views.template_edit, name="edit"),
    path("<int:pk>/draft-preview/", views.draft_preview, name="draft_preview"),
    path("<int:pk>/publish/", views.template_publish, name="publish"),
    path("<int:pk>/archive/", views.template_archive, name="archive"),
    path("<int:pk>/versions/<int:number>/restore/", views.version_restore, name="restore"),
    path("<int:pk>/personalise/", views.personalise, name="personalise"),
    path("<int:pk>/preview/", views.preview, name="preview"),
    path("personalisations/<int:pk>/", views.personalisation, name="personalisation"),
]
