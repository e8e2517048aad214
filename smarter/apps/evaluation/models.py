"""Test suites (versioned on every change), their runs, each case's result, and reviews.

A run pins what it ran: the suite's version, the chatbot's version number and configuration
hash, the provider, model and temperature, and how many times each case was asked (`repeat`).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import models

from smarter.apps.account.models import Account, TimestampedModel
from smarter.apps.chatbot.models import Chatbot


class TestSuite(TimestampedModel):
    __test__ = False  # a model, not a pytest class

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="test_suites")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="test_suites")
    threshold = models.FloatField(default=0.8, help_text="share of cases that must pass")
    # The spec's cases, as applied (camelCase JSON); each change is also a TestSuiteVersion.
    cases = models.JSONField(default=list)
    judge = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="testsuite_unique_name")]

    def __str__(self) -> str:
        return self.name


class TestSuiteVersion(models.Model):
    __test__ = False

    suite = models.ForeignKey(TestSuite, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["suite_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["suite", "number"], name="testsuiteversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.suite_id} v{self.number}"


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"  # every case answered and scored; the pass rate is below the threshold
    ERROR = "error"  # some case could not be answered (upstream down, time out): not a score of 0
    CANCELLED = "cancelled"


FINISHED = (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR, RunStatus.CANCELLED)


class EvalRun(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="eval_runs")
    suite = models.ForeignKey(TestSuite, on_delete=models.CASCADE, related_name="runs")
    suite_version = models.ForeignKey(TestSuiteVersion, on_delete=models.PROTECT, related_name="runs")
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="eval_runs")
    chatbot_version = models.PositiveIntegerField(null=True, blank=True)
    config_hash = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=255, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    repeat = models.PositiveSmallIntegerField(default=1)
    threshold = models.FloatField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    cases = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0, help_text="case attempts answered or errored so far")
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    pass_rate = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "suite", "-created_at"], name="evalrun_recent")]

    def __str__(self) -> str:
        return f"run {self.pk} of suite {self.suite_id}"


class EvalResult(models.Model):
    """One attempt at one case (a run with `repeat` k has k per case)."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    case = models.CharField(max_length=100)
    position = models.PositiveIntegerField(help_text="the case's place in the suite")
    attempt = models.PositiveSmallIntegerField(default=1)
    passed = models.BooleanField(null=True, help_text="None: errored, not scored")
    score = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict)
    details = models.JSONField(default=dict)
    # Per sampling scorer (the judge), each sample's score: {"judge": [0.8, 0.6, 0.7]}.
    samples = models.JSONField(default=dict, blank=True)
    answer = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list)
    error = models.CharField(max_length=2000, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "position", "attempt"]
        constraints = [models.UniqueConstraint(fields=["run", "position", "attempt"], name="evalresult_unique_attempt")]

    def __str__(self) -> str:
        return f"{self.case} #{self.attempt}"


class Rating(models.TextChoices):
    """A reviewer's verdict on an answer, worst to best."""

    HALLUCINATING = "hallucinating"
    WRONG = "wrong"
    INCOMPLETE = "incomplete"
    ACCEPTABLE = "acceptable"
    GOOD = "good"
    EXCELLENT = "excellent"


class EvalReview(models.Model):
    result = models.ForeignKey(EvalResult, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    rating = models.CharField(max_length=16, choices=Rating.choices)
    note = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["result", "reviewer"], name="evalreview_one_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.rating} on result {self.result_id}"
