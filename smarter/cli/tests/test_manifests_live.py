"""apply, get, describe and delete of real manifests against the live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.cli.tests.conftest import MANIFESTS, LiveServer, RunCli

ACCOUNT_KINDS = MANIFESTS / "account_kinds"

# The dependency order the client promises, written out again here as the test's own oracle.
DEPENDENCY_ORDER = [
    {"Account"},
    {"User"},
    {"Secret"},
    {"ApiKey"},
    {"Provider"},
    {"SqlConnection"},
    {"ApiConnection"},
    {"Plugin", "SqlPlugin", "ApiPlugin"},
    {"Chatbot"},
]
# Fields the server accepts but never gives back.
WRITE_ONLY = {("Secret", "value")}


def manifests_in(directory: Path) -> list[dict[str, Any]]:
    """Every manifest of the directory, in the order the files hold them."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        found.extend(document for document in yaml.safe_load_all(path.read_text()) if document)
    return found


def in_dependency_order(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(manifest: dict[str, Any]) -> int:
        for index, kinds in enumerate(DEPENDENCY_ORDER):
            if manifest["kind"] in kinds:
                return index
        return len(DEPENDENCY_ORDER)

    return sorted(manifests, key=rank)


def label(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def result_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if not line.startswith("  ")]


def assert_contains(applied: Any, described: Any, kind: str, path: str = "spec") -> None:
    """Everything that was applied is described back (write-only fields excepted)."""
    if isinstance(applied, dict):
        assert isinstance(described, dict), path
        for key, value in applied.items():
            if (kind, key) in WRITE_ONLY:
                assert key not in described, f"{path}.{key} is write-only but was returned"
                continue
            assert key in described, f"{path}.{key} missing"
            assert_contains(value, described[key], kind, f"{path}.{key}")
    else:
        expected = applied.isoformat() if hasattr(applied, "isoformat") else applied
        assert described == expected, f"{path}: {described!r} != {expected!r}"


def test_directory_is_applied_in_dependency_order_with_a_line_per_manifest(as_owner: RunCli) -> None:
    manifests = manifests_in(ACCOUNT_KINDS)
    ordered = in_dependency_order(manifests)
    assert [label(m) for m in manifests] != [label(m) for m in ordered], "the files must be out of order"

    result = as_owner("apply", "-f", str(ACCOUNT_KINDS))

    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert result_lines(result.stdout) == [f"{label(m)} created" for m in ordered]


def test_a_new_api_key_is_printed_once_and_works(as_owner: RunCli, run_cli: RunCli, server: LiveServer) -> None:
    result = as_owner("apply", "-f", str(ACCOUNT_KINDS))

    lines = result.out_lines
    key_line = lines.index("ApiKey/robot_key created")
    assert lines[key_line + 1].startswith("  apiKey: smarter_")
    assert lines[key_line + 2] == "  Store this key now: it is not shown again."
    plaintext = lines[key_line + 1].removeprefix("  apiKey: ")
    whoami = run_cli("whoami", "-o", "json", SMARTER_BASE_URL=server.url, SMARTER_API_KEY=plaintext)
    assert whoami.code == 0, whoami.stderr
    assert json.loads(whoami.stdout) == {
        "username": "robot",
        "accountNumber": server.owner.account.account_number,
        "role": "member",
    }

    again = as_owner("apply", "-f", str(ACCOUNT_KINDS))
    assert "apiKey:" not in again.stdout


def test_applying_again_changes_nothing(as_owner: RunCli) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))

    result = as_owner("apply", "-f", str(ACCOUNT_KINDS))

    assert result.code == 0, result.stderr
    ordered = in_dependency_order(manifests_in(ACCOUNT_KINDS))
    assert result.stdout.splitlines() == [f"{label(m)} unchanged" for m in ordered]


def test_a_changed_manifest_is_updated(as_owner: RunCli, tmp_path: Path) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))
    changed = tmp_path / "secret.yaml"
    changed.write_text(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: db_password}\n"
        "spec: {config: {value: rotated-password, description: Rotated}}\n"
    )

    result = as_owner("apply", "-f", str(changed))

    assert (result.code, result.stdout) == (0, "Secret/db_password updated\n")


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_describe_gives_back_what_was_applied(as_owner: RunCli, output_format: str) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))

    for manifest in manifests_in(ACCOUNT_KINDS):
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        result = as_owner("describe", kind.lower(), name, "-o", output_format)
        assert result.code == 0, result.stderr
        described = json.loads(result.stdout) if output_format == "json" else yaml.safe_load(result.stdout)
        assert described["apiVersion"] == "smarter.sh/v1"
        assert described["kind"] == kind
        assert described["metadata"]["name"] == name
        assert_contains(manifest["spec"], described["spec"], kind)
        assert isinstance(described["status"], dict)


