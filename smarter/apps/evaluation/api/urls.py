"""`/api/v1/evals/`: REST routes of the evaluation app."""

from django.urls import re_path

from smarter.apps.evaluation.api import views

# A suite's name in a path (the manifest's rule for `metadata.name`).
SUITE = r"(?P<name>[a-z][a-z0-9_]{0,49})"
RUN = r"(?P<run_id>[0-9]{1,18})"
RESULT = r"(?P<result_id>[0-9]{1,18})"

urlpatterns = [
    re_path(rf"^{SUITE}/runs/?$", views.RunsView.as_view(), name="eval-runs"),
    re_path(rf"^{SUITE}/runs/{RUN}/?$", views.RunView.as_view(), name="eval-run"),
    re_path(rf"^{SUITE}/runs/{RUN}/cancel/?$", views.RunCancelView.as_view(), name="eval-run-cancel"),
    re_path(rf"^{SUITE}/runs/{RUN}/retry/?$", views.RunRetryView.as_view(), name="eval-run-retry"),
    re_path(rf"^{SUITE}/runs/{RUN}/results/{RESULT}/review/?$", views.ReviewView.as_view(), name="eval-review"),
    re_path(rf"^{SUITE}/compare/?$", views.CompareView.as_view(), name="eval-compare"),
]
