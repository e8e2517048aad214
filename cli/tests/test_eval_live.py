"""`smarter eval` against the live server: runs of real suites asked through the turn pipeline
on the offline provider and scored, and the exit code a pipeline gates on (0 passed, 1 failed
or refused, 2 errored or a usage error, 3 unreachable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.apps.evaluation.models import EvalRun
from tests.conftest import MANIFESTS, LiveServer, RunCli

CHATBOT_KINDS = MANIFESTS / "chatbot_kinds"
EVAL_KINDS = MANIFESTS / "eval_kinds"
HEADINGS = ["CASE", "ATTEMPT", "PASSED", "SCORE", "SCORES", "DETAIL", "ERROR"]


@pytest.fixture
def suites(as_owner: RunCli) -> RunCli:
    """The candy_shop chatbot, its plugins, and the suites candy_golden and candy_strict."""
    for directory in (CHATBOT_KINDS, EVAL_KINDS):
        result = as_owner("apply", "-f", str(directory))
        assert result.code == 0, result.stderr
    return as_owner


def rows(stdout: str) -> list[list[str]]:
    """The results table's rows, heading and rule left out, split at runs of two spaces or more."""
    table = [line for line in stdout.splitlines() if not line.startswith("Run ")]
    assert table[0].split() == HEADINGS
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in table[2:]]


def last_run() -> EvalRun:
    run = EvalRun.objects.order_by("-pk").first()
    assert run is not None
    return run


def test_a_run_that_reaches_its_threshold_exits_0_with_a_line_per_case(suites: RunCli) -> None:
    result = suites("eval", "candy_golden", "--wait")

    assert (result.code, result.stderr) == (0, "")
    assert rows(result.stdout) == [
        ["price", "1", "yes", "1", "contains 1, tools 1"],
        ["cheap_courses", "1", "yes", "1", "contains 1, tools 1"],
        ["inventor", "1", "no", "0", "contains 0", "contains: missing 'Charlie Bucket'"],
    ]
    run = last_run()
    assert result.out_lines[-1] == (
        f"Run {run.pk} of candy_golden: passed. 2 of 3 cases passed (pass rate 0.67, threshold 0.60, score 0.667)."
    )
    assert (run.status, run.provider, run.model, run.repeat) == ("passed", "offline", "smarter-offline", 1)


def test_a_pass_rate_under_fail_under_exits_1(suites: RunCli) -> None:
    result = suites("eval", "candy_golden", "--wait", "--fail-under", "0.8")

    assert result.code == 1
    assert result.stderr == "The pass rate 0.67 is below --fail-under 0.80.\n"
    assert result.out_lines[-1].endswith("(pass rate 0.67, threshold 0.60, --fail-under 0.80, score 0.667).")
    assert last_run().status == "passed"  # the suite's own verdict is unchanged


def test_a_run_under_the_suites_threshold_exits_1_unless_fail_under_is_met(suites: RunCli) -> None:
    strict = suites("eval", "candy_strict", "--wait")
    lenient = suites("eval", "candy_strict", "--wait", "--fail-under", "0.6")

    assert strict.code == 1
    assert strict.stderr == "The pass rate 0.67 is below the suite's threshold 1.00.\n"
    assert strict.out_lines[-1].startswith("Run ") and ": failed. 2 of 3 cases passed" in strict.out_lines[-1]
    # --fail-under replaces the suite's threshold for the exit code only.
    assert (lenient.code, lenient.stderr) == (0, "")
    assert ": failed. 2 of 3 cases passed" in lenient.out_lines[-1]


def test_repeat_temperature_and_model_are_pinned_and_json_is_the_whole_run(suites: RunCli) -> None:
    result = suites(
        "eval",
        "candy_golden",
        "--wait",
        "--repeat",
        "2",
        "--temperature",
        "0.3",
        "--model",
        "smarter-offline",
        "--json",
    )

    assert (result.code, result.stderr) == (0, "")
    run = json.loads(result.stdout)
    assert (run["status"], run["repeat"], run["temperature"], run["model"]) == ("passed", 2, 0.3, "smarter-offline")
    assert (run["cases"], run["completed"], run["passed"], run["failed"], run["errors"]) == (3, 6, 2, 1, 0)
    assert sorted((item["case"], item["attempt"], item["passed"]) for item in run["results"]) == [
        ("cheap_courses", 1, True),
        ("cheap_courses", 2, True),
        ("inventor", 1, False),
        ("inventor", 2, False),
        ("price", 1, True),
        ("price", 2, True),
    ]


PLAIN_CHATBOT = """\
apiVersion: smarter.sh/v1
kind: Chatbot
metadata: {name: plain_shop}
spec:
  config: {defaultSystemRole: You sell candy.}
  plugins: []
  functions: []
---
apiVersion: smarter.sh/v1
kind: TestSuite
metadata: {name: plain_golden}
spec:
  chatbot: plain_shop
  cases:
    - {name: greets, prompt: Hello!, mustNotContain: [I cannot help]}
    - {name: thanks, prompt: Thank you!, mustNotContain: [I cannot help]}
"""


