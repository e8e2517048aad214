"""No 5xx on bad input: every door that reads a body answers each attack with a 4xx and the error
envelope, through real HTTP, and changes nothing. Then any body at all, generated: below 500,
with the envelope whenever it is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.doors import CHAT_DOORS, DOORS, ROOT_DOMAIN, Door, Platform
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.lib.json_input import MAX_DEPTH

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform(asgi_server: Any, owner: Persona, smarter_settings: Any) -> Iterator[Platform]:
    smarter_settings.root_domain = ROOT_DOMAIN
    smarter_settings.llm_provider = "offline"
    served = Platform(asgi_server, owner)
    yield served
    served.close()


def refused(response: httpx.Response, door: Door, status: int) -> dict[str, Any]:
    """The error envelope of API.md, with the status it was sent with."""
    assert response.status_code == status, (door.name, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), door.name
    body = response.json()
    assert body["status"] == status and body["errorClass"] and body["description"], body
    assert isinstance(body["context"], dict)
    if door.openai:
        assert body["error"]["message"] == body["description"]
    return body


# --- JSON nested 100,000 deep, and its relatives ---------------------------------------------------
ARRAYS = b"[" * 100_000 + b"]" * 100_000
OBJECTS = b'{"a":' * 40_000 + b"1" + b"}" * 40_000  # as deep as fits a chat door's 256 KiB
DEEP_FORMS = {
    "array-100000": ARRAYS,
    "object-40000": OBJECTS,
    "prompt-then-100000": b'{"prompt": "hi", "x": ' + ARRAYS + b"}",
    "in-a-message": b'{"model": "shop", "messages": [{"role": "user", "content": "hi", "extra": ' + ARRAYS + b"}]}",
    "in-arguments": b'{"arguments": ' + OBJECTS + b"}",
    "alternating-limit+1": b'{"a": [' * ((MAX_DEPTH + 2) // 2) + b"1" + b"]}" * ((MAX_DEPTH + 2) // 2),
    "unclosed-100000": b"[" * 100_000,
    "mismatched-100000": b"[" * 50_000 + b"}" * 50_000,
}


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_every_door_answers_json_nested_100000_deep_with_400_nested_too_deeply(platform: Platform, door: Door) -> None:
    before = database_snapshot()
    for form, body in DEEP_FORMS.items():
        response = platform.post(door, body)
        what = "manifest" if door.name == "apply" else "body"  # what the loader calls its body
        envelope = refused(response, door, 400)
        assert envelope["description"] == (
            f"The {what} is nested too deeply: objects and arrays may nest at most {MAX_DEPTH} levels."
        ), (door.name, form)
        assert envelope["errors"] == [{"loc": "(root)", "msg": f"nested too deeply (more than {MAX_DEPTH} levels)"}]
    assert database_snapshot() == before


def test_apply_refuses_yaml_nested_deeply_and_yaml_bombs(platform: Platform) -> None:
    door = next(door for door in DOORS if door.name == "apply")
    forms = {
        "flow": b"apiVersion: smarter.sh/v1\nkind: Secret\nspec: " + b"[" * 100_000 + b"]" * 100_000,
        "block-dashes": b"apiVersion: smarter.sh/v1\nkind: Secret\nspec:\n" + b"- " * 100_000 + b"x\n",
        "indented": b"".join(b" " * level + b"a:\n" for level in range(200)),
        "billion-laughs": b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        b"apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: bomb}\nspec: {config: {value: *c}}\n",
    }
    before = database_snapshot()
    for form, body in forms.items():
        for content_type in ("application/yaml", "application/json", "text/plain"):
            envelope = refused(platform.post(door, body, **{"Content-Type": content_type}), door, 400)
            assert envelope["errors"][0]["loc"] == "(root)", (form, content_type)
            assert "nested too deeply" in envelope["description"] or "aliases" in envelope["description"]
    assert database_snapshot() == before


# --- what is not JSON (or not storable) ----------------------------------------------------------
NOT_JSON_FORMS = {
    "integer-5000-digits": (b'{"prompt": "hi", "max_tokens": ' + b"9" * 5000 + b"}", "a number may have at most"),
    "integer-100000-digits": (b"[" + b"1" * 100_000 + b"]", "a number may have at most"),
    "nan": (b'{"prompt": "hi", "temperature": NaN}', "invalid JSON: NaN is not a JSON value"),
    "infinity": (b'{"prompt": "hi", "x": -Infinity}', "invalid JSON: -Infinity is not a JSON value"),
    "float-overflow": (b'{"prompt": "hi", "x": 1e999}', "invalid JSON: the number 1e999 is too large"),
    "lone-surrogate": (b'{"prompt": "\\ud800 hi"}', "invalid JSON: lone surrogate"),
    "not-utf8": (b'{"prompt": "\xff\xfe"}', "invalid JSON: not UTF-8"),
    "garbage": (b"prompt=hi", "invalid JSON"),
    "truncated": (b'{"prompt": "hi"', "invalid JSON"),
}


@pytest.mark.parametrize("door", [door for door in DOORS if door.name != "apply"], ids=lambda door: door.name)
def test_every_door_refuses_what_is_not_json_with_400_and_the_reason(platform: Platform, door: Door) -> None:
    before = database_snapshot()
    for form, (body, msg) in NOT_JSON_FORMS.items():
        envelope = refused(platform.post(door, body), door, 400)
        [error] = envelope["errors"]
        assert error["loc"] == "(root)" and error["msg"].startswith(msg), (door.name, form, error)
    assert database_snapshot() == before


# --- a 3 MB body -------------------------------------------------------------------------------
def _big(size: int) -> bytes:
    return b'{"prompt": "' + b"x" * (size - 14) + b'"}'


SIZE_FORMS = {
    "3-MB": lambda limit: _big(3_000_000),
    "limit+1": lambda limit: _big(limit + 1),
    "3-MB-chunked": lambda limit: iter([_big(3_000_000)[i : i + 65536] for i in range(0, 3_000_000, 65536)]),
}


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_every_door_answers_a_body_past_its_limit_with_413(platform: Platform, door: Door) -> None:
    before = database_snapshot()
    for form, body in SIZE_FORMS.items():
        if form.endswith("chunked") and not door.reads_chunked:
            continue
        envelope = refused(platform.post(door, body(door.limit)), door, 413)
        assert envelope["errorClass"] == "PayloadTooLarge", form
        assert envelope["context"]["limit"] == door.limit, (door.name, form)
    assert database_snapshot() == before


@pytest.mark.parametrize("door", CHAT_DOORS, ids=lambda door: door.name)
def test_a_chat_body_at_the_limit_is_read(platform: Platform, door: Door) -> None:
    response = platform.post(door, b'{"prompt": "hi", "pad": "' + b" " * (door.limit - 29) + b'"}')
    assert response.status_code != 413, response.text[:200]
    assert response.status_code < 500


# --- any body at all -----------------------------------------------------------------------------
TEXT = st.text(max_size=40)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12
)
FIELDS = {
    "prompt": st.text(min_size=1, max_size=60) | JSON_VALUE,
    "session_key": st.text(max_size=70) | JSON_VALUE,
    "stream": st.booleans() | JSON_VALUE,
    "model": st.sampled_from(["shop", "nope", ""]) | JSON_VALUE,
    "messages": st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]), "content": TEXT | JSON_VALUE}
        ),
        max_size=3,
    )
    | JSON_VALUE,
    "arguments": st.dictionaries(st.sampled_from(["inquiry_type", "x"]), JSON_VALUE, max_size=2) | JSON_VALUE,
    "overrides": st.dictionaries(
        st.sampled_from(["temperature", "max_tokens", "plugins", "model", "system_role", "x"]), JSON_VALUE, max_size=3
    )
    | JSON_VALUE,
    "temperature": JSON_VALUE,
    "max_tokens": JSON_VALUE,
}
BODIES = st.one_of(
    st.fixed_dictionaries({}, optional=FIELDS).map(lambda body: json.dumps(body).encode()),
    JSON_VALUE.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.text(alphabet=st.sampled_from(list('{}[]":,0123456789eE.-\\ud8NaIfity')), max_size=200).map(str.encode),
)


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_any_body_sent_to_a_door_answers_below_500_with_the_envelope_when_refused(
    platform: Platform, door: Door
) -> None:
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=BODIES)
    def probe(body: bytes) -> None:
        response = platform.post(door, body)
        assert response.status_code < 500, (door.name, body[:200], response.text[:300])
        if response.status_code >= 400:
            refused(response, door, response.status_code)

    probe()
