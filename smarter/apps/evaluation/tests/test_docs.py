"""docs/evaluation.md runs as written: its TestSuite manifest, then every command, curl and
`smarter`, in order, against the platform served on loopback, with the demo chatbot `make run`
seeds answering on the offline provider; the outputs it shows are the outputs it gets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.apps.account.selectors import caller_for_api_key
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.demo import seed_demo_resources
from smarter.apps.evaluation.models import EvalReview, EvalRun

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "evaluation.md"
RUN_ID = re.compile(r"\b([Rr]un) \d+")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def without_ids(text: str) -> str:
    """Run ids differ from one database to the next: the doc's and the test's are both left out."""
    return RUN_ID.sub(r"\1 N", text)


DECIMAL = re.compile(r"\d+\.\d+")
# An embedding's last digit depends on the CPU's arithmetic (bfloat16 where it has it): scores
# derived from one may differ by this much from the doc's, everything else must be the same.
SCORE_TOLERANCE = 0.0015


def assert_same_output(printed: str, shown: str) -> None:
    assert DECIMAL.split(without_ids(printed)) == DECIMAL.split(without_ids(shown))
    pairs = zip(DECIMAL.findall(printed), DECIMAL.findall(shown), strict=True)
    assert all(abs(float(got) - float(doc)) <= SCORE_TOLERANCE for got, doc in pairs), (printed, shown)


@pytest.fixture
def demo(smarter_settings: Any, owner: Persona, tmp_path: Path) -> Persona:
    smarter_settings.llm_provider = "offline"
    smarter_settings.plugin_data_dir = str(tmp_path / "plugin-data")
    smarter_settings.knowledge_dir = str(tmp_path / "knowledge")
    caller = caller_for_api_key(owner.key)
    assert caller is not None
    seed_demo_resources(caller)
    return owner


def test_every_documented_command_runs_as_written_and_prints_what_the_doc_shows(
    asgi_server: Any, demo: Persona, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl on PATH")
    suite, workflow = blocks("yaml")
    (tmp_path / "gobstopper_facts.yaml").write_text(suite, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    # `smarter` is this checkout's client (an installed one may be another checkout's).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "smarter").write_text(f'#!/bin/sh\nexec {sys.executable} -m smarter_cli "$@"\n')
    (bin_dir / "smarter").chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "cli"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "COLUMNS": "120",
        "SMARTER": asgi_server.url,
        "KEY": demo.key,
        "SMARTER_BASE_URL": asgi_server.url,
        "SMARTER_API_KEY": demo.key,
    }
    outputs = []
    for command in blocks("bash"):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        outputs.append(result.stdout)
        if "/runs/" in command and "-X POST" in command and "review" not in command:
            environment["RUN"] = str(json.loads(result.stdout)["data"]["id"])
        if '/runs/$RUN/"' in command:
            environment["RESULT"] = str(json.loads(result.stdout)["data"]["results"][0]["id"])
        if command.startswith("smarter eval") and "--wait" in command:
            environment["BASE"] = environment["RUN"]
            environment["HEAD"] = str(EvalRun.objects.order_by("-pk").values_list("pk", flat=True)[0])
    applied, started, read, listed, cli_run, reviewed, compared, cli_compare = outputs

    assert json.loads(applied)["data"]["applied"] == "created"
    assert json.loads(started)["data"]["status"] == "passed"  # tasks run in the web process here
    run = json.loads(read)["data"]
    assert (run["status"], run["passRate"], run["cases"], run["chatbot"]) == ("passed", 1.0, 3, "demo")
    assert [result["case"] for result in run["results"]] == ["price", "warranty", "cheap_courses"]
    assert [item["id"] for item in json.loads(listed)["data"]["items"]] == [run["id"]]
    shown_run, shown_compare = blocks("text")
    assert_same_output(cli_run, shown_run)
    review = json.loads(reviewed)["data"]
    assert (review["case"], review["reviews"]) == (
        "price",
        [{"rating": "good", "note": "Quotes both prices exactly.", "reviewer": demo.user.get_username()}],
    )
    assert EvalReview.objects.count() == 1
    comparison = json.loads(compared)["data"]
    assert (comparison["regressions"], comparison["improvements"]) == ([], [])
    assert_same_output(cli_compare, shown_compare)
    gate = yaml.safe_load(workflow)["jobs"]["evaluate"]["steps"][-1]["run"]
    assert gate == "smarter eval support_golden --wait --fail-under 0.8"
