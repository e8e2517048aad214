"""How the evaluation pages show a run's status, a pass rate and a case's outcome."""

from __future__ import annotations

from django import template

register = template.Library()

# A run's status as a pill: green passed, red failed, amber when some case could not be answered.
_RUN_PILLS = {"passed": "ok", "failed": "bad", "error": "warn"}


@register.filter
def run_pill(status: str) -> str:
    return _RUN_PILLS.get(status, "")


@register.filter
def percent(share: float | None) -> str:
    """0.8 → "80%"; a run with nothing scored has no pass rate: "—"."""
    return "—" if share is None else f"{share * 100:.0f}%"


@register.filter
def outcome(passed: bool | None) -> str:
    """A case's outcome in words: an errored case (None) was not scored, which is not a failure."""
    return {True: "Passed", False: "Failed"}.get(passed, "Error")  # type: ignore[arg-type]


@register.filter
def outcome_pill(passed: bool | None) -> str:
    return {True: "ok", False: "bad"}.get(passed, "warn")  # type: ignore[arg-type]


@register.filter
def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
