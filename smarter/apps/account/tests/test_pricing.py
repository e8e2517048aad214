"""How a model's price is found in the price table: letter case ignored, a snapshot priced as its
family unless it has a row of its own, never as a shorter family, a row of zeros as free, and
nothing at all for a model without a row."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from smarter.apps.account.billing.models import Price
from smarter.apps.account.pricing import (
    DEFAULT_PRICES,
    forget_prices,
    is_priced,
    price_lookup,
    price_names,
    price_of,
    token_cost,
)

MINI = (Decimal("0.15"), Decimal("0.60"))
FOUR_O = (Decimal("2.50"), Decimal("10.00"))
FOUR_O_MAY = (Decimal("5.00"), Decimal("15.00"))
O1_PRO = (Decimal("150.00"), Decimal("600.00"))


@pytest.fixture(autouse=True)
def _fresh_prices(db: Any) -> Iterator[None]:
    forget_prices()
    yield
    forget_prices()


def _prices(provider: str, model: str) -> tuple[Decimal, Decimal] | None:
    found = price_lookup(provider=provider, model=model)
    return (found[0], found[1]) if found is not None else None


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # letter case and surrounding blanks
        ("gpt-4o", FOUR_O),
        ("GPT-4o", FOUR_O),
        ("GPT-4O", FOUR_O),
        ("  gpt-4o  ", FOUR_O),
        ("Gpt-4O-Mini", MINI),
        ("O1-PRO", O1_PRO),
        # dated and versioned snapshots take their family's price
        ("gpt-4o-2024-08-06", FOUR_O),
        ("gpt-4o-2024-11-20", FOUR_O),
        ("GPT-4o-2024-08-06", FOUR_O),
        ("gpt-4o-mini-2024-07-18", MINI),
        ("o1-pro-2025-03-19", O1_PRO),
        ("o1-2024-12-17", (Decimal("15.00"), Decimal("60.00"))),
        ("o3-mini-2025-01-31", (Decimal("1.10"), Decimal("4.40"))),
        ("gpt-4.1-nano-2025-04-14", (Decimal("0.10"), Decimal("0.40"))),
        ("gpt-4-0613", (Decimal("30.00"), Decimal("60.00"))),
        ("gpt-3.5-turbo-0125", (Decimal("0.50"), Decimal("1.50"))),
        ("gpt-4o-mini:latest", MINI),
        ("gpt-4o-20240806", FOUR_O),
        # ... unless the snapshot has a row of its own
        ("gpt-4o-2024-05-13", FOUR_O_MAY),
        ("GPT-4o-2024-05-13", FOUR_O_MAY),
        ("chatgpt-4o-latest", FOUR_O_MAY),
        # a longer family is never priced as a shorter one
        ("gpt-4o-mini-audio-preview", None),
        ("gpt-4o-realtime-preview-2024-12-17", None),
        ("o1-pro-preview", None),
        ("o1-preview", None),
        ("gpt-4o-search-preview", None),
        ("gpt-4.5-preview", None),
        ("gpt-3.5-turbo-16k-0613", None),
        # fine-tuned models are priced apart by the upstream: refused until priced
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", None),
        # anything else
        ("o5", None),
        ("stub-model", None),
        ("text-davinci-003", None),
        ("llama3.1:70b", None),
        ("", None),
    ],
)
def test_a_model_is_priced_by_its_most_specific_priced_name(
    model: str, expected: tuple[Decimal, Decimal] | None
) -> None:
    assert _prices("openai", model) == expected
    assert is_priced(provider="openai", model=model) is (expected is not None)


def test_the_names_a_model_is_priced_by_come_off_one_suffix_at_a_time() -> None:
    assert price_names("GPT-4o-Mini-2024-07-18") == ["gpt-4o-mini-2024-07-18", "gpt-4o-mini"]
    assert price_names("llama3.1:8b-2024-01-01") == ["llama3.1:8b-2024-01-01", "llama3.1:8b", "llama3.1"]
    assert price_names("chatgpt-4o-latest") == ["chatgpt-4o-latest", "chatgpt-4o"]
    assert price_names("o1-pro") == ["o1-pro"]
    assert price_names(":tag") == [":tag"]


def test_a_row_of_zeros_marks_a_model_free_and_priced() -> None:
    Price.objects.create(provider="*", model="house-model", prompt_per_million=0, completion_per_million=0)
    forget_prices()

    assert is_priced(provider="openai", model="House-Model-2025-01-01")
    assert token_cost(provider="openai", model="house-model", prompt_tokens=10**6, completion_tokens=10**6) == 0


def test_a_row_written_in_capitals_prices_every_spelling() -> None:
    Price.objects.create(provider="*", model="Acme-LLM", prompt_per_million=1, completion_per_million=2)
    forget_prices()

    assert _prices("openai", "acme-llm") == (Decimal("1"), Decimal("2"))
    assert _prices("openai", "ACME-LLM-0613") == (Decimal("1"), Decimal("2"))


def test_the_providers_own_row_wins_over_the_row_for_any_provider_of_the_same_name() -> None:
    Price.objects.create(provider="openai", model="gpt-4o", prompt_per_million=3, completion_per_million=12)
    forget_prices()

    assert _prices("openai", "gpt-4o-2024-08-06") == (Decimal("3"), Decimal("12"))
    assert _prices("groq", "gpt-4o-2024-08-06") == FOUR_O
    # a snapshot's own row, even for any provider, is more specific than its family's provider row
    assert _prices("openai", "gpt-4o-2024-05-13") == FOUR_O_MAY


def test_an_unpriced_model_costs_nothing_where_it_may_run() -> None:
    # An account's own Provider may run an unpriced model: that is the account's own bill.
    assert price_of(provider="my-groq", model="llama-3.1-8b-instant") == (Decimal(0), Decimal(0), Decimal(0))
    assert token_cost(provider="my-groq", model="llama-3.1-8b-instant", prompt_tokens=500, completion_tokens=50) == 0


def test_snapshots_are_charged_their_familys_price() -> None:
    cost = token_cost(provider="openai", model="gpt-4o-mini-2024-07-18", prompt_tokens=10**6, completion_tokens=10**6)

    assert cost == Decimal("0.75")  # gpt-4o-mini's 0.15 + 0.60, never gpt-4o's 2.50 + 10.00


def test_the_migrations_seed_every_default_price(db: Any) -> None:
    seeded = {
        (model, (prompt, completion))
        for model, prompt, completion in Price.objects.filter(provider="*").values_list(
            "model", "prompt_per_million", "completion_per_million"
        )
    }

    assert {(model, prices) for model, prices in DEFAULT_PRICES.items()} <= seeded
    for model in ("o1", "o1-mini", "o1-pro", "o3", "o3-mini", "o4-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"):
        assert is_priced(provider="openai", model=model), model
