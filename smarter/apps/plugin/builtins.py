"""Built-in functions a chatbot can enable (`spec.functions`): calculator and date_calculator.

The calculator evaluates arithmetic by walking Python's AST with a whitelist of node types;
nothing is ever passed to eval. Exponents and intermediate sizes are bounded so that an
expression like 9**9**9 is refused instead of eating the worker.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

MAX_EXPRESSION = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 10**100


class BuiltinError(ValueError):
    """The call cannot be answered; the message is meant for the model."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _check_size(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise BuiltinError("the result is not a finite number")
        if abs(value) > MAX_MAGNITUDE:
            raise BuiltinError("the result is too large")
        return value
    raise BuiltinError("only numbers are allowed")


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return _check_size(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise BuiltinError(f"exponents above {MAX_EXPONENT} are not allowed")
        if isinstance(node.op, ast.Pow) and abs(left) > 1 and abs(right) * math.log10(abs(left)) > 100:
            raise BuiltinError("the result is too large")
        try:
            return _check_size(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise BuiltinError("division by zero") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check_size(_UNARY[type(node.op)](_evaluate(node.operand)))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and len(node.args) <= 10
    ):
        arguments = [_evaluate(argument) for argument in node.args]
        try:
            return _check_size(_FUNCTIONS[node.func.id](*arguments))
        except (ValueError, TypeError, OverflowError) as error:
            raise BuiltinError(f"{node.func.id}: {error}") from None
    raise BuiltinError("only numbers, + - * / // % **, parentheses and " + ", ".join(_FUNCTIONS) + " are allowed")


def calculate(expression: str) -> int | float:
    if not isinstance(expression, str) or not expression.strip():
        raise BuiltinError("expression must be a non-empty string")
    if len(expression) > MAX_EXPRESSION:
        raise BuiltinError(f"expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise BuiltinError("the expression is not valid arithmetic") from None
    result = _evaluate(tree)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        return int(result)
    return result


_UNITS = {"days": 1, "weeks": 7}


def date_calculate(
    *, start_date: str | None = None, operation: str = "add", amount: int = 0, unit: str = "days"
) -> dict[str, Any]:
    try:
        start = date.fromisoformat(start_date) if start_date else datetime.now().date()
    except ValueError:
        raise BuiltinError("start_date must be an ISO date like 2026-11-21") from None
    if operation not in ("add", "subtract"):
        raise BuiltinError("operation must be add or subtract")
    if not isinstance(amount, int) or isinstance(amount, bool) or abs(amount) > 100_000:
        raise BuiltinError("amount must be an integer between -100000 and 100000")
    sign = 1 if operation == "add" else -1
    try:
        if unit in _UNITS:
            result = start + timedelta(days=sign * amount * _UNITS[unit])
        elif unit in ("months", "years"):
            months = sign * amount * (12 if unit == "years" else 1)
            year, month = divmod(start.month - 1 + months, 12)
            year += start.year
            month += 1
            day = min(start.day, _days_in_month(year, month))
            result = date(year, month, day)
        else:
            raise BuiltinError("unit must be days, weeks, months or years")
    except (OverflowError, ValueError):
        raise BuiltinError("the resulting date is out of range") from None
    return {"date": result.isoformat(), "weekday": result.strftime("%A")}


def _days_in_month(year: int, month: int) -> int:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


@dataclass(frozen=True)
class Builtin:
    name: str
    schema: dict[str, Any]
    run: Callable[[dict[str, Any]], Any]


def _run_calculator(arguments: dict[str, Any]) -> Any:
    return {"result": calculate(arguments.get("expression", ""))}


def _run_date_calculator(arguments: dict[str, Any]) -> Any:
    allowed = {"start_date", "operation", "amount", "unit"}
    unknown = sorted(set(arguments) - allowed)
    if unknown:
        raise BuiltinError(f"unknown argument {unknown[0]!r}")
    return date_calculate(**arguments)


BUILTINS: dict[str, Builtin] = {
    "calculator": Builtin(
        "calculator",
        {
            "type": "function",
            "function": {
                "name": "calculator",
                "description": "Evaluate an arithmetic expression, e.g. (3 + 4) * 2 / 7 or sqrt(2) ** 2.",
                "parameters": {
                    "type": "object",
                    "properties": {"expression": {"type": "string", "description": "the expression"}},
                    "required": ["expression"],
                    "additionalProperties": False,
                },
            },
        },
        _run_calculator,
    ),
    "date_calculator": Builtin(
        "date_calculator",
        {
            "type": "function",
            "function": {
                "name": "date_calculator",
                "description": "Add or subtract days, weeks, months or years to a date (default: today).",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "start_date": {"type": "string", "description": "ISO date, e.g. 2026-11-21"},
                        "operation": {"type": "string", "enum": ["add", "subtract"], "default": "add"},
                        "amount": {"type": "integer"},
                        "unit": {
                            "type": "string",
                            "enum": ["days", "weeks", "months", "years"],
                            "default": "days",
                        },
                    },
                    "required": ["amount"],
                    "additionalProperties": False,
                },
            },
        },
        _run_date_calculator,
    ),
}
