from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """Channels: a chatbot answering on WhatsApp and SMS through signed provider webhooks."""

    name = "smarter.apps.channels"
    label = "channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.channels.console import register_panels
        from smarter.apps.channels.manifests import register_kinds

        register_kinds()
        register_panels()
