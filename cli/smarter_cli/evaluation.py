"""Running a chatbot's test suite and reading its verdict: what `smarter eval` does.

A run is started with one request (the server answers 202 at once) and settles later: the client
polls it until its status is final, then prints one line per case attempt and the pass rate.
The exit code is the gate a pipeline reads: 0 the run passed (or reached `--fail-under`), 1 it
did not, 2 some case errored (the platform could not ask or score it, so the run says nothing
about the chatbot's quality), as a usage error does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import MofNCompleteColumn, TimeElapsedColumn

from smarter_cli import output
from smarter_cli.client import SmarterClient
from smarter_cli.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE

FINISHED = ("passed", "failed", "error", "cancelled")
# An errored run exits as a usage error does: neither "good enough" nor "not good enough".
EXIT_ERRORED = EXIT_USAGE
RESULT_TITLES = [
    {"name": "case"},
    {"name": "attempt"},
    {"name": "passed"},
    {"name": "score"},
    {"name": "scores"},
    {"name": "detail"},
    {"name": "error"},
]
COMPARISON_TITLES = [{"name": "case"}, {"name": "base"}, {"name": "head"}, {"name": "delta"}, {"name": "change"}]


@dataclass(frozen=True)
class RunOptions:
    """What a new run pins beyond the suite's defaults; None leaves the server's choice."""

    chatbot_version: int | None = None
    model: str | None = None
    temperature: float | None = None
    repeat: int | None = None

    def body(self) -> dict[str, Any]:
        given = {
            "chatbotVersion": self.chatbot_version,
            "model": self.model,
            "temperature": self.temperature,
            "repeat": self.repeat,
        }
        return {key: value for key, value in given.items() if value is not None}

    @property
    def given(self) -> list[str]:
        flags = {
            "--chatbot-version": self.chatbot_version,
            "--model": self.model,
            "--temperature": self.temperature,
            "--repeat": self.repeat,
        }
        return [flag for flag, value in flags.items() if value is not None]


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    reason: str = ""  # why the gate is closed; empty when it is open


def finished(run: dict[str, Any]) -> bool:
    return str(run.get("status")) in FINISHED


def wait_until_finished(
    client: SmarterClient, suite: str, run: dict[str, Any], *, timeout: float, interval: float, console: Console
) -> tuple[dict[str, Any], bool]:
    """Poll the run until its status is final: the last reading, and False when the time ran out
    first. The bar counts case attempts asked (cases times repeat)."""
    deadline = time.monotonic() + timeout
    run_id = int(run["id"])
    with output.progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        task = progress.add_task(f"Running {suite}", total=None)
        while True:
            run = client.eval_run(suite, run_id)
            attempts = int(run.get("cases") or 0) * int(run.get("repeat") or 1)
            state = "Queued" if run.get("status") == "queued" else "Running"
            progress.update(
                task, total=attempts or None, completed=int(run.get("completed") or 0), description=f"{state} {suite}"
            )
            if finished(run):
                return run, True
            if time.monotonic() >= deadline:
                return run, False
            time.sleep(interval)


def verdict(run: dict[str, Any], fail_under: float | None) -> Verdict:
    """The gate: the run's own status, except that `fail_under`, when given, replaces the suite's
    threshold (a run that failed its threshold may still reach it, and the reverse)."""
    status = str(run.get("status"))
    pass_rate = run.get("passRate")
    if status == "error":
        errors = int(run.get("errors") or 0)
        cases = "case" if errors == 1 else "cases"
        return Verdict(
            EXIT_ERRORED,
            f"{errors} {cases} errored: the platform could not ask or score them (see the error column), "
            "so the run gives no verdict. Retry the run once the cause is fixed.",
        )
    if status == "cancelled":
        return Verdict(EXIT_REFUSED, "The run was cancelled before it finished.")
    if fail_under is not None:
        if isinstance(pass_rate, int | float) and pass_rate >= fail_under:
            return Verdict(EXIT_OK)
        return Verdict(EXIT_REFUSED, f"The pass rate {rate(pass_rate)} is below --fail-under {rate(fail_under)}.")
    if status == "passed":
        return Verdict(EXIT_OK)
    return Verdict(
        EXIT_REFUSED, f"The pass rate {rate(pass_rate)} is below the suite's threshold {rate(run.get('threshold'))}."
    )


# --- printing ----------------------------------------------------------------------------------


def rate(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def number(value: Any) -> str:
    """A score as read: at most three decimals, no trailing zeros (1, 0.5, 0.558)."""
    if not isinstance(value, int | float):
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def passed_word(passed: Any) -> str:
    return "error" if passed is None else ("yes" if passed else "no")


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def result_row(result: dict[str, Any]) -> dict[str, Any]:
    scores = mapping(result.get("scores"))
    details = mapping(result.get("details"))
    return {
        "case": result.get("case"),
        "attempt": result.get("attempt"),
        "passed": passed_word(result.get("passed")),
        "score": number(result.get("score")),
        "scores": ", ".join(f"{name} {number(value)}" for name, value in scores.items()),
        "detail": "; ".join(f"{name}: {text}" for name, text in details.items()),
        "error": result.get("error") or "",
    }


def summary(suite: str, run: dict[str, Any], fail_under: float | None) -> str:
    errors = int(run.get("errors") or 0)
    parts = [
        f"{run.get('passed') or 0} of {run.get('cases') or 0} cases passed",
        *([f"{errors} errored"] if errors else []),
    ]
    gauges = [f"pass rate {rate(run.get('passRate'))}", f"threshold {rate(run.get('threshold'))}"]
    if fail_under is not None:
        gauges.append(f"--fail-under {rate(fail_under)}")
    if isinstance(run.get("score"), int | float):
        gauges.append(f"score {number(run['score'])}")
    return f"Run {run.get('id')} of {suite}: {run.get('status')}. {', '.join(parts)} ({', '.join(gauges)})."


def print_run(suite: str, run: dict[str, Any], fail_under: float | None) -> None:
    results = [item for item in run.get("results") or [] if isinstance(item, dict)]
    output.print_table(RESULT_TITLES, [result_row(result) for result in results], thing="results")
    output.write(summary(suite, run, fail_under))


def outcome(side: Any) -> str:
    """A case's outcome in one run of a comparison: `passed 1`, `failed 0.5`, `error`, or absent."""
    if not isinstance(side, dict):
        return ""
    if side.get("passed") is None:
        return "error"
    word = "passed" if side["passed"] else "failed"
    return f"{word} {number(side.get('score'))}".rstrip()


