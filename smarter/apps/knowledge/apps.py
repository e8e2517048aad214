from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    """Knowledge bases: documents, ingestion (parse, chunk, embed), the index and retrieval."""

    name = "smarter.apps.knowledge"
    label = "knowledge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.knowledge.manifests import register_kinds

        register_kinds()
