"""`GET /api/v1/usage/` parameters: a day at either end of the calendar, or past it, garbage and
unknown groupings answer 400 naming the parameter; any query string at all answers below 500."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarter.apps.account.tests.factories import Persona

pytestmark = pytest.mark.django_db

USAGE = "/api/v1/usage/"
OUT_OF_RANGE = "must be a day between 1970-01-01 and 9998-12-31"
NOT_A_DATE = "must be a date (2026-11-01) or an ISO 8601 date-time"


@pytest.mark.parametrize(
    ("params", "loc", "msg"),
    [
        ({"end": "9999-12-31"}, "end", OUT_OF_RANGE),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "start+end", OUT_OF_RANGE),
        ({"end": "9999-12-31T23:59:59"}, "end", OUT_OF_RANGE),
        ({"end": "9999-12-31T23:00:00-10:00"}, "end", OUT_OF_RANGE),
        ({"start": "0001-01-01"}, "start", OUT_OF_RANGE),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start+end", OUT_OF_RANGE),
        ({"start": "0001-01-01T00:00:00+14:00"}, "start", OUT_OF_RANGE),
        ({"start": "1969-12-31"}, "start", OUT_OF_RANGE),
        ({"end": "10000-01-01"}, "end", NOT_A_DATE),
        ({"end": "+10000-01-01"}, "end", NOT_A_DATE),
        ({"start": "garbage"}, "start", NOT_A_DATE),
        ({"start": "2026-02-30"}, "start", NOT_A_DATE),
        ({"end": "2026-11-01T25:00"}, "end", NOT_A_DATE),
        ({"end": "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff10\uff11"}, "end", NOT_A_DATE),  # fullwidth digits
        ({"start": "2026-11-01\x00"}, "start", "Null characters are not allowed."),
        ({"end": "9" * 41}, "end", "Ensure this field has no more than 40 characters."),
        ({"group_by": "nonsense"}, "group_by", '"nonsense" is not a valid choice.'),
        ({"group_by": "DAY"}, "group_by", '"DAY" is not a valid choice.'),
    ],
)
def test_a_bad_usage_parameter_answers_400_naming_it(
    owner: Persona, params: dict[str, str], loc: str, msg: str
) -> None:
    response = owner.client.get(USAGE, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["errorClass"], body["status"]) == ("ValidationError", 400)
    assert body["errors"] == [{"loc": name, "msg": msg} for name in loc.split("+")]


@pytest.mark.parametrize(
    ("params", "start", "end"),
    [
        ({"start": "1970-01-01", "end": "1970-01-01"}, "1970-01-01T00:00:00+00:00", "1970-01-02T00:00:00+00:00"),
        ({"start": "9998-12-30", "end": "9998-12-31"}, "9998-12-30T00:00:00+00:00", "9999-01-01T00:00:00+00:00"),
    ],
)
def test_the_first_and_last_days_allowed_are_answered(
    owner: Persona, params: dict[str, str], start: str, end: str
) -> None:
    response = owner.client.get(USAGE, params)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["start"], data["end"], data["rows"]) == (start, end, [])


QUERY_VALUES = st.one_of(
    st.text(max_size=45),
    st.dates().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["day", "chatbot", "model", "api_key"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["start", "end", "group_by", "other"]), QUERY_VALUES, max_size=3))
def test_any_usage_query_answers_below_500(owner: Persona, params: dict[str, Any]) -> None:
    response = owner.client.get(USAGE, params)
    assert response.status_code in (200, 400), (params, response.content[:300])
    if response.status_code == 400:
        assert {error["loc"] for error in response.json()["errors"]} <= {"start", "end", "group_by"}
