"""What the user sees, and the exit code, when something goes wrong: never a traceback.

Exit codes: 1 the server refused, 2 a usage error, 3 the server cannot be reached.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer, RunCli

SECRET_WITHOUT_VALUE = """\
apiVersion: smarter.sh/v1
kind: Secret
metadata: {name: no_value}
spec:
  config: {description: forgot the value}
"""
GOOD_SECRET = """\
apiVersion: smarter.sh/v1
kind: Secret
metadata: {name: good_secret}
spec:
  config: {value: s3cret}
"""


def test_field_errors_are_printed_one_per_line_and_exit_1(as_owner: RunCli) -> None:
    result = as_owner("apply", "-f", "-", input=SECRET_WITHOUT_VALUE)

    assert result.code == 1
    assert result.stdout == ""
    assert result.err_lines == [
        "Secret/no_value failed: A new secret needs a value.",
        "  spec.config.value: required when creating a secret",
        "1 of 1 manifests failed.",
    ]


def test_every_field_error_of_an_invalid_manifest_is_listed(as_owner: RunCli) -> None:
    manifest = (
        "apiVersion: smarter.sh/v1\nkind: User\nmetadata: {name: Bad-Name}\n"
        "spec: {config: {email: not-an-email, shoeSize: 44}}\n"
    )

    result = as_owner("apply", "-f", "-", input=manifest)

    assert result.code == 1
    assert result.err_lines[0] == "User/Bad-Name failed: The User manifest is invalid; fix the fields listed in errors."
    locations = [line.split(":")[0].strip() for line in result.err_lines[1:-1]]
    assert locations == ["metadata.name", "spec.config.email", "spec.config.shoeSize"]
    assert result.err_lines[-1] == "1 of 1 manifests failed."


def test_one_failing_manifest_does_not_stop_the_others(as_owner: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SECRET_WITHOUT_VALUE)
    (tmp_path / "b.yaml").write_text(GOOD_SECRET)

    result = as_owner("apply", "-f", str(tmp_path))

    assert result.code == 1
    assert result.stdout == "Secret/good_secret created\n"
    assert result.err_lines == [
        "Secret/no_value failed: A new secret needs a value.",
        "  spec.config.value: required when creating a secret",
        "1 of 2 manifests failed.",
    ]


def test_a_member_may_not_change_secrets(run_cli: RunCli, server: LiveServer) -> None:
    result = run_cli(
        "apply",
        "-f",
        "-",
        input=GOOD_SECRET,
        SMARTER_BASE_URL=server.url,
        SMARTER_API_KEY=server.teammate.key,
    )

    assert result.code == 1
    assert result.err_lines == [
        "Secret/good_secret failed: Only an account admin may change Secret resources.",
        "1 of 1 manifests failed.",
    ]


def test_another_accounts_resource_is_not_found(as_owner: RunCli, run_cli: RunCli, server: LiveServer) -> None:
    as_owner("apply", "-f", "-", input=GOOD_SECRET)

    result = run_cli(
        "describe", "secret", "good_secret", SMARTER_BASE_URL=server.url, SMARTER_API_KEY=server.outsider.key
    )

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error: Secret 'good_secret' was not found in your account.\n"


def test_an_unknown_kind_names_the_known_ones(as_owner: RunCli) -> None:
    result = as_owner("get", "gizmos")

    assert result.code == 1
    first, second = result.err_lines
    assert first.startswith("Error: Unknown kind 'gizmos'. Known kinds: ")
    assert "Secret" in first
    assert second.startswith("  kind: must be one of ")


def test_a_wrong_api_key_exits_1_and_says_what_to_check(run_cli: RunCli, server: LiveServer) -> None:
    result = run_cli("whoami", SMARTER_BASE_URL=server.url, SMARTER_API_KEY="smarter_nope_nope")

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: The API key is invalid, expired or revoked. "
        "Check the API key (smarter configure, SMARTER_API_KEY or --api-key).\n"
    )


def test_a_closed_port_exits_3(run_cli: RunCli, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"

    result = run_cli("get", "secrets", SMARTER_BASE_URL=url, SMARTER_API_KEY="any")

    assert (result.code, result.stdout) == (3, "")
    assert result.stderr == f"Error: Cannot reach the server at {url}: Connection refused.\n"


def test_an_unresolvable_host_exits_3(run_cli: RunCli) -> None:
    result = run_cli("whoami", SMARTER_BASE_URL="http://no-such-host.invalid", SMARTER_API_KEY="any")

    assert result.code == 3
    assert result.stderr.startswith("Error: Cannot reach the server at http://no-such-host.invalid: ")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_does_not_answer_in_time_exits_3(run_cli: RunCli, silent_server: str) -> None:
    result = run_cli("whoami", SMARTER_BASE_URL=silent_server, SMARTER_API_KEY="any", SMARTER_CLI_TIMEOUT="1")

    assert (result.code, result.stdout) == (3, "")
    assert result.stderr == f"Error: The server at {silent_server} did not answer in time.\n"


def test_no_api_key_exits_2(run_cli: RunCli, server: LiveServer) -> None:
    result = run_cli("get", "secrets", SMARTER_BASE_URL=server.url)

    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: No API key configured. Run `smarter configure`, set SMARTER_API_KEY, or pass --api-key.\n"
    )


def test_a_missing_file_exits_2(as_owner: RunCli, tmp_path: Path) -> None:
    result = as_owner("apply", "-f", str(tmp_path / "absent.yaml"))

    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"Error: {tmp_path / 'absent.yaml'}: no such file or directory.\n"


def test_a_file_that_is_not_yaml_exits_2_before_anything_is_applied(as_owner: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD_SECRET)
    (tmp_path / "b.yaml").write_text("kind: Secret\nmetadata: {name: [unclosed\n")

    result = as_owner("apply", "-f", str(tmp_path))

    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: {tmp_path / 'b.yaml'}: ")
    assert "line 3" in result.stderr
    assert as_owner("get", "secrets", "-o", "json").stdout == "[]\n"


def test_apply_without_a_file_exits_2(as_owner: RunCli) -> None:
    result = as_owner("apply")

    assert (result.code, result.stderr) == (
        2,
        "Error: Say what to apply: -f FILE, -f DIR or -f - for standard input.\n",
    )


def test_bad_flags_exit_2(as_owner: RunCli) -> None:
    assert as_owner("get", "secrets", "-o", "xml").code == 2
    assert as_owner("get").code == 2
    assert as_owner("describe", "secret").code == 2
    assert as_owner("frobnicate").code == 2


def test_a_base_url_that_is_not_http_exits_2(run_cli: RunCli) -> None:
    result = run_cli("whoami", SMARTER_BASE_URL="ftp://example.test", SMARTER_API_KEY="any")

    assert (result.code, result.stderr) == (
        2,
        "Error: The base URL must start with http:// or https://, not 'ftp://example.test'.\n",
    )
