"""What tokens and tool calls cost, in US dollars, read from the price table (`Price`, edited in
the admin). `DEFAULT_PRICES` is what the data migration seeds; a model with no row costs nothing
until priced.

Prices are read often (every turn, every charge) and change rarely, so each process keeps them
for `CACHE_SECONDS`: an edit in the admin applies within that time everywhere.
"""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal
from typing import Any

# (prompt, completion) USD per 1M tokens, for any provider serving the model.
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "smarter-offline": (Decimal("0"), Decimal("0")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-3.5-turbo": (Decimal("0.50"), Decimal("1.50")),
}
# Tool calls: provider `smarter`, model `plugin` (a plugin ran) or `tool` (a built-in function).
DEFAULT_CALL_PRICES: dict[str, Decimal] = {"plugin": Decimal("0"), "tool": Decimal("0")}
TOOL_PROVIDER = "smarter"
ANY_PROVIDER = "*"
CACHE_SECONDS = 30.0

_MILLION = Decimal(1_000_000)
_PRECISION = Decimal("0.00000001")
_ZERO = (Decimal(0), Decimal(0), Decimal(0))

_lock = threading.Lock()
_table: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {}
_loaded_at = -1e9


def _prices() -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    global _table, _loaded_at
    now = time.monotonic()
    if now - _loaded_at < CACHE_SECONDS:
        return _table
    if _in_event_loop() and _loaded_at > 0:
        # Async code may not query the database; it prices with the table last read (the
        # pipeline reads it in its database thread moments before).
        return _table
    from smarter.apps.account.billing.models import Price

    with _lock:
        if now - _loaded_at >= CACHE_SECONDS:
            _table = {
                (row.provider, row.model): (row.prompt_per_million, row.completion_per_million, row.per_call)
                for row in Price.objects.all()
            }
            _loaded_at = now
    return _table


def seed_default_prices(price_model: Any) -> None:
    """Insert the default rows that are missing (the data migration passes its historical model)."""
    for model, (prompt, completion) in DEFAULT_PRICES.items():
        price_model.objects.get_or_create(
            provider=ANY_PROVIDER,
            model=model,
            defaults={"prompt_per_million": prompt, "completion_per_million": completion},
        )
    for kind, per_call in DEFAULT_CALL_PRICES.items():
        price_model.objects.get_or_create(provider=TOOL_PROVIDER, model=kind, defaults={"per_call": per_call})
    forget_prices()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def forget_prices() -> None:
    """Read the table again at the next lookup (after an edit, and in tests)."""
    global _loaded_at
    _loaded_at = -1e9


def price_of(*, provider: str, model: str) -> tuple[Decimal, Decimal, Decimal]:
    """(prompt per 1M, completion per 1M, per call): the provider's own row, else the model's."""
    table = _prices()
    return table.get((provider, model)) or table.get((ANY_PROVIDER, model)) or _ZERO


def token_cost(*, model: str, prompt_tokens: int, completion_tokens: int, provider: str = ANY_PROVIDER) -> Decimal:
    prompt_price, completion_price, _ = price_of(provider=provider, model=model)
    cost = (prompt_price * prompt_tokens + completion_price * completion_tokens) / _MILLION
    return cost.quantize(_PRECISION)


def call_cost(*, kind: str) -> Decimal:
    """The price of one tool call (`plugin` or `tool`)."""
    return price_of(provider=TOOL_PROVIDER, model=kind)[2].quantize(_PRECISION)