def test_a_run_whose_cases_errored_exits_2_and_shows_each_error(
    as_owner: RunCli, smarter_settings: Any, closed_port: int, tmp_path: Path
) -> None:
    # The chatbot names no provider: the platform's, here an OpenAI-compatible server that is down.
    smarter_settings.llm_provider = "openai"
    smarter_settings.openai_base_url = f"http://127.0.0.1:{closed_port}/v1"
    smarter_settings.openai_api_key = "sk-platform"
    smarter_settings.allow_private_hosts = True
    (tmp_path / "plain.yaml").write_text(PLAIN_CHATBOT)
    assert as_owner("apply", "-f", str(tmp_path / "plain.yaml")).code == 0

    result = as_owner("eval", "plain_golden", "--wait", "--fail-under", "0")

    assert result.code == 2
    assert result.stderr == (
        "2 cases errored: the platform could not ask or score them (see the error column), so the run gives no "
        "verdict. Retry the run once the cause is fixed.\n"
    )
    errors = {row[0]: row for row in rows(result.stdout)}
    assert sorted(errors) == ["greets", "thanks"]
    for row in errors.values():
        assert row[1:3] == ["1", "error"]
        assert row[3].startswith("502 "), row
    assert (
        ": error. 0 of 2 cases passed, 2 errored (pass rate -, threshold 0.80, --fail-under 0.00)."
        in (result.out_lines[-1])
    )


def without_plugin(tmp_path: Path, plugin: str) -> Path:
    """chatbot_kinds' chatbot without one of its plugins: a new version of the chatbot."""
    documents = yaml.safe_load_all((CHATBOT_KINDS / "bot.yaml").read_text())
    manifest = next(document for document in documents if document["kind"] == "Chatbot")
    manifest["spec"]["plugins"].remove(plugin)
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_compare_shows_a_regression_and_exits_1_and_a_pinned_chatbot_version_brings_it_back(
    suites: RunCli, tmp_path: Path
) -> None:
    assert suites("eval", "candy_golden", "--wait").code == 0
    base = last_run().pk
    assert suites("apply", "-f", str(without_plugin(tmp_path, "gobstopper_facts"))).code == 0
    assert suites("eval", "candy_golden", "--wait").code == 1  # 1 of 3: under the threshold
    head = last_run().pk

    compared = suites("eval", "candy_golden", "--compare", str(base), str(head))

    assert compared.code == 1
    assert compared.stderr == "1 of 3 cases regressed.\n"
    assert compared.out_lines[0].split() == ["CASE", "BASE", "HEAD", "DELTA", "CHANGE"]
    assert [line.split() for line in compared.out_lines[2:-1]] == [
        ["price", "passed", "1", "failed", "0", "-1.000", "regression"],
        ["cheap_courses", "passed", "1", "passed", "1", "+0.000"],
        ["inventor", "failed", "0", "failed", "0", "+0.000"],
    ]
    assert compared.out_lines[-1] == (
        f"Run {base} → run {head} of candy_golden: pass rate 0.67 → 0.33, 1 regression (price), no improvements."
    )

    pinned = suites("eval", "candy_golden", "--wait", "--chatbot-version", "1")
    back = suites("eval", "candy_golden", "--compare", str(head), str(last_run().pk), "--json")

    assert pinned.code == 0, pinned.stderr
    assert last_run().chatbot_version == 1
    assert (back.code, back.stderr) == (0, "")
    comparison = json.loads(back.stdout)
    assert (comparison["regressions"], comparison["improvements"]) == ([], ["price"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fail-under", "1.5"], "Invalid value for '--fail-under'"),
        (["--repeat", "11"], "Invalid value for '--repeat'"),
        (["--compare", "1"], "Option '--compare' requires 2 arguments"),
        (
            ["--compare", "1", "2", "--repeat", "2"],
            "Error: --compare reads two runs already made: it takes no --repeat.",
        ),
        (["--run", "1", "--model", "gpt-4o"], "Error: --run reads a run already started: it takes no --model."),
    ],
)
def test_a_usage_error_exits_2_and_starts_nothing(suites: RunCli, arguments: list[str], message: str) -> None:
    result = suites("eval", "candy_golden", *arguments)

    assert (result.code, result.stdout) == (2, "")
    assert message in result.stderr
    assert EvalRun.objects.count() == 0


def test_a_suite_of_another_account_is_not_found_and_exits_1(
    suites: RunCli, run_cli: RunCli, server: LiveServer
) -> None:
    result = run_cli("eval", "candy_golden", "--wait", SMARTER_BASE_URL=server.url, SMARTER_API_KEY=server.outsider.key)

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error: TestSuite 'candy_golden' was not found in your account.\n"
    assert EvalRun.objects.count() == 0


def test_an_unreachable_server_exits_3(run_cli: RunCli, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"

    result = run_cli("eval", "candy_golden", "--wait", SMARTER_BASE_URL=url, SMARTER_API_KEY="any-key")

    assert (result.code, result.stdout) == (3, "")
    assert result.stderr == f"Error: Cannot reach the server at {url}: Connection refused.\n"
