from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    """Chatbots: configuration, branding, attached plugins, deployment and domains."""

    name = "smarter.apps.chatbot"
    label = "chatbot"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.chatbot import receivers
        from smarter.apps.chatbot.manifests import register_kinds

        register_kinds()
        receivers.connect()
