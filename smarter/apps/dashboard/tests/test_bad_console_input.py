"""Attacks typed into console forms: a plugin test's arguments, the manifest editor and the drop
zone. Each is refused on the page with what is wrong (and the field path of a manifest), never a
server error, and nothing changes."""

from __future__ import annotations

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.dashboard.tests.helpers import CATALOGUE, apply, signed_in
from smarter.lib.json_input import MAX_DEPTH

pytestmark = pytest.mark.django_db

TOO_DEEP = f"nested too deeply: objects and arrays may nest at most {MAX_DEPTH} levels."


@pytest.mark.parametrize(
    ("arguments", "invalid"),
    [
        ("[" * 100_000 + "]" * 100_000, f"The arguments field is {TOO_DEEP}"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, f"The arguments field is {TOO_DEEP}"),
        ('{"inquiry_type": ' + "9" * 5000 + "}", "A number in the arguments field has more than 4300 digits"),
        ('{"inquiry_type": NaN}', "The arguments field is not valid JSON: NaN is not a JSON value."),
        ('{"inquiry_type": 1e999}', "The arguments field is not valid JSON: the number 1e999 is too large."),
        ('{"inquiry_type": "\\ud800"}', "The arguments field holds a \\uD800-\\uDFFF escape"),
    ],
    ids=["array-100000", "object-50000", "integer-5000-digits", "nan", "float-overflow", "lone-surrogate"],
)
def test_plugin_test_arguments_that_attack_the_parser_are_explained_on_the_page(
    owner: Persona, arguments: str, invalid: str
) -> None:
    apply(owner, CATALOGUE)
    console = signed_in(owner)
    before = database_snapshot()
    response = console.post("/dashboard/plugins/catalogue/test/", {"arguments": arguments})
    assert response.status_code == 200
    assert response.context["test"]["invalid"].startswith(invalid)
    assert "result" not in response.context["test"]
    assert database_snapshot() == before


HEAD = "apiVersion: smarter.sh/v1\nkind: Plugin\nmetadata: {name: catalogue, pluginClass: static}\n"
MANIFESTS = {
    "deep-flow": (HEAD + "spec: " + "[" * 100_000 + "]" * 100_000, "(root)"),
    "deep-dashes": (HEAD + "spec:\n" + "- " * 100_000 + "x\n", "(root)"),
    "long-integer": (
        HEAD + "spec:\n  selector: {directive: always}\n  data:\n    description: d\n    staticData:\n"
        "      price: " + "9" * 5000 + "\n",
        "spec.data.staticData.price",
    ),
    "bad-date": (HEAD + "spec:\n  data:\n    staticData: {since: 2024-13-45}\n", "spec.data.staticData.since"),
    "infinity": (HEAD + "spec:\n  data:\n    staticData: {price: .inf}\n", "spec.data.staticData.price"),
    "billion-laughs": (
        'a: &a ["lol","lol"]\nb: &b [*a,*a]\n' + HEAD + "spec: {data: {staticData: {x: *b}}}\n",
        "(root)",
    ),
}


@pytest.mark.parametrize(("text", "loc"), MANIFESTS.values(), ids=MANIFESTS.keys())
def test_the_manifest_editor_refuses_a_manifest_that_attacks_the_loader_with_its_field_path(
    owner: Persona, text: str, loc: str
) -> None:
    apply(owner, CATALOGUE)
    console = signed_in(owner)
    before = database_snapshot()
    response = console.post("/dashboard/plugins/catalogue/", {"manifest": text})
    assert response.status_code == 400
    editor = response.context["editor"]
    assert [error["loc"] for error in editor["errors"]] == [loc]
    assert database_snapshot() == before


@pytest.mark.parametrize(("text", "loc"), MANIFESTS.values(), ids=MANIFESTS.keys())
def test_the_drop_zone_gives_a_manifest_that_attacks_the_loader_its_own_line(
    owner: Persona, text: str, loc: str
) -> None:
    console = signed_in(owner)
    before = database_snapshot()
    response = console.post("/dashboard/apply/", {"manifests": text})
    assert response.status_code == 200
    [line] = response.context["lines"]
    assert line.error and [error.loc for error in line.errors] == [loc]
    assert database_snapshot() == before
