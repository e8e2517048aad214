"""`/api/v1/knowledge/`: REST routes of the knowledge app."""

from django.urls import re_path

from smarter.apps.knowledge.api import views

# A knowledge base's name in a path (the manifest's rule for `metadata.name`).
KNOWLEDGE_BASE = r"(?P<name>[a-z][a-z0-9_]{0,49})"
DOCUMENT = r"(?P<document_id>[0-9]{1,18})"

urlpatterns = [
    re_path(rf"^{KNOWLEDGE_BASE}/documents/?$", views.DocumentsView.as_view(), name="knowledge-documents"),
    re_path(rf"^{KNOWLEDGE_BASE}/documents/{DOCUMENT}/?$", views.DocumentView.as_view(), name="knowledge-document"),
    re_path(rf"^{KNOWLEDGE_BASE}/search/?$", views.SearchView.as_view(), name="knowledge-search"),
]
