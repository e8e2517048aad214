"""The platform's Prometheus metrics: their definitions, and the scrape.

Every label takes its value from a small fixed set, never from what a tenant or a visitor
chooses: no account, user, key, session, path, host or free text. A value outside a label's set
is counted as `other`, so hostile input (random model names, paths, hosts) cannot grow the
number of series. The callers normalise what only they understand (a model name against the
price table, a plugin's class); `bounded` is the last gate for every label.

Several processes serve one pod (gunicorn's workers, Celery's pool): with the
`PROMETHEUS_MULTIPROC_DIR` environment variable set before the first import of
`prometheus_client`, each process writes its samples to files there and a scrape sums them
(`prometheus_client.multiprocess`), so any worker answers the scrape for all of them. Without
it (one process, `make run`) the samples live in memory.

Nothing is recorded while no token is set (`recording`): what cannot be scraped costs nothing.

Gauges read at scrape time (queue depth, the billing outbox) are collectors that apps register
with `scrape_collector`: they are computed by whichever process answers the scrape.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from smarter import __version__

logger = logging.getLogger(__name__)

OTHER = "other"
# The text format every Prometheus release reads (2.x included); our names need none of 1.0.0's escaping.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# --- the bounded label values --------------------------------------------------------------------
DOORS = frozenset({"openai", "api", "console", "public", "webhook", OTHER})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CLASSES = frozenset({"1xx", "2xx", "3xx", "4xx", "5xx"})
PROVIDERS = frozenset({"offline", "openai", "own"})  # own: an account's own Provider, whatever its name
CHANNELS = frozenset({"api", "cli", "openai", "public", "sandbox", "whatsapp", "twilio", "evaluation", OTHER})
TURN_OUTCOMES = frozenset({"ok", "error", "cancelled"})
LLM_OUTCOMES = frozenset({"ok", "error", "timeout"})
DIRECTIONS = frozenset({"input", "output"})
PLUGIN_CLASSES = frozenset({"static", "sql", "api", "knowledge", "builtin", "unknown"})
PLUGIN_OUTCOMES = frozenset({"ok", "error", "refused"})
RETRIEVAL_BACKENDS = frozenset({"sqlite", "pgvector", OTHER})
LIMITS = frozenset(
    {
        "api_key",
        "account",
        "client_ip",
        "chatbot",
        "user",
        "budget",
        "login",
        "plugin_test",
        "channel_sender",
        "channel_webhook",
        "channel_refusals",
        "evaluation",
        "knowledge",
        "embeddings",
        "metrics",
        "feedback",
        OTHER,
    }
)
CHANNEL_TYPES = frozenset({"whatsapp", "twilio", OTHER})
WEBHOOK_OUTCOMES = frozenset(
    {"accepted", "duplicate", "status", "handshake", "refused", "malformed", "too_large", "rate_limited", "not_found"}
)
REPLY_OUTCOMES = frozenset({"sent", "failed"})

# Seconds: a turn waits on a model (up to minutes); an HTTP answer is mostly milliseconds.
TURN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def bounded(value: str, allowed: frozenset[str], fallback: str = OTHER) -> str:
    return value if value in allowed else fallback


def status_class(status: int) -> str:
    return bounded(f"{status // 100}xx", STATUS_CLASSES, "5xx")


# --- the metrics -------------------------------------------------------------------------------
# Defined in a registry of their own: the scrape builds its answer from it (one process) or from
# the files every process wrote (several), never from the library's default registry.
_registry = CollectorRegistry(auto_describe=True)

http_requests = Counter(
    "smarter_http_requests",
    "HTTP requests answered, by door, method and status class.",
    ["door", "method", "status"],
    registry=_registry,
)
http_duration = Histogram(
    "smarter_http_request_duration_seconds",
    "Time to answer an HTTP request (a stream: until its last byte), by door.",
    ["door"],
    buckets=FAST_BUCKETS,
    registry=_registry,
)
turns = Counter(
    "smarter_turns",
    "Chat turns recorded, by provider, model, channel and outcome.",
    ["provider", "model", "channel", "outcome"],
    registry=_registry,
)
turn_duration = Histogram(
    "smarter_turn_duration_seconds",
    "Time from a turn's start to its recorded end, tool rounds included.",
    ["provider", "model"],
    buckets=TURN_BUCKETS,
    registry=_registry,
)
llm_requests = Counter(
    "smarter_llm_requests",
    "Calls to a model provider, by outcome (error: refused or broken; timeout: no answer in time).",
    ["provider", "model", "outcome"],
    registry=_registry,
)
llm_duration = Histogram(
    "smarter_llm_request_duration_seconds",
    "Time a model call took, to its last token.",
    ["provider", "model"],
    buckets=TURN_BUCKETS,
    registry=_registry,
)
llm_first_token = Histogram(
    "smarter_llm_time_to_first_token_seconds",
    "Time from a streamed model call to its first token of text.",
    ["provider", "model"],
    buckets=TURN_BUCKETS,
    registry=_registry,
)
tokens = Counter(
    "smarter_tokens",
    "Tokens billed, by provider, model and direction (input: the prompt; output: the answer).",
    ["provider", "model", "direction"],
    registry=_registry,
)
cost = Counter(
    "smarter_cost_usd",
    "What the turns cost, in US dollars, at the price table's prices.",
    ["provider", "model"],
    registry=_registry,
)
plugin_calls = Counter(
    "smarter_plugin_calls",
    "Tool calls in turns, by plugin class and outcome (refused: beyond the per-round cap).",
    ["plugin_class", "outcome"],
    registry=_registry,
)
plugin_duration = Histogram(
    "smarter_plugin_duration_seconds",
    "Time a tool call ran.",
    ["plugin_class"],
    buckets=FAST_BUCKETS,
    registry=_registry,
)
retrieval_duration = Histogram(
    "smarter_retrieval_duration_seconds",
    "Time a knowledge-base search took, by index backend.",
    ["backend"],
    buckets=FAST_BUCKETS,
    registry=_registry,
)
rate_limit_refusals = Counter(
    "smarter_rate_limit_refusals",
    "Requests refused by a rate limit or budget, by limit.",
    ["limit"],
    registry=_registry,
)
webhook_deliveries = Counter(
    "smarter_channel_webhook_deliveries",
    "Webhook deliveries to channels, by channel type and outcome.",
    ["channel_type", "outcome"],
    registry=_registry,
)
channel_replies = Counter(
    "smarter_channel_replies",
    "Replies sent to a channel's provider, or given up on, by channel type.",
    ["channel_type", "outcome"],
    registry=_registry,
)


# --- recording ---------------------------------------------------------------------------------
def recording() -> bool:
    """Whether metrics are kept: only while they can be scraped (a token is set). Unscraped, the
    hot path pays nothing for them."""
    return settings.SMARTER.metrics_token is not None


def http_request_observe(*, door: str, method: str, status: int, seconds: float) -> None:
    if not recording():
        return
    door = bounded(door, DOORS)
    http_requests.labels(door, bounded(method, METHODS), status_class(status)).inc()
    http_duration.labels(door).observe(seconds)


def rate_limit_refused(limit: str) -> None:
    if not recording():
        return
    rate_limit_refusals.labels(bounded(limit, LIMITS)).inc()


def webhook_delivery_observe(*, channel_type: str, outcome: str) -> None:
    if not recording():
        return
    webhook_deliveries.labels(bounded(channel_type, CHANNEL_TYPES), bounded(outcome, WEBHOOK_OUTCOMES)).inc()


def channel_reply_observe(*, channel_type: str, outcome: str) -> None:
    if not recording():
        return
    channel_replies.labels(bounded(channel_type, CHANNEL_TYPES), bounded(outcome, REPLY_OUTCOMES)).inc()


@contextmanager
def retrieval_timed(backend: str) -> Iterator[None]:
    if not recording():
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        retrieval_duration.labels(bounded(backend, RETRIEVAL_BACKENDS)).observe(time.perf_counter() - started)


# --- the scrape --------------------------------------------------------------------------------
ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: list[ScrapeCollector] = []


def scrape_collector(collect: ScrapeCollector) -> ScrapeCollector:
    """Register `collect`, run at each scrape by the process answering it (apps do, at ready)."""
    if collect not in _scrape_collectors:
        _scrape_collectors.append(collect)
    return collect


class _AtScrape(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _build_info()
        for collect in _scrape_collectors:
            try:
                yield from collect()
            except Exception:
                # A scrape answers with what it has: one broken source (Redis down) is logged,
                # and only its series go missing.
                logger.exception("a metrics collector failed")


class _InMemory(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _registry.collect()


@scrape_collector
def _celery_queue_depth() -> Iterator[Metric]:
    """Tasks waiting in the platform's queue on the broker (nothing when tasks run eagerly)."""
    broker = str(settings.CELERY_BROKER_URL)
    if not broker.startswith(("redis://", "rediss://")):
        return
    queue = str(settings.CELERY_TASK_DEFAULT_QUEUE)
    client = _broker_client(broker)
    depth = GaugeMetricFamily("smarter_celery_queue_depth", "Tasks waiting on the broker, by queue.", labels=["queue"])
    waiting = client.llen(queue)
    depth.add_metric([queue], float(waiting))  # type: ignore[arg-type]
    yield depth


@functools.cache
def _broker_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def token_matches(authorization: str) -> bool:
    """Whether an Authorization header carries the metrics token (compared in constant time)."""
    token = settings.SMARTER.metrics_token
    scheme, _, given = authorization.partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape() -> bytes:
    """The text exposition of every metric: all processes' samples, then the scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_InMemory())
    registry.register(_AtScrape())
    return generate_latest(registry)


def _build_info() -> Metric:
    info = GaugeMetricFamily("smarter_build_info", "The running version (always 1).", labels=["version"])
    info.add_metric([__version__], 1)
    return info


def multiprocess_dir_clear() -> None:
    """Remove the files of earlier processes: a pod's first process (gunicorn's master, Celery's
    main process) starts the count again, as a restarted single process would."""
    directory = multiprocess_dir()
    if not directory or not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def process_dead(pid: int) -> None:
    """A worker process exited: its live gauges stop counting (counters keep what it counted)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
