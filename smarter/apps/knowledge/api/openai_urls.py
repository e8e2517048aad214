"""`/api/v1/openai/`: the knowledge app's part of the OpenAI-compatible endpoints (embeddings)."""

from django.urls import re_path

from smarter.apps.knowledge.api.embeddings import EmbeddingsView

urlpatterns = [
    re_path(r"^embeddings/?$", EmbeddingsView.as_view(), name="openai-embeddings"),
]
