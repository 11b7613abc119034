"""Print and social URLs (app namespace ``print``), included by the project at ``delivery/print/``."""

from django.urls import path

from . import print_views

app_name = "print"

urlpatterns = [
    path("kit/", print_views.kit_home, name="kit"),
    path("stores/<int:pk>/", print_views.store_kit, name="store_kit"),
    path("stores/<int:pk>/print-kit.zip", print_views.print_kit_zip, name="print_kit_zip"),
    path("stores/<int:pk>/social.zip", print_views.social_zip, name="social_zip"),
    path("campaigns/<int:pk>/direct-mail/", print_views.direct_mail, name="direct_mail"),
    path("campaigns/<int:pk>/direct-mail/start/", print_views.direct_mail_start, name="direct_mail_start"),
    path("direct-mail/<int:pk>/download/", print_views.direct_mail_download, name="direct_mail_download"),
]
