"""Tool schemas the model sees, tool names back to plugins, and the built-in functions."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.plugin.builtins import BuiltinError, calculate, date_calculate
from smarter.apps.plugin.execution import builtin_execute
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.tools import TOOL_NAME, build_toolset, tool_schema


def static_plugin(name: str, pk: int = 1) -> Plugin:
    return Plugin(
        pk=pk,
        account_id=1,
        name=name,
        plugin_class="static",
        data={"description": f"About {name}", "staticData": {"contact": "x", "prices": [1, 2]}},
    )


def sql_plugin() -> Plugin:
    return Plugin(
        pk=9,
        account_id=1,
        name="courses",
        plugin_class="sql",
        data={
            "description": "Find courses",
            "sqlQuery": "SELECT 1",
            "parameters": [
                {
                    "name": "topic",
                    "type": "string",
                    "description": "topic",
                    "enum": ["AI", "web"],
                    "default": "AI",
                    "required": True,
                },
                {
                    "name": "max_cost",
                    "type": "number",
                    "required": False,
                    "enum": None,
                    "default": None,
                    "description": "",
                },
                {"name": "tags", "type": "array", "required": False, "enum": None, "default": None, "description": ""},
            ],
        },
    )


def test_a_static_plugin_offers_an_inquiry_type_enum_over_its_keys() -> None:
    assert tool_schema(static_plugin("everlasting_gobstopper")) == {
        "type": "function",
        "function": {
            "name": "everlasting_gobstopper",
            "description": "About everlasting_gobstopper",
            "parameters": {
                "type": "object",
                "properties": {
                    "inquiry_type": {
                        "type": "string",
                        "description": "which part of the information to return",
                        "enum": ["contact", "prices"],
                    }
                },
                "required": ["inquiry_type"],
                "additionalProperties": False,
            },
        },
    }


def test_parameters_become_types_enums_defaults_and_required() -> None:
    assert tool_schema(sql_plugin())["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "description": "topic", "enum": ["AI", "web"], "default": "AI"},
            "max_cost": {"type": "number"},
            "tags": {"type": "array", "items": {}},
        },
        "required": ["topic"],
        "additionalProperties": False,
    }


def test_names_are_valid_unique_stable_and_lead_back_to_the_plugin() -> None:
    a, b, builtin_clash = static_plugin("shop", 1), static_plugin("shop.v2", 2), static_plugin("calculator", 3)
    b.name = "shop"  # two plugins cleaning to the same name (e.g. from different sources)
    first = build_toolset([a, b, builtin_clash], functions=["calculator"])
    second = build_toolset([builtin_clash, b, a], functions=["calculator"])
    names = [schema["function"]["name"] for schema in first.schemas]
    assert names == [schema["function"]["name"] for schema in second.schemas]
    assert len(set(names)) == 4
    assert all(TOOL_NAME.match(name) for name in names)
    assert names[0] == "calculator" and first.builtin_for("calculator") == "calculator"
    assert names[1].startswith("calculator_") and first.plugin_for(names[1]) is builtin_clash
    assert names[2] == "shop" and first.plugin_for("shop") is a
    assert names[3].startswith("shop_") and first.plugin_for(names[3]) is b
    assert first.plugin_for("made_up") is None


def test_a_reserved_name_goes_to_no_plugin_nor_built_in() -> None:
    shop = static_plugin("shop", 1)
    # An OpenAI client's own tools named `shop` and `calculator`; then one named like a suffixed form too.
    plain = build_toolset([shop], functions=["calculator"], reserved=["shop", "calculator"])
    names = [schema["function"]["name"] for schema in plain.schemas]
    assert names[0].startswith("calculator_") and plain.builtin_for(names[0]) == "calculator"
    assert names[1].startswith("shop_") and plain.plugin_for(names[1]) is shop
    assert plain.plugin_for("shop") is None and plain.builtin_for("calculator") is None
    again = build_toolset([shop], functions=["calculator"], reserved=["shop", "calculator", names[1]])
    renamed = [schema["function"]["name"] for schema in again.schemas][1]
    assert renamed not in ("shop", names[1]) and renamed.startswith("shop_") and again.plugin_for(renamed) is shop
    assert all(TOOL_NAME.match(name) for name in (*names, renamed))


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(3 + 4) * 2 / 7", 2),
        ("2 ** 10", 1024),
        ("2^3", 8),
        ("sqrt(16)", 4),
        ("10 / 4", 2.5),
        ("-5 % 3", 1),
        ("max(1, 7, 3)", 7),
    ],
)
def test_the_calculator_does_arithmetic(expression: str, value: float) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9 ** 9 ** 9", "exponents above 1000 are not allowed"),
        ("10 ** 200", "the result is too large"),
        ("__import__('os').system('id')", "only numbers"),
        ("(1).__class__", "only numbers"),
        ("'a' * 10", "only numbers"),
        ("1 / 0", "division by zero"),
        ("x = 1", "not valid arithmetic"),
        ("1" * 600, "longer than 500"),
    ],
)
def test_the_calculator_refuses_what_is_not_bounded_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(BuiltinError, match=message):
        calculate(expression)


def test_the_date_calculator() -> None:
    assert date_calculate(start_date="2026-01-31", operation="add", amount=1, unit="months") == {
        "date": "2026-02-28",
        "weekday": "Saturday",
    }
    assert date_calculate(start_date="2026-11-21", operation="subtract", amount=3, unit="weeks")["date"] == "2026-10-31"
    assert date_calculate(start_date="2024-02-29", amount=1, unit="years")["date"] == "2025-02-28"


def test_builtins_return_results_and_errors_like_plugins() -> None:
    assert builtin_execute(name="calculator", arguments={"expression": "6*7"}).result == {"result": 42}
    failed: Any = builtin_execute(name="date_calculator", arguments={"start_date": "nope", "amount": 1})
    assert failed.error == "start_date must be an ISO date like 2026-11-21"
    assert builtin_execute(name="weather", arguments={}).error == "unknown function 'weather'"
