"""Reading manifests for apply: sources, several documents per file, dependency order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smarter_cli.errors import UsageFailure
from smarter_cli.manifests import Document, in_dependency_order, load_documents


def manifest(kind: str, name: str) -> str:
    return f"apiVersion: smarter.sh/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec: {{}}\n"


def labels(documents: list[Document]) -> list[str]:
    return [document.label for document in documents]


def test_kinds_are_ordered_by_dependency_and_unknown_kinds_go_last(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(
        "---\n".join(
            manifest(kind, name)
            for kind, name in [
                ("Gizmo", "g"),
                ("Chatbot", "bot"),
                ("KnowledgePlugin", "kb_p"),
                ("ApiPlugin", "api_p"),
                ("SqlPlugin", "sql_p"),
                ("Plugin", "static_p"),
                ("ApiConnection", "api_c"),
                ("KnowledgeBase", "kb"),
                ("SqlConnection", "sql_c"),
                ("Provider", "prov"),
                ("SmarterAuthToken", "key"),
                ("secret", "sec"),
                ("User", "usr"),
                ("Account", "acct"),
            ]
        )
    )

    ordered = in_dependency_order(load_documents([str(tmp_path)]))

    assert labels(ordered) == [
        "Account/acct",
        "User/usr",
        "secret/sec",
        "SmarterAuthToken/key",
        "Provider/prov",
        "SqlConnection/sql_c",
        "ApiConnection/api_c",
        "KnowledgeBase/kb",
        # The plugin classes are one step: they keep the order they were read in.
        "KnowledgePlugin/kb_p",
        "ApiPlugin/api_p",
        "SqlPlugin/sql_p",
        "Plugin/static_p",
        "Chatbot/bot",
        "Gizmo/g",
    ]


def test_files_of_a_directory_are_read_in_name_order_and_others_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(manifest("Secret", "b"))
    (tmp_path / "a.yaml").write_text(manifest("Secret", "a"))
    (tmp_path / "c.json").write_text('{"kind": "Secret", "metadata": {"name": "c"}}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "d.yaml").write_text(manifest("Secret", "d"))

    assert labels(load_documents([str(tmp_path)])) == ["Secret/a", "Secret/b", "Secret/c"]
    assert labels(load_documents([str(tmp_path)], recursive=True)) == [
        "Secret/a",
        "Secret/b",
        "Secret/c",
        "Secret/d",
    ]


def test_yaml_anchors_are_written_out_in_full_for_the_server() -> None:
    text = "kind: Secret\nmetadata: {name: x}\nspec:\n  a: &shared {k: v}\n  b: *shared\n"
    document = Document("x.yaml", 1, yaml.safe_load(text))

    sent = document.to_yaml().decode()

    assert "&" not in sent and "*" not in sent
    assert yaml.safe_load(sent) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a list\n", "x.yaml: document 1 is not a manifest"),
        ("kind: [unclosed\n", "x.yaml: "),
        ("", "Nothing to apply"),
    ],
)
def test_unusable_input_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(content)

    with pytest.raises(UsageFailure) as raised:
        load_documents([str(path)])

    assert message in raised.value.message
