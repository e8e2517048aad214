from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The web console: login, management pages, usage charts, the sandbox."""

    name = "smarter.apps.dashboard"
    label = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
