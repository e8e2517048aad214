"""`smarter configure` and the precedence of flags over environment over the config file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from smarter_cli.main import hoist_global_options
from tests.conftest import LiveServer, RunCli, cli_command, cli_environment


def test_configure_writes_a_private_config_file(run_cli: RunCli, cli_home: Path, server: LiveServer) -> None:
    result = run_cli("configure", "--base-url", server.url + "/", "--api-key", server.owner.key, "-o", "yaml")

    path = cli_home / ".smarter" / "config.yaml"
    assert result.code == 0, result.stderr
    assert result.out_lines == [
        f"Saved {path}",
        f"  base URL: {server.url}",
        f"  API key:  {server.owner.key[:8]}…",
        "  output:   yaml",
    ]
    assert yaml.safe_load(path.read_text()) == {
        "base_url": server.url,
        "api_key": server.owner.key,
        "output_format": "yaml",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_config_file_is_used_when_nothing_overrides_it(run_cli: RunCli, server: LiveServer) -> None:
    run_cli("configure", "--base-url", server.url, "--api-key", server.owner.key, "-o", "json")

    result = run_cli("get", "users")

    assert result.code == 0, result.stderr
    assert result.stdout.startswith("[\n")  # the stored output format


def test_configure_keeps_stored_values_it_is_not_given(run_cli: RunCli, cli_home: Path, server: LiveServer) -> None:
    run_cli("configure", "--base-url", server.url, "--api-key", server.owner.key)

    run_cli("configure", "-o", "yaml")

    stored = yaml.safe_load((cli_home / ".smarter" / "config.yaml").read_text())
    assert stored == {"base_url": server.url, "api_key": server.owner.key, "output_format": "yaml"}


def test_environment_overrides_the_file_and_flags_override_both(run_cli: RunCli, server: LiveServer) -> None:
    run_cli("configure", "--base-url", server.url, "--api-key", server.owner.key)

    from_file = run_cli("whoami", "-o", "json")
    from_env = run_cli("whoami", "-o", "json", SMARTER_API_KEY=server.teammate.key)
    from_flag = run_cli("--api-key", server.outsider.key, "whoami", "-o", "json", SMARTER_API_KEY=server.teammate.key)

    assert '"username": "owner"' in from_file.stdout
    assert '"username": "teammate"' in from_env.stdout
    assert '"username": "outsider"' in from_flag.stdout


def test_global_flags_may_follow_the_verb(run_cli: RunCli, server: LiveServer) -> None:
    result = run_cli("whoami", "-o", "json", "--base-url", server.url, f"--api-key={server.teammate.key}")

    assert result.code == 0, result.stderr
    assert '"username": "teammate"' in result.stdout


def test_only_whole_global_flags_are_moved() -> None:
    assert hoist_global_options(["chat", "bot", "-p", "--api-key is what?", "--api-key", "K"]) == [
        "--api-key",
        "K",
        "chat",
        "bot",
        "-p",
        "--api-key is what?",
    ]
    assert hoist_global_options(["get", "x", "--", "--base-url", "u"]) == ["get", "x", "--", "--base-url", "u"]


def test_base_url_flag_overrides_the_environment(run_cli: RunCli, server: LiveServer, closed_port: int) -> None:
    result = run_cli(
        "--base-url",
        server.url,
        "whoami",
        SMARTER_BASE_URL=f"http://127.0.0.1:{closed_port}",
        SMARTER_API_KEY=server.owner.key,
    )

    assert result.code == 0, result.stderr


def test_a_broken_config_file_is_a_usage_error(run_cli: RunCli, cli_home: Path) -> None:
    (cli_home / ".smarter").mkdir()
    (cli_home / ".smarter" / "config.yaml").write_text("- just\n- a list\n")

    result = run_cli("whoami")

    assert result.code == 2
    assert result.stderr == (
        f"Error: {cli_home / '.smarter' / 'config.yaml'} must hold a mapping of settings; fix or delete it.\n"
    )


def test_configure_asks_in_a_terminal_and_hides_the_key(cli_home: Path, pexpect: Any) -> None:
    command, *prefix = cli_command()
    child = pexpect.spawn(command, [*prefix, "configure"], env=cli_environment(cli_home), encoding="utf-8", timeout=15)

    child.expect_exact("Base URL [http://localhost:8000]: ")
    child.sendline("https://smarter.example.test/")
    child.expect_exact("API key: ")
    child.sendline("smarter_typed_key")
    child.expect_exact("Output format (table|json|yaml) [table]: ")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0
    assert "smarter_typed_key" not in str(child.before)  # not echoed
    stored = yaml.safe_load((cli_home / ".smarter" / "config.yaml").read_text())
    assert stored == {
        "base_url": "https://smarter.example.test",
        "api_key": "smarter_typed_key",
        "output_format": "table",
    }
