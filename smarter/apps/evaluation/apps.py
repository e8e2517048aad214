from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """Evaluation suites: expected answers run against chatbot versions and models, scored."""

    name = "smarter.apps.evaluation"
    label = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.evaluation.manifests import register_kinds

        register_kinds()
