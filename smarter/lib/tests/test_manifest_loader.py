"""The manifest loader takes any bytes a client sends: a manifest comes out, or a 4xx SmarterError
that names the problem (and the field path, where there is one); never another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarter.lib.errors import SmarterError, ValidationFailed
from smarter.lib.json_input import MAX_DEPTH
from smarter.lib.manifests import MAX_MANIFEST_BYTES, load_manifest

HEAD = "apiVersion: smarter.sh/v1\nkind: Plugin\nmetadata: {name: catalogue}\n"
TOO_DEEP = f"The manifest is nested too deeply: objects and arrays may nest at most {MAX_DEPTH} levels."


def refusal(body: bytes) -> SmarterError:
    with pytest.raises(SmarterError) as caught:
        load_manifest(body)
    return caught.value


def errors_of(error: SmarterError) -> list[tuple[str, str]]:
    return [(item.loc, item.msg) for item in error.errors]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"spec: " + b"[" * 100_000 + b"]" * 100_000,
        b"spec: " + b"{a: " * 100_000 + b"1" + b"}" * 100_000,
        b"spec:\n" + b"- " * 100_000 + b"x\n",
        b"".join(b" " * level + b"a:\n" for level in range(MAX_DEPTH + 2)),
        b"".join(b" " * level + b"-\n" for level in range(MAX_DEPTH + 2)),
        b"spec: " + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        (HEAD + "spec: " + json.dumps(json.loads("[" * 70 + "]" * 70))).encode(),
    ],
    ids=[
        "json-array",
        "json-object",
        "yaml-flow-sequence",
        "yaml-flow-mapping",
        "yaml-block-dashes-on-one-line",
        "yaml-indented-mappings",
        "yaml-indented-sequences",
        "yaml-limit+1",
        "json-inside-yaml",
    ],
)
def test_a_manifest_nested_past_the_limit_is_400_nested_too_deeply(body: bytes) -> None:
    error = refusal(body)
    assert isinstance(error, ValidationFailed)
    assert error.description == TOO_DEEP
    assert errors_of(error) == [("(root)", f"nested too deeply (more than {MAX_DEPTH} levels)")]


def test_a_manifest_nested_to_the_limit_loads() -> None:
    inner = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    document = load_manifest((HEAD + f"spec: {{data: {inner}}}\n").encode())
    assert document["spec"]["data"] == json.loads(inner)


DIGITS = "9" * 5000


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (f"{HEAD}spec: {{data: {{staticData: {{price: {DIGITS}}}}}}}\n", "spec.data.staticData.price"),
        (
            f"{HEAD}spec:\n  data:\n    staticData:\n      prices:\n        - 1\n        - -{DIGITS}\n",
            "spec.data.staticData.prices[1]",
        ),
        (f"{HEAD}spec:\n  rows:\n    - {{id: 1, cells: [a, {{n: {DIGITS}}}]}}\n", "spec.rows[0].cells[1].n"),
        (f"{HEAD}spec: {{sqlData: {{limit: {DIGITS}}}}}\n", "spec.sqlData.limit"),
        (f"metadata: {{version: {DIGITS}}}\n", "metadata.version"),
        (json.dumps({"apiVersion": "smarter.sh/v1", "spec": {"a": [0, 1, "x"]}}).replace('"x"', DIGITS), "spec.a[2]"),
    ],
    ids=["flow", "block-list", "nested-lists", "sql-limit", "metadata", "json"],
)
def test_an_integer_of_more_than_4300_digits_is_400_at_its_field_path(body: str, loc: str) -> None:
    error = refusal(body.encode())
    assert error.status == 400
    assert errors_of(error) == [(loc, "has more than 4300 digits; write a number that long in quotes, as a string")]
    assert error.description.startswith(f"The value of {loc} (line ")


def test_a_long_number_in_quotes_is_a_string() -> None:
    document = load_manifest(f"{HEAD}spec: {{data: {{staticData: {{price: '{DIGITS}'}}}}}}\n".encode())
    assert document["spec"]["data"]["staticData"]["price"] == DIGITS


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        ("2024-13-45", "is not a valid timestamp: month must be in 1..12"),
        ("2024-02-30", "is not a valid timestamp: day is out of range for month"),
        ("2024-01-01 25:00:00", "is not a valid timestamp: hour must be in 0..23"),
        ("!!int abc", "is not a valid int: invalid literal for int() with base 10: 'abc'"),
        ("!!float abc", "is not a valid float: could not convert string to float: 'abc'"),
        (".inf", "must be a finite number"),
        ("-.INF", "must be a finite number"),
        (".nan", "must be a finite number"),
        ("1.0e+999", "must be a finite number"),
        ("!!int ''", "is not a valid int"),
        ("!!timestamp 'soon'", "is not a valid timestamp"),
    ],
)
def test_a_value_yaml_cannot_build_is_400_at_its_field_path(value: str, msg: str) -> None:
    error = refusal(f"{HEAD}spec:\n  config:\n    expirationDate: {value}\n".encode())
    assert errors_of(error) == [("spec.config.expirationDate", msg)]


@pytest.mark.parametrize(
    "body",
    [
        "a: &a [1, 2]\nb: *a\n",
        "a: &a\n  x: 1\nb:\n  <<: *a\n",
        'a: &a ["lol","lol"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nspec: {value: *c}\n',
        "spec: &s {a: 1}\nstatus: *s\n",
    ],
    ids=["list", "merge-key", "billion-laughs", "mapping"],
)
def test_yaml_aliases_are_refused(body: str) -> None:
    error = refusal(body.encode())
    assert error.description == "YAML aliases (*name) are not accepted in manifests; write the values out in full."
    assert errors_of(error)[0][0] == "(root)"


@pytest.mark.parametrize(
    "body",
    [
        "!!python/object/apply:os.system ['true']\n",
        "spec: !!python/name:os.system\n",
        "spec: !!binary 'not base64!'\n",
        "{[1]: 2}\n",
        "spec: !!omap [a, b]\n",
        "spec: !!set [a]\n",
        "%YAML 9.9\n---\na: 1\n",
        "spec: !custom 1\n",
    ],
)
def test_tags_and_forms_the_safe_loader_refuses_are_400(body: str) -> None:
    error = refusal(body.encode())
    assert error.status == 400 and errors_of(error)[0][0] == "(root)"


def test_a_body_past_one_mebibyte_is_413() -> None:
    error = refusal(b"a: " + b"x" * MAX_MANIFEST_BYTES)
    assert error.status == 413 and error.context["limit"] == MAX_MANIFEST_BYTES


# --- anything at all ---------------------------------------------------------------------------
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
YAML_PIECES = st.sampled_from(
    [
        "a",
        ": ",
        "- ",
        "\n",
        "  ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&x ",
        "*x",
        "!!int ",
        "!!float ",
        "!!timestamp ",
        "!!binary ",
        "!!python/object ",
        "<<: ",
        "? ",
        "|\n",
        ">\n",
        "'",
        '"',
        "#",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "2024-13-45",
        "1e999",
        ".inf",
        ".nan",
        "9" * 4400,
        "0x" + "f" * 4000,
        "0o7",
        "1_000",
        "1:30",
        "~",
        "null",
        "\t",
        "\x00",
        "\ufeff",
        "\ud800",
        "😀",
        "\\",
    ]
)
BODIES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(YAML_PIECES, max_size=60).map(lambda pieces: "".join(pieces).encode("utf-8", "surrogatepass")),
    VALUES.map(lambda value: yaml.safe_dump({"apiVersion": "smarter.sh/v1", "spec": value}).encode()),
    VALUES.map(lambda value: json.dumps({"kind": "Plugin", "spec": value}).encode()),
    st.builds(
        lambda depth, opener: (opener * depth).encode(),
        st.integers(0, 3000),
        st.sampled_from(["[", "{", "- ", "{a: ", "[{", " a:\n"]),
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_any_body_loads_as_a_mapping_or_is_refused_with_a_4xx(body: bytes) -> None:
    try:
        document = load_manifest(body)
    except SmarterError as error:
        assert 400 <= error.status < 500, error.description
        assert error.description
        return
    assert isinstance(document, dict)
    json.dumps(document, default=str)  # a tree of plain values, shallow enough to serialize


@settings(max_examples=150, deadline=None)
@given(VALUES)
def test_any_plain_value_round_trips_through_yaml_and_json(value: Any) -> None:
    for body in (
        yaml.safe_dump({"spec": value}).encode(),
        json.dumps({"spec": value}).encode(),
    ):
        assert load_manifest(body) == {"spec": value}
