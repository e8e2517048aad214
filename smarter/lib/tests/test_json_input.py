"""The bounded JSON parser every door uses: depth, size, numbers, constants and surrogates end
as a 4xx SmarterError naming the problem, and anything else a client can send either parses as
`json` would or is refused the same way; nothing else ever escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarter.lib.errors import PayloadTooLarge, SmarterError, ValidationFailed
from smarter.lib.json_input import MAX_DEPTH, parse_json, parse_json_object, too_deep

LIMIT = 1024 * 1024

# Strings full of what could fool a scan for structure: brackets, quotes and backslashes.
TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('[]{}"\\/ ab\n\t\u00e9\u2028😀')), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    return 0


def nested(depth: int, *, opener: str = "[", closer: str = "]", inner: str = "1") -> bytes:
    if opener == "{":
        return ('{"a":' * depth + inner + "}" * depth).encode()
    return (opener * depth + inner + closer * depth).encode()


def refusal(raw: bytes, *, max_bytes: int = LIMIT) -> SmarterError:
    with pytest.raises(SmarterError) as caught:
        parse_json(raw, max_bytes=max_bytes)
    return caught.value


# --- depth -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        nested(100_000),
        nested(100_000, opener="{"),
        nested(MAX_DEPTH + 1),
        nested(MAX_DEPTH + 1, opener="{"),
        b'{"a": [' * 40 + b"1" + b"]}" * 40,
        b"[" * 100_000,  # never closed
        b"[" * 100_000 + b"}" * 100_000,  # closed by the wrong bracket
        b'[["\\\\"' + b"[" * 70 + b"1" + b"]" * 72,  # an escaped backslash before the closing quote
        b'["\\"[[["' + b",[" * 70 + b"]" * 71,  # an escaped quote does not close the string
    ],
    ids=[
        "array-100000",
        "object-100000",
        "array-limit+1",
        "object-limit+1",
        "alternating-80",
        "unclosed",
        "mismatched",
        "escaped-backslash",
        "escaped-quote",
    ],
)
def test_json_nested_past_the_limit_is_refused_as_nested_too_deeply(raw: bytes) -> None:
    error = refusal(raw)
    assert isinstance(error, ValidationFailed) and error.status == 400
    assert error.description == (
        f"The body is nested too deeply: objects and arrays may nest at most {MAX_DEPTH} levels."
    )
    assert [item.as_dict() for item in error.errors] == [
        {"loc": "(root)", "msg": f"nested too deeply (more than {MAX_DEPTH} levels)"}
    ]
    assert error.context == {"limit": MAX_DEPTH}


@pytest.mark.parametrize("opener", ["[", "{"])
def test_json_nested_exactly_to_the_limit_parses(opener: str) -> None:
    value = parse_json(nested(MAX_DEPTH, opener=opener), max_bytes=LIMIT)
    assert depth_of(value) == MAX_DEPTH


def test_brackets_inside_strings_are_text_not_structure() -> None:
    raw = json.dumps({"prompt": "[" * 10_000 + "{" * 10_000, "more": ["]" * 500, '\\["{']}).encode()
    assert parse_json(raw, max_bytes=LIMIT)["prompt"] == "[" * 10_000 + "{" * 10_000


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_the_depth_scan_agrees_with_the_parsed_value(value: Any, limit: int) -> None:
    raw = json.dumps(value, ensure_ascii=bool(limit % 2)).encode()
    assert too_deep(raw, limit) == (depth_of(value) > limit)


# --- size --------------------------------------------------------------------------------------
def test_a_body_past_the_size_limit_is_413_with_the_limit() -> None:
    error = refusal(b'{"prompt": "' + b"x" * 2000 + b'"}', max_bytes=1000)
    assert isinstance(error, PayloadTooLarge) and error.status == 413
    assert error.context == {"limit": 1000, "size": 2014}


# --- numbers, constants, text ------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"9" * 4301,
        b'{"max_tokens": ' + b"1" * 5000 + b"}",
        b"[-" + b"7" * 100_000 + b"]",
    ],
    ids=["4301-digits", "5000-digits-in-an-object", "100000-digits-negative"],
)
def test_an_integer_past_4300_digits_is_400_saying_so(raw: bytes) -> None:
    error = refusal(raw)
    assert error.status == 400
    assert error.description == "A number in the body has more than 4300 digits; send it as a string."
    assert [item.as_dict() for item in error.errors] == [
        {"loc": "(root)", "msg": "a number may have at most 4300 digits"}
    ]


def test_an_integer_of_4300_digits_is_a_number() -> None:
    assert parse_json(b"9" * 4300, max_bytes=LIMIT) == int("9" * 4300)


@pytest.mark.parametrize(
    ("raw", "msg"),
    [
        (b"NaN", "invalid JSON: NaN is not a JSON value"),
        (b'{"temperature": Infinity}', "invalid JSON: Infinity is not a JSON value"),
        (b"[-Infinity]", "invalid JSON: -Infinity is not a JSON value"),
        (b"1e999", "invalid JSON: the number 1e999 is too large"),
        (b'{"t": -1.5e400}', "invalid JSON: the number -1.5e400 is too large"),
        (b'"\\ud800"', "invalid JSON: lone surrogate"),
        (b'{"prompt": "a\\udfff b"}', "invalid JSON: lone surrogate"),
        (b'["\\udc00\\ud800"]', "invalid JSON: lone surrogate"),
        (b"\xff\xfe\xfa", "invalid JSON: not UTF-8"),
        (b'{"a": "\xc3"}', "invalid JSON: not UTF-8"),
        (b"{'a': 1}", "invalid JSON"),
        (b"", "invalid JSON"),
        (b"[1,]", "invalid JSON"),
        (b'{"a":1}{"b":2}', "invalid JSON"),
    ],
)
def test_what_is_not_json_is_400_with_the_reason(raw: bytes, msg: str) -> None:
    error = refusal(raw)
    assert isinstance(error, ValidationFailed) and error.status == 400
    assert [item.as_dict() for item in error.errors] == [{"loc": "(root)", "msg": msg}]


def test_a_surrogate_pair_is_one_character() -> None:
    assert parse_json(b'{"prompt": "\\ud83d\\ude00"}', max_bytes=LIMIT) == {"prompt": "😀"}


def test_an_object_is_required_where_one_is_expected() -> None:
    assert parse_json_object(b"", max_bytes=LIMIT) == {}
    with pytest.raises(ValidationFailed) as caught:
        parse_json_object(b"[1, 2]", max_bytes=LIMIT)
    assert [item.as_dict() for item in caught.value.errors] == [{"loc": "(root)", "msg": "expected an object"}]


# --- anything at all ---------------------------------------------------------------------------
JSONISH_BYTES = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=st.sampled_from(list('[]{}",:0123456789.eE-+ \\untrfalsNIiy\ud800\udfff')), max_size=300).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    ),
    st.builds(
        lambda depth, opener, inner: nested(depth, opener=opener, inner=inner).decode(),
        st.integers(0, 200),
        st.sampled_from(["[", "{"]),
        st.sampled_from(["1", '"x"', "NaN", "1e999", "9" * 4400, '"\\ud800"', ""]),
    ).map(str.encode),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH_BYTES)
def test_any_bytes_parse_as_json_would_or_are_refused_with_a_4xx(raw: bytes) -> None:
    try:
        value = parse_json(raw, max_bytes=LIMIT)
    except SmarterError as error:
        assert 400 <= error.status < 500
        assert error.errors and error.errors[0].loc == "(root)"
        return
    assert value == json.loads(raw)
    assert depth_of(value) <= MAX_DEPTH
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # storable as it is
