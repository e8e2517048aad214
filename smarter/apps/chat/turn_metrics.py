"""What the turn pipeline counts in the platform's metrics (`smarter.lib.metrics`).

A turn's provider and model become bounded labels here: `offline`, `openai` or `own` (an
account's own Provider, whatever the account named it), and the price table's name of the model,
or `other` for a model the table does not price (a name a client or an account's endpoint chose).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from smarter.apps.account import pricing
from smarter.apps.chat.providers.offline import OFFLINE_MODEL
from smarter.apps.plugin.execution import PluginResult
from smarter.apps.plugin.models import Plugin
from smarter.lib import metrics

if TYPE_CHECKING:  # the recording module counts its turns here
    from smarter.apps.chat.recording import TurnRecord

_MAX_REMEMBERED = 1024
_REMEMBERED_SECONDS = 300.0  # a model the operator prices later is labelled by name within this
_labels: dict[tuple[str, str], tuple[str, str]] = {}
_remembered_since = time.monotonic()


def model_labels(provider: str, model: str) -> tuple[str, str]:
    """(provider, model) as metric labels; remembered a while, since every turn asks. May read the
    price table: called where the database may be used (the pipeline's database thread)."""
    global _remembered_since
    key = (provider, model)
    found = _labels.get(key)
    if found is not None:
        return found
    if len(_labels) >= _MAX_REMEMBERED or time.monotonic() - _remembered_since > _REMEMBERED_SECONDS:
        _labels.clear()
        _remembered_since = time.monotonic()
    if provider == "offline":
        found = ("offline", OFFLINE_MODEL)
    else:
        kind = provider if provider == "openai" else "own"
        found = (kind, pricing.priced_name(provider=provider, model=model) or metrics.OTHER)
    _labels[key] = found
    return found


Labels = tuple[str, str]  # (provider, model), from `model_labels`


def llm_call_observe(*, labels: Labels, seconds: float, outcome: str) -> None:
    if not metrics.recording():
        return
    metrics.llm_requests.labels(*labels, metrics.bounded(outcome, metrics.LLM_OUTCOMES)).inc()
    metrics.llm_duration.labels(*labels).observe(seconds)


def first_token_observe(*, labels: Labels, seconds: float) -> None:
    if not metrics.recording():
        return
    metrics.llm_first_token.labels(*labels).observe(seconds)


def tool_observe(*, plugin: Plugin | None, builtin: bool, result: PluginResult, ran: bool) -> None:
    if not metrics.recording():
        return
    if plugin is not None:
        plugin_class = metrics.bounded(plugin.plugin_class, metrics.PLUGIN_CLASSES, "unknown")
    else:
        plugin_class = "builtin" if builtin else "unknown"
    outcome = "refused" if not ran else ("ok" if result.ok else "error")
    metrics.plugin_calls.labels(plugin_class, outcome).inc()
    if ran:
        metrics.plugin_duration.labels(plugin_class).observe(result.ms / 1000)


def turn_observe(record: TurnRecord, cost: Decimal) -> None:
    """A recorded turn: its outcome, time, tokens and cost."""
    if not metrics.recording():
        return
    provider, model = model_labels(record.provider, record.model)
    outcome = "cancelled" if record.cancelled else ("error" if record.error else "ok")
    channel = metrics.bounded(record.turn.channel, metrics.CHANNELS)
    metrics.turns.labels(provider, model, channel, outcome).inc()
    metrics.turn_duration.labels(provider, model).observe(record.latency_ms / 1000)
    usage = record.usage
    if usage.prompt_tokens:
        metrics.tokens.labels(provider, model, "input").inc(usage.prompt_tokens)
    if usage.completion_tokens:
        metrics.tokens.labels(provider, model, "output").inc(usage.completion_tokens)
    if cost:
        metrics.cost.labels(provider, model).inc(float(cost))
