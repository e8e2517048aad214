from django.apps import AppConfig


class PluginConfig(AppConfig):
    """Plugins (static, sql, api), connections, selection and safe execution."""

    name = "smarter.apps.plugin"
    label = "plugin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.plugin.manifests import register_kinds

        register_kinds()