def test_describe_output_applies_unchanged(as_owner: RunCli, tmp_path: Path) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))
    described = as_owner("describe", "secret", "crm_token")
    (tmp_path / "crm_token.yaml").write_text(described.stdout)

    result = as_owner("apply", "-f", str(tmp_path / "crm_token.yaml"))

    assert (result.code, result.stdout) == (0, "Secret/crm_token unchanged\n")


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_get_lists_what_was_applied(as_owner: RunCli, output_format: str) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))
    manifests = manifests_in(ACCOUNT_KINDS)

    for kind in sorted({m["kind"] for m in manifests}):
        result = as_owner("get", kind.lower() + "s", "-o", output_format)
        assert result.code == 0, result.stderr
        items = json.loads(result.stdout) if output_format == "json" else yaml.safe_load(result.stdout)
        assert isinstance(items, list)
        names = {item["name"] for item in items}
        assert {m["metadata"]["name"] for m in manifests if m["kind"] == kind} <= names

    one = as_owner("get", "secret", "crm_token", "-o", output_format)
    items = json.loads(one.stdout) if output_format == "json" else yaml.safe_load(one.stdout)
    assert items == [
        {
            "name": "crm_token",
            "description": "Token of the CRM's REST API",
            "expirationDate": "2030-01-31",
            "lastAccessedAt": None,
            "updatedAt": items[0]["updatedAt"],
        }
    ]


def test_get_prints_a_table_that_fits_the_terminal(as_owner: RunCli) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))

    wide = as_owner("get", "secrets", COLUMNS="200")
    narrow = as_owner("get", "secrets", COLUMNS="50")

    assert wide.code == narrow.code == 0
    header, rule, *rows = wide.out_lines
    assert header.split() == [
        "NAME",
        "DESCRIPTION",
        "EXPIRATION",
        "DATE",
        "LAST",
        "ACCESSED",
        "AT",
        "UPDATED",
        "AT",
    ]
    assert set(rule) == {"─"}
    assert [row.split()[0] for row in rows] == ["crm_token", "db_password"]
    assert rows[0].split()[1:7] == ["Token", "of", "the", "CRM's", "REST", "API"]
    assert "2030-01-31" in rows[0]
    assert all(len(line) <= 50 for line in narrow.out_lines)
    assert "crm_token" in narrow.stdout and "db_password" in narrow.stdout


def test_get_of_an_empty_kind_says_so(as_owner: RunCli) -> None:
    result = as_owner("get", "secrets")

    assert (result.code, result.stdout, result.stderr) == (0, "", "No Secret resources found.\n")


def test_delete_removes_each_resource(as_owner: RunCli) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))

    for manifest in reversed(in_dependency_order(manifests_in(ACCOUNT_KINDS))):
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        deleted = as_owner("delete", kind, name)
        assert (deleted.code, deleted.stdout) == (0, f"{kind}/{name} deleted\n"), deleted.stderr
        gone = as_owner("describe", kind, name)
        assert (gone.code, gone.stdout) == (1, "")
        assert gone.stderr == f"Error: {kind} {name!r} was not found in your account.\n"


def test_manifest_prints_an_example_that_applies_as_is(as_owner: RunCli, tmp_path: Path) -> None:
    example = as_owner("manifest", "secret")
    assert example.code == 0, example.stderr
    document = yaml.safe_load(example.stdout)
    assert (document["apiVersion"], document["kind"]) == ("smarter.sh/v1", "Secret")
    (tmp_path / "example.yaml").write_text(example.stdout)

    applied = as_owner("apply", "-f", str(tmp_path / "example.yaml"))

    assert (applied.code, applied.stdout) == (0, f"Secret/{document['metadata']['name']} created\n")


def test_apply_reads_standard_input(as_owner: RunCli) -> None:
    example = as_owner("manifest", "user", "-o", "json")
    name = json.loads(example.stdout)["metadata"]["name"]

    result = as_owner("apply", "-f", "-", input=example.stdout)

    assert (result.code, result.stdout) == (0, f"User/{name} created\n")


def test_schema_prints_the_json_schema_of_a_kind(as_owner: RunCli) -> None:
    result = as_owner("schema", "secret")

    assert result.code == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["title"] == "Secret"
    assert "spec" in schema["properties"]
    assert yaml.safe_load(as_owner("schema", "secret", "-o", "yaml").stdout) == schema


def test_whoami_status_and_version(as_owner: RunCli, server: LiveServer) -> None:
    whoami = as_owner("whoami")
    assert (whoami.code, whoami.stdout) == (
        0,
        f"username: owner\naccountNumber: {server.owner.account.account_number}\nrole: admin\n",
    )

    status = as_owner("status", "-o", "json")
    assert status.code == 0, status.stderr
    assert json.loads(status.stdout)["healthy"] is True

    version = as_owner("version", "-o", "json")
    assert version.code == 0
    versions = json.loads(version.stdout)
    assert versions["apiVersion"] == "smarter.sh/v1"
    assert versions["client"] == versions["server"]
