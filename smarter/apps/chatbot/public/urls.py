"""The URLconf of a deployed chatbot's hosts (chosen per request by the host routing middleware)."""

from django.urls import re_path

from smarter.apps.chatbot.public import views

urlpatterns = [
    re_path(r"^$", views.page, name="public-page"),
    re_path(r"^config/?$", views.config, name="public-config"),
    re_path(r"^chat/?$", views.chat, name="public-chat"),
    re_path(r"^feedback/?$", views.feedback, name="public-feedback"),
    re_path(r"^widget\.js$", views.widget, name="public-widget"),
    # Any other address: the branded 404 (or the envelope), whether or not DEBUG is on.
    re_path(r"^", views.not_found),
]

handler400 = "smarter.apps.chatbot.public.views.bad_request"
handler404 = "smarter.apps.chatbot.public.views.not_found"
