"""Operators read channels and their traffic here; changes go through the manifests."""

from django.contrib import admin

from smarter.apps.channels.models import Channel, Contact, InboundMessage, Reply
from smarter.lib.admin import ReadOnlyAdmin


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "chatbot", "type", "public_id", "updated_at")
    list_filter = ("type",)
    search_fields = ("name", "account__company_name")


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("sender", "channel", "opted_out", "last_inbound_at")
    list_filter = ("opted_out",)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("provider_message_id", "channel", "sender", "kind", "status", "received_at")
    list_filter = ("status", "kind")
    search_fields = ("provider_message_id", "sender")


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    list_display = ("inbound", "part", "recipient", "status", "attempts", "error_code", "updated_at")
    list_filter = ("status",)
