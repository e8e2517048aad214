"""What tokens and tool calls cost, in US dollars, read from the price table (`Price`, edited in
the admin). `DEFAULT_PRICES` is what the data migrations seed.

A model is priced by the first of its `price_names` that has a row: its own name, then the names
left by stripping one snapshot or version suffix at a time, letter case ignored. So a dated
snapshot (`gpt-4o-2024-08-06`) takes its family's price (`gpt-4o`) unless it has a row of its
own, and a longer family is never priced as a shorter one (`gpt-4o-mini-2024-07-18` is priced
as `gpt-4o-mini`, never as `gpt-4o`). A model with no row at all is *unpriced*: the turn
pipeline refuses it on the platform's own key (an account's own Provider is the account's cost
and runs unpriced, at cost 0). A row of zeros is how the operator marks a model free.

Prices are read often (every turn, every charge) and change rarely, so each process keeps them
for `CACHE_SECONDS`: an edit in the admin applies within that time everywhere.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import time
from decimal import Decimal
from typing import Any

# (prompt, completion) USD per 1M tokens, for any provider serving the model: OpenAI's public
# standard-tier prices. A snapshot priced apart from its family has a row of its own.
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "smarter-offline": (Decimal("0"), Decimal("0")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-2024-05-13": (Decimal("5.00"), Decimal("15.00")),
    "chatgpt-4o-latest": (Decimal("5.00"), Decimal("15.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "gpt-5": (Decimal("1.25"), Decimal("10.00")),
    "o1": (Decimal("15.00"), Decimal("60.00")),
    "o1-mini": (Decimal("1.10"), Decimal("4.40")),
    "o1-pro": (Decimal("150.00"), Decimal("600.00")),
    "o3": (Decimal("2.00"), Decimal("8.00")),
    "o3-mini": (Decimal("1.10"), Decimal("4.40")),
    "o3-pro": (Decimal("20.00"), Decimal("80.00")),
    "o4-mini": (Decimal("1.10"), Decimal("4.40")),
    "gpt-4-turbo": (Decimal("10.00"), Decimal("30.00")),
    "gpt-4": (Decimal("30.00"), Decimal("60.00")),
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

# A name and its last snapshot or version suffix: `:tag` (local servers' tags), a date as
# `-YYYY-MM-DD` or `-YYYYMMDD`, four digits (`-0613`, `-2407`), or `-latest`. The greedy name
# leaves the shortest suffix, so suffixes come off one at a time, the last first.
_SNAPSHOT = re.compile(r"(?P<family>.+)(?::[^:]*|-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest)")

Prices = tuple[Decimal, Decimal, Decimal]

_lock = threading.Lock()
_table: dict[tuple[str, str], Prices] = {}
_loaded_at = -1e9


def _prices() -> dict[tuple[str, str], Prices]:
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
            table: dict[tuple[str, str], Prices] = {}
            for row in Price.objects.all():
                key = (row.provider.lower(), row.model.strip().lower())
                # Two rows differing only in letter case: the one written in lower case wins.
                if key not in table or row.model == key[1]:
                    table[key] = (row.prompt_per_million, row.completion_per_million, row.per_call)
            _table = table
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


@functools.lru_cache(maxsize=1024)  # every turn prices its model; models are few
def _names(model: str) -> tuple[str, ...]:
    name = model.strip().lower()
    names: list[str] = []
    while name and name not in names:
        names.append(name)
        match = _SNAPSHOT.fullmatch(name)
        if match is None:
            break
        name = match["family"]
    return tuple(names)


def price_names(model: str) -> list[str]:
    """The names `model` is priced by, most specific first: the name in lower case, then what is
    left after stripping each trailing snapshot or version suffix in turn (`gpt-4o-2024-08-06`,
    `gpt-4o`). Only these suffixes are stripped, so a family never takes a shorter family's
    price (`gpt-4o-mini-2024-07-18` gives `gpt-4o-mini`, never `gpt-4o`)."""
    return list(_names(model))


def price_lookup(*, provider: str, model: str) -> Prices | None:
    """(prompt per 1M, completion per 1M, per call) of the most specific priced name of `model`
    (for each name, the provider's own row, else the `*` row); None when the model is unpriced."""
    table = _prices()
    provider = provider.lower()
    for name in _names(model):
        found = table.get((provider, name)) or table.get((ANY_PROVIDER, name))
        if found is not None:
            return found
    return None


def priced_name(*, provider: str, model: str) -> str | None:
    """The price table's name that prices `model` (`gpt-4o` for `gpt-4o-2024-08-06`); None when
    unpriced. The table is the operator's, so its names are a bounded set (metrics label by it)."""
    table = _prices()
    provider = provider.lower()
    for name in _names(model):
        if (provider, name) in table or (ANY_PROVIDER, name) in table:
            return name
    return None


def is_priced(*, provider: str, model: str) -> bool:
    """Whether `model` has a price (a row of zeros included: the operator marked it free)."""
    return price_lookup(provider=provider, model=model) is not None


def price_of(*, provider: str, model: str) -> Prices:
    """Like `price_lookup`, with zeros for an unpriced model (an account's own Provider's)."""
    return price_lookup(provider=provider, model=model) or _ZERO


def token_cost(*, model: str, prompt_tokens: int, completion_tokens: int, provider: str = ANY_PROVIDER) -> Decimal:
    prompt_price, completion_price, _ = price_of(provider=provider, model=model)
    cost = (prompt_price * prompt_tokens + completion_price * completion_tokens) / _MILLION
    return cost.quantize(_PRECISION)


def call_cost(*, kind: str) -> Decimal:
    """The price of one tool call (`plugin` or `tool`)."""
    return price_of(provider=TOOL_PROVIDER, model=kind)[2].quantize(_PRECISION)
