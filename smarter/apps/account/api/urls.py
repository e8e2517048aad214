"""`/api/v1/`: REST routes of the account app (its journal and its usage)."""

from django.urls import re_path

from smarter.apps.account.api.journal import JournalView
from smarter.apps.account.api.usage import UsageView

urlpatterns = [
    re_path(r"^journal/?$", JournalView.as_view(), name="api-journal"),
    re_path(r"^usage/?$", UsageView.as_view(), name="api-usage"),
]
