"""Admin pages: read-only views for the operator; changes go through manifests and the API
(an edit here would skip ingestion and leave the index out of step)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from smarter.apps.knowledge.models import Document, KnowledgeBase


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(_ReadOnly):
    list_display = ("name", "account", "updated_at")
    search_fields = ("name", "account__company_name")


@admin.register(Document)
class DocumentAdmin(_ReadOnly):
    list_display = ("name", "knowledge_base", "account", "status", "progress", "chunks", "created_at")
    list_filter = ("status", "content_type", "source")
    search_fields = ("name", "knowledge_base__name", "account__company_name")
