from django.urls import path

from . import views

app_name = "brand"
urlpatterns = [
    path("", views.library, name="library"),
    path("folders/new/", views.folder_create, name="folder_create"),
    path("upload/", views.upload, name="upload"),
    path("settings/", views.library_settings, name="settings"),
    path("kit/", views.kit, name="kit"),
    path("assets/<int:pk>/", views.asset_detail, name="asset"),
    path("assets/<int:pk>/version/", views.asset_version, name="asset_version"),
    path("assets/<int:pk>/file/", views.asset_file, name="file"),
    path("assets/<int:pk>/thumbnail/", views.asset_thumbnail, name="thumbnail"),
    path("p/<str:token>/", views.public_file, name="public"),
    path("print/<int:pk>/", views.print_pdf, name="print_pdf"),
    path("social/<int:pk>/", views.social_png, name="social_png"),
]
