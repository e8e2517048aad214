"""What tokens cost, per provider and model, in US dollars per million tokens.

These defaults cover the platform's providers; a model not listed costs nothing until priced.
"""

from __future__ import annotations

from decimal import Decimal

# (prompt, completion) USD per 1M tokens.
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "smarter-offline": (Decimal("0"), Decimal("0")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-3.5-turbo": (Decimal("0.50"), Decimal("1.50")),
}
_MILLION = Decimal(1_000_000)
_CENTS_PRECISION = Decimal("0.00000001")


def token_cost(*, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    prompt_price, completion_price = DEFAULT_PRICES.get(model, (Decimal(0), Decimal(0)))
    cost = (prompt_price * prompt_tokens + completion_price * completion_tokens) / _MILLION
    return cost.quantize(_CENTS_PRECISION)
