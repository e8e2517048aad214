"""`/api/v1/`: REST routes of the chat app: chat with a chatbot, and the OpenAI-compatible
endpoints (a chatbot as a model)."""

from django.urls import re_path

from smarter.apps.chat.api import openai, views
from smarter.apps.chatbot.api.urls import CHATBOT

urlpatterns = [
    re_path(rf"^chatbots/{CHATBOT}/chat/?$", views.chat, name="chatbot-chat"),
    re_path(rf"^chatbots/{CHATBOT}/config/?$", views.config, name="chatbot-config"),
    re_path(rf"^chatbots/{CHATBOT}/feedback/?$", views.feedback, name="chatbot-feedback"),
    re_path(r"^openai/chat/completions/?$", openai.chat_completions, name="openai-chat-completions"),
    re_path(r"^openai/models/?$", openai.models, name="openai-models"),
    re_path(r"^openai/models/(?P<name>[^/]+)/?$", openai.model, name="openai-model"),
    # Any other path under openai/ answers OpenAI's JSON 404 (the routes above come first).
    re_path(r"^openai(?:/(?P<rest>.*))?$", openai.unknown, name="openai-unknown"),
]