def comparison_row(case: dict[str, Any]) -> dict[str, Any]:
    delta = case.get("scoreDelta")
    change = "regression" if case.get("regression") else ("improvement" if case.get("improvement") else "")
    return {
        "case": case.get("case"),
        "base": outcome(case.get("base")),
        "head": outcome(case.get("head")),
        "delta": f"{delta:+.3f}" if isinstance(delta, int | float) else "",
        "change": change,
    }


def print_comparison(suite: str, comparison: dict[str, Any]) -> None:
    cases = [case for case in comparison.get("cases") or [] if isinstance(case, dict)]
    output.print_table(COMPARISON_TITLES, [comparison_row(case) for case in cases], thing="cases")
    base, head = comparison.get("base") or {}, comparison.get("head") or {}
    output.write(
        f"Run {base.get('id')} → run {head.get('id')} of {suite}: pass rate {rate(base.get('passRate'))} → "
        f"{rate(head.get('passRate'))}, {counted(comparison.get('regressions'), 'regression')}, "
        f"{counted(comparison.get('improvements'), 'improvement')}."
    )


def counted(names: Any, word: str) -> str:
    names = names if isinstance(names, list) else []
    if not names:
        return f"no {word}s"
    return f"{len(names)} {word}{'' if len(names) == 1 else 's'} ({', '.join(str(name) for name in names)})"
