from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chat sessions, messages, tool calls, LLM providers and the one turn pipeline."""

    name = "smarter.apps.chat"
    label = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.chat.manifests import register_kinds

        register_kinds()
