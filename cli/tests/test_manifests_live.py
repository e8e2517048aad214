"""apply, get, describe and delete of real manifests against the live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import MANIFESTS, LiveServer, RunCli

ACCOUNT_KINDS = MANIFESTS / "account_kinds"
# Secret, SqlConnection (a SQLite file of the `plugin_data` fixture), SqlPlugin, Plugin, Chatbot.
CHATBOT_KINDS = MANIFESTS / "chatbot_kinds"
DIRECTORIES = pytest.mark.parametrize("directory", [ACCOUNT_KINDS, CHATBOT_KINDS], ids=lambda path: path.name)

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
# describe also gives back what the server fills in: defaults of fields left out (a plugin's
# `metadata.pluginClass` and `spec.prompt`, a parameter's `enum` and `default`, a chatbot's
# whole `config`), and in `status` what it derives (a plugin's `toolSchema`, a connection's
# `health` and `usedBy`, a chatbot's URLs and `tools`). The checks below allow extra keys.


def manifests_in(directory: Path) -> list[dict[str, Any]]:
    """Every manifest of the directory, in the order the files hold them."""
    found: list[dict[str, Any]] = []
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
    elif isinstance(applied, list):
        assert isinstance(described, list) and len(described) == len(applied), f"{path}: {described!r}"
        for index, (one, other) in enumerate(zip(applied, described, strict=True)):
            assert_contains(one, other, kind, f"{path}[{index}]")
    else:
        expected = applied.isoformat() if hasattr(applied, "isoformat") else applied
        assert described == expected, f"{path}: {described!r} != {expected!r}"


@DIRECTORIES
def test_directory_is_applied_in_dependency_order_with_a_line_per_manifest(as_owner: RunCli, directory: Path) -> None:
    manifests = manifests_in(directory)
    ordered = in_dependency_order(manifests)
    assert [label(m) for m in manifests] != [label(m) for m in ordered], "the files must be out of order"

    result = as_owner("apply", "-f", str(directory))

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


@DIRECTORIES
def test_applying_again_changes_nothing(as_owner: RunCli, directory: Path) -> None:
    as_owner("apply", "-f", str(directory))

    result = as_owner("apply", "-f", str(directory))

    assert result.code == 0, result.stderr
    ordered = in_dependency_order(manifests_in(directory))
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


@DIRECTORIES
@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_describe_gives_back_what_was_applied(as_owner: RunCli, output_format: str, directory: Path) -> None:
    as_owner("apply", "-f", str(directory))

    for manifest in manifests_in(directory):
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


@DIRECTORIES
@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_get_lists_what_was_applied(as_owner: RunCli, output_format: str, directory: Path) -> None:
    as_owner("apply", "-f", str(directory))
    manifests = manifests_in(directory)

    for kind in sorted({m["kind"] for m in manifests}):
        result = as_owner("get", kind.lower() + "s", "-o", output_format)
        assert result.code == 0, result.stderr
        items = json.loads(result.stdout) if output_format == "json" else yaml.safe_load(result.stdout)
        assert isinstance(items, list)
        names = {item["name"] for item in items}
        assert {m["metadata"]["name"] for m in manifests if m["kind"] == kind} <= names


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_get_of_one_secret(as_owner: RunCli, output_format: str) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))

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


@DIRECTORIES
def test_delete_removes_each_resource(as_owner: RunCli, directory: Path) -> None:
    as_owner("apply", "-f", str(directory))

    for manifest in reversed(in_dependency_order(manifests_in(directory))):
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


# --- a chatbot and everything it needs -------------------------------------------------------------
CHATBOT_APPLIED = [
    "Secret/course_db_password",
    "SqlConnection/course_db",
    "Plugin/gobstopper_facts",
    "SqlPlugin/course_finder",
    "Chatbot/candy_shop",
]


def test_a_chatbot_with_its_plugins_connection_and_secret_is_applied_from_one_directory(as_owner: RunCli) -> None:
    # The files hold them as Chatbot, Plugin (bot.yaml), SqlConnection, SqlPlugin, Secret.
    assert [label(m) for m in manifests_in(CHATBOT_KINDS)] == [
        "Chatbot/candy_shop",
        "Plugin/gobstopper_facts",
        "SqlConnection/course_db",
        "SqlPlugin/course_finder",
        "Secret/course_db_password",
    ]

    first = as_owner("apply", "-f", str(CHATBOT_KINDS))
    again = as_owner("apply", "-f", str(CHATBOT_KINDS))

    assert (first.code, first.stderr) == (0, "")
    assert first.out_lines == [f"{resource} created" for resource in CHATBOT_APPLIED]
    assert (again.code, again.stderr) == (0, "")
    assert again.out_lines == [f"{resource} unchanged" for resource in CHATBOT_APPLIED]


def test_a_chatbot_naming_a_missing_plugin_is_refused_and_the_rest_applied(as_owner: RunCli, tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text((CHATBOT_KINDS / "bot.yaml").read_text())

    result = as_owner("apply", "-f", str(tmp_path))

    assert result.code == 1
    assert result.out_lines == ["Plugin/gobstopper_facts created"]
    assert result.err_lines == [
        "Chatbot/candy_shop failed: The chatbot names plugins that do not exist.",
        "  spec.plugins[1]: no plugin named 'course_finder' in your account",
        "1 of 2 manifests failed.",
    ]


def load(text: str, output_format: str) -> Any:
    return json.loads(text) if output_format == "json" else yaml.safe_load(text)


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_get_lists_the_chatbot_kinds(as_owner: RunCli, server: LiveServer, output_format: str) -> None:
    as_owner("apply", "-f", str(CHATBOT_KINDS))
    account = server.owner.account.account_number

    def items(*words: str) -> Any:
        result = as_owner("get", *words, "-o", output_format)
        assert result.code == 0, result.stderr
        return load(result.stdout, output_format)

    chatbots = items("chatbots")
    assert chatbots == [
        {
            "name": "candy_shop",
            "provider": "offline",
            "model": "",
            "plugins": 2,
            "deployed": False,
            "url": chatbots[0]["url"],
        }
    ]
    # Server-derived: the chatbot's own host, `<subdomain>.<account number>.api.<root domain>`.
    assert chatbots[0]["url"].startswith(f"http://candy-shop.{account}.api.")
    assert items("plugins") == [
        {
            "name": "course_finder",
            "description": "Finds candy-making courses up to a price",
            "pluginClass": "sql",
            "directive": "search_terms",
        },
        {
            "name": "gobstopper_facts",
            "description": "Facts about the Everlasting Gobstopper",
            "pluginClass": "static",
            "directive": "always",
        },
    ]
    assert items("sqlplugins") == [items("plugins")[0]]
    assert items("plugin", "gobstopper_facts") == [items("plugins")[1]]
    assert items("sqlconnections") == [
        {
            "name": "course_db",
            "description": "The candy course catalogue",
            "dbEngine": "sqlite",
            "hostname": "",
            "database": "courses.sqlite3",
        }
    ]


def test_get_prints_the_chatbot_kinds_as_tables(as_owner: RunCli) -> None:
    as_owner("apply", "-f", str(CHATBOT_KINDS))

    plugins = as_owner("get", "plugins")
    connections = as_owner("get", "sqlconnection")
    chatbots = as_owner("get", "Chatbots")

    assert plugins.code == connections.code == chatbots.code == 0
    assert [line.split() for line in plugins.out_lines if set(line) != {"─"}] == [
        ["NAME", "DESCRIPTION", "PLUGIN", "CLASS", "DIRECTIVE"],
        ["course_finder", "Finds", "candy-making", "courses", "up", "to", "a", "price", "sql", "search_terms"],
        ["gobstopper_facts", "Facts", "about", "the", "Everlasting", "Gobstopper", "static", "always"],
    ]
    assert [line.split() for line in connections.out_lines if set(line) != {"─"}] == [
        ["NAME", "DESCRIPTION", "DB", "ENGINE", "HOSTNAME", "DATABASE"],
        ["course_db", "The", "candy", "course", "catalogue", "sqlite", "courses.sqlite3"],
    ]
    header, _, row = chatbots.out_lines
    assert header.split() == ["NAME", "PROVIDER", "MODEL", "PLUGINS", "DEPLOYED", "URL"]
    assert row.split()[:4] == ["candy_shop", "offline", "2", "false"]


def test_describe_fills_in_what_the_server_derives(as_owner: RunCli, server: LiveServer) -> None:
    as_owner("apply", "-f", str(CHATBOT_KINDS))

    def described(kind: str, name: str) -> Any:
        result = as_owner("describe", kind, name, "-o", "json")
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)

    secret = described("secret", "course_db_password")
    assert "value" not in secret["spec"]["config"]  # write-only
    connection = described("sqlconnection", "course_db")
    assert connection["spec"]["connection"]["password"] == "course_db_password"  # the Secret's name only
    assert connection["status"]["usedBy"] == ["course_finder"]
    assert connection["status"]["health"]["reachable"] is True
    static = described("plugin", "gobstopper_facts")
    assert static["metadata"]["pluginClass"] == "static"
    assert static["status"]["toolSchema"]["function"]["parameters"]["properties"]["inquiry_type"]["enum"] == [
        "price",
        "inventor",
    ]
    sql = described("sqlplugin", "course_finder")
    assert (sql["kind"], sql["metadata"]["pluginClass"]) == ("SqlPlugin", "sql")
    assert sql["status"]["connection"]["name"] == "course_db"
    assert sql["status"]["connection"]["reachable"] is True
    chatbot = described("chatbot", "candy_shop")
    assert chatbot["spec"]["plugins"] == ["gobstopper_facts", "course_finder"]
    assert chatbot["status"]["tools"] == ["course_finder", "gobstopper_facts"]
    assert chatbot["status"]["accountNumber"] == server.owner.account.account_number
    assert chatbot["status"]["deployed"] is False


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_describe_output_of_every_chatbot_kind_applies_unchanged(
    as_owner: RunCli, tmp_path: Path, output_format: str
) -> None:
    as_owner("apply", "-f", str(CHATBOT_KINDS))

    for resource in CHATBOT_APPLIED:
        kind, name = resource.split("/")
        described = as_owner("describe", kind, name, "-o", output_format)
        assert described.code == 0, described.stderr
        path = tmp_path / f"{name}.{output_format}"
        path.write_text(described.stdout)

        result = as_owner("apply", "-f", str(path))

        assert (result.code, result.stdout, result.stderr) == (0, f"{resource} unchanged\n", "")


def test_diff_shows_what_a_partial_chatbot_manifest_would_take_away_and_changes_nothing(
    as_owner: RunCli, tmp_path: Path
) -> None:
    as_owner("apply", "-f", str(CHATBOT_KINDS))
    before = as_owner("describe", "chatbot", "candy_shop", "-o", "json").stdout
    partial = tmp_path / "origins.yaml"
    partial.write_text(
        "apiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata: {name: candy_shop}\n"
        "spec: {config: {allowedOrigins: ['https://www.example.com']}}\n"
    )

    for command in (("diff", "-f", str(partial)), ("apply", "--dry-run", "-f", str(partial))):
        result = as_owner(*command)
        assert result.code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "Chatbot/candy_shop would be updated"
        removed = [line for line in lines if line.startswith("  ! spec.plugins: ")]
        assert removed and "removed" in removed[0]
        assert "--- Chatbot/candy_shop (now)" in lines and "+++ Chatbot/candy_shop (after apply)" in lines
        assert "+    - https://www.example.com" in lines

    assert as_owner("describe", "chatbot", "candy_shop", "-o", "json").stdout == before


def test_diff_of_what_is_applied_says_unchanged_and_of_a_new_resource_would_be_created(
    as_owner: RunCli, tmp_path: Path
) -> None:
    as_owner("apply", "-f", str(ACCOUNT_KINDS))
    result = as_owner("diff", "-f", str(ACCOUNT_KINDS))
    ordered = in_dependency_order(manifests_in(ACCOUNT_KINDS))
    assert (result.code, result.stdout.splitlines()) == (0, [f"{label(m)} unchanged" for m in ordered])

    new = tmp_path / "secret.yaml"
    new.write_text(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: brand_new}\nspec: {config: {value: v-1}}\n"
    )
    created = as_owner("diff", "-f", str(new))
    assert created.code == 0, created.stderr
    assert created.stdout.splitlines()[:3] == [
        "Secret/brand_new would be created",
        "--- /dev/null",
        "+++ Secret/brand_new (after apply)",
    ]
    assert as_owner("describe", "secret", "brand_new").code == 1
