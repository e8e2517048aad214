"""Admin pages: read-only views for the operator; changes go through manifests and the API
(an edit here would skip ingestion and leave the index out of step)."""

from django.contrib import admin

from smarter.apps.knowledge.models import Document, KnowledgeBase
from smarter.lib.admin import ReadOnlyAdmin


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "updated_at")
    search_fields = ("name", "account__company_name")


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("name", "knowledge_base", "account", "status", "progress", "chunks", "created_at")
    list_filter = ("status", "content_type", "source")
    search_fields = ("name", "knowledge_base__name", "account__company_name")
