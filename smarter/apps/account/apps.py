from django.apps import AppConfig


class AccountConfig(AppConfig):
    """Accounts (tenants), people and roles, API keys, secrets, the journal."""

    name = "smarter.apps.account"
    label = "account"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The platform's Celery app must exist before any task is called or enqueued; this is
        # the first of our apps to start.
        import smarter.celery  # noqa: F401
        from smarter.apps.account.billing.metrics import outbox_collect
        from smarter.apps.account.manifests import register_kinds
        from smarter.lib.metrics import scrape_collector

        register_kinds()
        scrape_collector(outbox_collect)
