"""deploy and undeploy, against the stand-in server (the real endpoints come later).

When the server's deploy endpoints land, an end-to-end test against the live server belongs
beside these; the client's side of the contract is pinned down here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import RunCli, cli_command, cli_environment
from tests.standin import API_KEY, StandInServer

FAST = {"SMARTER_CLI_POLL_SECONDS": "0.05"}


def test_deploy_waits_until_the_chatbot_is_deployed_and_prints_its_url(run_cli: RunCli, standin: StandInServer) -> None:
    standin.settle_after = 3

    result = run_cli("deploy", "chatbot", "support", SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY, **FAST)

    assert result.code == 0, result.stderr
    assert result.stdout == "Chatbot/support deployed: http://support.1234-5678-9012.api.localhost:8000/\n"
    paths = [request["path"] for request in standin.requests]
    assert paths == ["/api/v1/cli/deploy/chatbot/"] + ["/api/v1/cli/describe/chatbot/"] * 3
    assert all(request["query"] == "name=support" for request in standin.requests)


def test_undeploy_waits_until_the_chatbot_is_off(run_cli: RunCli, standin: StandInServer) -> None:
    standin.deployed, standin.dns_status = True, "Verified"

    result = run_cli("undeploy", "chatbots", "support", SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY, **FAST)

    assert (result.code, result.stdout) == (0, "Chatbot/support undeployed\n")


def test_deploy_gives_up_after_the_timeout(run_cli: RunCli, standin: StandInServer) -> None:
    standin.settle_after = None

    result = run_cli(
        "deploy",
        "chatbot",
        "support",
        "--timeout",
        "1",
        SMARTER_BASE_URL=standin.url,
        SMARTER_API_KEY=API_KEY,
        **FAST,
    )

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: Chatbot support is still not deployed after 1 s (deployed: false, DNS verification: "
        "Verifying). It may finish later: `smarter describe chatbot support`.\n"
    )


def test_deploy_without_waiting_only_asks(run_cli: RunCli, standin: StandInServer) -> None:
    result = run_cli("deploy", "chatbot", "support", "--no-wait", SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY)

    assert (result.code, result.stdout) == (0, "Chatbot/support deploy requested\n")
    assert [request["path"] for request in standin.requests] == ["/api/v1/cli/deploy/chatbot/"]


def test_deploy_of_an_unknown_chatbot_exits_1(run_cli: RunCli, standin: StandInServer) -> None:
    result = run_cli("deploy", "chatbot", "nope", SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY)

    assert (result.code, result.stderr) == (1, "Error: Chatbot 'nope' was not found in your account.\n")


def test_only_chatbots_are_deployed(run_cli: RunCli, standin: StandInServer) -> None:
    result = run_cli("deploy", "plugin", "x", SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY)

    assert result.code == 2
    assert result.stderr == "Error: Only chatbots are deployed, not 'plugin': smarter deploy chatbot NAME.\n"
    assert standin.requests == []


def test_a_spinner_shows_progress_in_a_terminal(cli_home: Path, standin: StandInServer, pexpect: Any) -> None:
    standin.settle_after = 15
    environment = cli_environment(
        cli_home,
        SMARTER_BASE_URL=standin.url,
        SMARTER_API_KEY=API_KEY,
        SMARTER_CLI_POLL_SECONDS="0.1",
        TERM="xterm-256color",
    )
    command, *arguments = cli_command()
    child = pexpect.spawn(
        command, [*arguments, "deploy", "chatbot", "support"], env=environment, encoding="utf-8", timeout=15
    )

    child.expect_exact("Deploying chatbot support, DNS verification: Verifying…")
    child.expect_exact("Chatbot/support deployed: http://support.1234-5678-9012.api.localhost:8000/")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
