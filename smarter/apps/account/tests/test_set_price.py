"""`manage.py set_price`: the operator prices a model from the command line (a local model on the
platform's own key needs one), one JSON line out; a wrong value changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from smarter.apps.account.billing.models import Price
from smarter.apps.account.pricing import is_priced, token_cost

pytestmark = pytest.mark.django_db


def set_price(*args: str) -> dict[str, str]:
    out = StringIO()
    call_command("set_price", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_a_model_priced_at_zero_becomes_priced_and_free() -> None:
    assert not is_priced(provider="openai", model="smollm2")

    line = set_price("SmolLM2", "--prompt", "0", "--completion", "0")

    assert line == {
        "provider": "*",
        "model": "smollm2",
        "promptPerMillion": "0",
        "completionPerMillion": "0",
        "perCall": "0",
    }
    assert is_priced(provider="openai", model="smollm2")
    assert token_cost(model="smollm2", prompt_tokens=1000, completion_tokens=1000, provider="openai") == 0


def test_setting_a_price_again_replaces_it_and_a_provider_row_wins_for_that_provider() -> None:
    set_price("house-model", "--prompt", "1", "--completion", "2")
    set_price("house-model", "--prompt", "0.5", "--completion", "1.5")
    set_price("house-model", "--prompt", "3", "--completion", "4", "--provider", "together")

    assert Price.objects.filter(model="house-model").count() == 2
    cost = token_cost(model="house-model", prompt_tokens=1_000_000, completion_tokens=1_000_000, provider="openai")
    assert cost == Decimal("2.0")
    cost = token_cost(model="house-model", prompt_tokens=1_000_000, completion_tokens=1_000_000, provider="together")
    assert cost == Decimal("7.0")


@pytest.mark.parametrize(
    ("args", "told"),
    [
        (["m", "--prompt", "-1", "--completion", "0"], "promptPerMillion: must be between 0 and 999999.999999"),
        (["m", "--prompt", "0", "--completion", "free"], "completionPerMillion: 'free' is not a number"),
        (["m", "--prompt", "0", "--completion", "NaN"], "completionPerMillion: must be between 0"),
        (["m", "--prompt", "1e9", "--completion", "0"], "promptPerMillion: must be between 0"),
        (["m", "--prompt", "0", "--completion", "0", "--per-call", "Infinity"], "perCall: must be between 0"),
        (["two words", "--prompt", "0", "--completion", "0"], "model: a model name of 1 to 255 characters"),
        (["  ", "--prompt", "0", "--completion", "0"], "model: a model name"),
        (["m" * 256, "--prompt", "0", "--completion", "0"], "model: a model name"),
        (["m", "--prompt", "0", "--completion", "0", "--provider", ""], "provider: a provider name"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field_and_nothing_changes(args: list[str], told: str) -> None:
    set_price("m", "--prompt", "1", "--completion", "1")
    before = list(Price.objects.values_list("provider", "model", "prompt_per_million", "completion_per_million"))

    with pytest.raises(CommandError) as raised:
        call_command("set_price", *args, stdout=StringIO())

    assert str(raised.value).startswith("The price is invalid; fix the fields listed in errors.")
    assert told in str(raised.value)
    after = list(Price.objects.values_list("provider", "model", "prompt_per_million", "completion_per_million"))
    assert after == before
