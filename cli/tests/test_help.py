"""Every verb documents itself with an example; shell completion is available."""

from __future__ import annotations

import click
import pytest

from tests.conftest import RunCli


def words(text: str) -> str:
    """The help as read: Typer styles it when it believes it writes to a terminal (it does, for
    one, whenever GITHUB_ACTIONS is set in the test run's environment)."""
    return click.unstyle(text)


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
    "upload",
    "search",
    "eval",
    "whoami",
    "status",
    "version",
]


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_has_help_with_an_example(run_cli: RunCli, verb: str) -> None:
    result = run_cli(verb, "--help")
    shown = words(result.stdout)

    assert result.code == 0, result.stderr
    assert f"Usage: smarter {verb}" in shown
    assert "Example" in shown
    assert f"smarter {verb}" in shown.split("Example", 1)[1]


def test_the_top_level_help_lists_every_verb(run_cli: RunCli) -> None:
    result = run_cli("--help")
    shown = words(result.stdout)

    assert result.code == 0
    for verb in VERBS:
        assert f" {verb} " in shown
    assert "--install-completion" in shown


def test_completion_script_is_shown_for_bash(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer guesses the shell from the parent processes unless told not to; the test names it,
    # so the answer does not depend on what started the test run. Typer reads this switch when
    # it builds the command, before the run's own environment applies.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")

    result = run_cli("--show-completion", "bash")

    assert result.code == 0, result.stderr
    assert "_SMARTER_COMPLETE" in result.stdout


def test_kinds_complete(run_cli: RunCli) -> None:
    result = run_cli(_SMARTER_COMPLETE="complete_bash", COMP_WORDS="smarter get sec", COMP_CWORD="2")

    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["secret"]


def test_the_knowledge_kinds_complete(run_cli: RunCli) -> None:
    result = run_cli(_SMARTER_COMPLETE="complete_bash", COMP_WORDS="smarter describe know", COMP_CWORD="2")

    assert result.code == 0, result.stderr
    assert result.stdout.split() == ["knowledgebase", "knowledgeplugin"]


def test_the_client_version_needs_no_server(run_cli: RunCli) -> None:
    result = run_cli("version", "--client")

    assert result.code == 0
    assert result.stdout.startswith("client: ")
