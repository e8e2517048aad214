"""Admin pages: read-mostly views for the operator; changes go through manifests."""

from django.contrib import admin

from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection


@admin.register(Plugin)
class PluginAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "plugin_class", "updated_at")
    list_filter = ("plugin_class",)
    search_fields = ("name", "account__name")
    readonly_fields = ("account", "name", "plugin_class", "sql_connection", "api_connection", "knowledge_base")


@admin.register(SqlConnection)
class SqlConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "db_engine", "hostname", "database")
    search_fields = ("name", "account__name")
    readonly_fields = ("account", "name", "password")


@admin.register(ApiConnection)
class ApiConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "base_url", "auth_method")
    search_fields = ("name", "account__name")
    readonly_fields = ("account", "name", "api_key")
