from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    """Chatbots: configuration, branding, attached plugins, deployment and domains."""

    name = "smarter.apps.chatbot"
    label = "chatbot"
    default_auto_field = "django.db.models.BigAutoField"
