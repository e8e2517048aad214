from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST door: /api/v1 cli endpoints, chat, usage. It routes to the apps' services."""

    name = "smarter.apps.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.api import checks, openapi  # noqa: F401  (registers checks and schemes)
        from smarter.lib.http import checks as http_checks  # noqa: F401  (the middleware's deploy checks)
