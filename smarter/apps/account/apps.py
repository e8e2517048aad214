from django.apps import AppConfig


class AccountConfig(AppConfig):
    """Accounts (tenants), people and roles, API keys, secrets, the journal."""

    name = "smarter.apps.account"
    label = "account"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.account.manifests import register_kinds

        register_kinds()
