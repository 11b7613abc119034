from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "glocal.accounts"
    label = "accounts"
    verbose_name = "Accounts"
