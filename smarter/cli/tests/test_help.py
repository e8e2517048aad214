"""Every verb documents itself with an example; shell completion is available."""

from __future__ import annotations

import pytest

from smarter.cli.tests.conftest import RunCli

VERBS = [
    "configure",
    "apply",
    "get",
    "describe",
    "delete",
    "deploy",
    "undeploy",
    "logs",
    "manifest",
    "schema",
    "chat",
    "whoami",
    "status",
    "version",
]


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_has_help_with_an_example(run_cli: RunCli, verb: str) -> None:
    result = run_cli(verb, "--help")

    assert result.code == 0, result.stderr
    assert f"Usage: smarter {verb}" in result.stdout
    assert "Example" in result.stdout
    assert f"smarter {verb}" in result.stdout.split("Example", 1)[1]


def test_the_top_level_help_lists_every_verb(run_cli: RunCli) -> None:
    result = run_cli("--help")

    assert result.code == 0
    for verb in VERBS:
        assert f" {verb} " in result.stdout
    assert "--install-completion" in result.stdout


def test_completion_script_is_shown_for_bash(run_cli: RunCli) -> None:
    # Typer guesses the shell from the parent processes unless told not to; the test names it,
    # so the answer does not depend on what started the test run.
    result = run_cli("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")

    assert result.code == 0, result.stderr
    assert "_SMARTER_COMPLETE" in result.stdout


def test_kinds_complete(run_cli: RunCli) -> None:
    result = run_cli(_SMARTER_COMPLETE="complete_bash", COMP_WORDS="smarter get sec", COMP_CWORD="2")

    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["secret"]


def test_the_client_version_needs_no_server(run_cli: RunCli) -> None:
    result = run_cli("version", "--client")

    assert result.code == 0
    assert result.stdout.startswith("client: ")
