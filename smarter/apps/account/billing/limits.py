"""Limits checked before a turn calls the model (pipeline step 3): request rates and budgets.

Request rate (reference security §3.2): GCRA in one Lua script on Redis, with Redis's own clock,
so a check and its update are one atomic step whatever the number of web processes: with N
parallel requests against a limit of N-1, exactly N-1 pass. DRF throttles read and write the
cache in two steps and let bursts through; they are not used here.

Token budget per calendar month: a turn reserves its estimate (prompt + max_tokens) atomically
before it runs, and the reservation is settled to the real usage after the turn is written, so
concurrent turns at the edge of the budget overspend by at most their own underestimate. The
month's usage is counted from the outbox (`UsageEvent`, written with each turn), the database
being the truth; Redis holds a copy (re-read every few minutes) and the reservations in flight.

Without Redis (the embedded default) the same algorithms run in the process. When Redis fails,
both fall back to the process-local versions (fail open for rates, still enforced per process for
budgets, with the month's usage read from the database) and a warning is logged; Redis is tried
again after `REDIS_RETRY_SECONDS`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Sum
from django.utils import timezone

from smarter.apps.account.billing.models import AccountLimits, BudgetAlert, UsageEvent
from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Account, ApiKey
from smarter.lib import metrics
from smarter.lib.errors import QuotaExceeded, RateLimited

logger = logging.getLogger(__name__)

RATE_PERIOD_SECONDS = 60.0
RESERVATION_SECONDS = 600  # a turn that never settles (killed process) frees its hold after this
USED_CACHE_SECONDS = 300  # the month's usage is re-read from the database this often
REDIS_RETRY_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.5

# KEYS[1] the limiter's key. ARGV: emission interval (ms), period (ms) = interval * limit.
# Answers {1, 0} when allowed, else {0, milliseconds until one more request would be allowed}.
GCRA_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - period
if allowed_at - now > 0.001 then  -- a microsecond of slack absorbs floating-point rounding
  return {0, math.ceil(allowed_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, 0}
"""

# KEYS: used (tokens settled this month), holds (zset id -> expiry ms), amounts (hash id -> tokens).
# ARGV: limit, estimate, reservation id, hold ms, seed (the month's usage from the database, or
# -1 when not read yet), seed ms.
# Answers {status, used, held}: status 1 reserved, 0 over the limit, -1 needs the seed.
RESERVE_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local used = redis.call('GET', KEYS[1])
if not used then
  if tonumber(ARGV[5]) < 0 then return {-1, 0, 0} end
  used = ARGV[5]
  redis.call('SET', KEYS[1], used, 'PX', tonumber(ARGV[6]))
end
used = tonumber(used)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, member in ipairs(expired) do redis.call('HDEL', KEYS[3], member) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local held = 0
for _, amount in ipairs(redis.call('HVALS', KEYS[3])) do held = held + tonumber(amount) end
local estimate = tonumber(ARGV[2])
if used + held + estimate > tonumber(ARGV[1]) then return {0, used, held} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], estimate)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]) * 2)
return {1, used, held}
"""

# KEYS as above; ARGV: reservation id, actual tokens. The settled tokens are added only to a
# counter that exists: a missing one is read again from the database, which has them already.
SETTLE_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], tonumber(ARGV[2])) end
return 1
"""


def _setting(name: str) -> Any:
    """A field of the typed configuration, by name (the limits are chosen per door)."""
    return getattr(settings.SMARTER, name)


# --- the Redis connection, with its failure policy ------------------------------------------------
class _RedisState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.url: str | None = None
        self.client: Any = None
        self.scripts: dict[str, Any] = {}
        self.down_until = 0.0


_redis = _RedisState()


def _scripts() -> dict[str, Any] | None:
    """The registered scripts on the configured Redis, or None (no Redis, or it failed lately)."""
    url = _setting("redis_url")
    if not url:
        return None
    if time.monotonic() < _redis.down_until:
        return None
    with _redis.lock:
        if url != _redis.url:
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
            )
            _redis.url, _redis.client = url, client
            _redis.scripts = {
                "gcra": client.register_script(GCRA_LUA),
                "reserve": client.register_script(RESERVE_LUA),
                "settle": client.register_script(SETTLE_LUA),
            }
        return _redis.scripts


def _redis_failed(error: Exception) -> None:
    _redis.down_until = time.monotonic() + REDIS_RETRY_SECONDS
    logger.warning(
        "Redis is unreachable for limits (%s): using process-local limits for %ss", error, REDIS_RETRY_SECONDS
    )


def forget_local_state() -> None:
    """Drop the process-local limiter and budget state and the Redis connection (tests)."""
    with _local_lock:
        _local_tats.clear()
        _local_used.clear()
        _local_holds.clear()
    _redis.url, _redis.client, _redis.scripts, _redis.down_until = None, None, {}, 0.0
    _alerted.clear()
    _limits_cache.clear()


# --- request rate -----------------------------------------------------------------------------
_local_lock = threading.Lock()
_local_tats: dict[str, float] = {}


def _local_gcra(key: str, interval_ms: float, period_ms: float) -> float:
    """The same algorithm in this process: 0 when allowed, else the milliseconds to wait."""
    now = time.monotonic() * 1000
    with _local_lock:
        tat = max(_local_tats.get(key, 0.0), now)
        new_tat = tat + interval_ms
        allowed_at = new_tat - period_ms
        if allowed_at - now > 0.001:  # a microsecond of slack absorbs floating-point rounding
            return allowed_at - now
        _local_tats[key] = new_tat
        if len(_local_tats) > 100_000:  # forget idle keys now and then
            for stale in [k for k, v in _local_tats.items() if v < now]:
                del _local_tats[stale]
        return 0.0


def rate_check(*, key: str, per_minute: int) -> float:
    """Count one request against `per_minute` for `key`: 0 when allowed, else the seconds to wait."""
    if per_minute <= 0:
        return 0.0
    period_ms = RATE_PERIOD_SECONDS * 1000
    interval_ms = period_ms / per_minute
    scripts = _scripts()
    if scripts is not None:
        try:
            allowed, wait_ms = scripts["gcra"](keys=[f"smarter:rl:{key}"], args=[interval_ms, period_ms])
            return 0.0 if int(allowed) == 1 else float(wait_ms) / 1000
        except Exception as error:  # redis.RedisError, or a connection that broke mid-call
            _redis_failed(error)
    return _local_gcra(key, interval_ms, period_ms) / 1000


LIMITS_CACHE_SECONDS = 10.0  # an override edited in the admin applies within this time
_limits_cache: dict[int, tuple[AccountLimits | None, float]] = {}


def _limits_of(account: Account) -> AccountLimits | None:
    """The account's overrides, kept by the process for a few seconds (one query saved per turn)."""
    now = time.monotonic()
    cached = _limits_cache.get(account.pk)
    if cached is not None and now - cached[1] < LIMITS_CACHE_SECONDS:
        return cached[0]
    limits = AccountLimits.objects.filter(account=account).first()
    if len(_limits_cache) > 10_000:
        _limits_cache.clear()
    _limits_cache[account.pk] = (limits, now)
    return limits


def _override(limits: AccountLimits | None, field_name: str, setting: str) -> int:
    value = getattr(limits, field_name, None) if limits is not None else None
    return int(value if value is not None else _setting(setting))


def visitor_key(client_ip: str | None) -> str:
    """The per-visitor limit's key for an address: an IPv6 visitor is its /64 (one subscriber's
    network, whose every address it may use in turn), an IPv4 visitor its address."""
    if not client_ip:
        return "-"
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return "-"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def door_admit(*, key: str, per_minute: int, what: str, limit: str) -> None:
    """Count one request at a door that costs the platform (a plugin run, a sign-in, a mail) against
    `per_minute` for `key`; RateLimited (429, Retry-After) when over it. `limit` names the limit
    in the refusals metric (one of a fixed set: never the key)."""
    wait = rate_check(key=key, per_minute=per_minute)
    if wait:
        raise _refuse_rate(wait, what, per_minute, limit)


def caller_key(caller: Caller) -> str:
    """Who a request counts for: its API key, else the signed-in console user."""
    return f"key:{caller.api_key.prefix}" if caller.api_key is not None else f"user:{caller.user.pk}"


def plugin_test_admit(*, caller: Caller) -> None:
    """A plugin test runs a query or a request like a turn's tool call: limited per key or user."""
    per_minute = int(_setting("rate_limit_plugin_test_per_minute"))
    door_admit(
        key=f"plugin-test:{caller_key(caller)}", per_minute=per_minute, what="to test plugins", limit="plugin_test"
    )


def sign_in_admit(*, client_ip: str | None, identity: str) -> None:
    """One sign-in or password-reset attempt: limited per client address, and per username or
    e-mail, so that neither one address nor many can try passwords (or send mails) quickly."""
    per_minute = int(_setting("rate_limit_login_per_minute"))
    door_admit(
        key=f"sign-in:ip:{visitor_key(client_ip)}", per_minute=per_minute, what="from your address", limit="login"
    )
    name = identity.strip().lower()
    if name:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]  # no address or name kept in Redis
        door_admit(key=f"sign-in:id:{digest}", per_minute=per_minute, what="for this user", limit="login")


def feedback_admit(
    *, account: Account, chatbot_id: int, api_key: ApiKey | None, user_id: int | None, client_ip: str | None
) -> None:
    """A rating or comment on an answer: limited like the turns it rates (per API key, else per
    console user, else per visitor's address on the deployed chatbot), on keys of its own so that
    rating answers never uses up the chat's own allowance."""
    limits = _limits_of(account)
    if api_key is not None:
        per_minute = _override(limits, "api_key_requests_per_minute", "rate_limit_api_key_per_minute")
        key, what = f"feedback:key:{api_key.prefix}", "with this API key"
    elif user_id is not None:
        per_minute = int(_setting("rate_limit_user_per_minute"))
        key, what = f"feedback:user:{user_id}", "from your console session"
    else:
        per_minute = _override(limits, "chatbot_ip_requests_per_minute", "rate_limit_chatbot_ip_per_minute")
        key = f"feedback:bot:{account.account_number}:{chatbot_id}:{visitor_key(client_ip)}"
        what = "to this chatbot from your address"
    door_admit(key=key, per_minute=per_minute, what=f"{what} to rate answers", limit="feedback")


def _refuse_rate(wait: float, what: str, per_minute: int, limit: str) -> RateLimited:
    metrics.rate_limit_refused(limit)
    seconds = max(1, math.ceil(wait))
    return RateLimited(
        f"Too many requests {what}: at most {per_minute} per minute. Retry after {seconds} seconds.",
        context={"limit": per_minute, "retryAfter": seconds},
        headers={"Retry-After": str(seconds)},
    )


# --- monthly token budget -----------------------------------------------------------------------
_local_used: dict[str, tuple[int, float]] = {}  # scope key -> (used, read at)
_local_holds: dict[str, dict[str, tuple[int, float]]] = {}  # scope key -> id -> (tokens, expiry)
_alerted: set[tuple[int, str, str, str]] = set()


@dataclass
class Reservation:
    """Tokens held for one turn in each budget that applies; settled after the turn is written."""

    id: str
    tokens: int
    scopes: list[str] = field(default_factory=list)
    remote: bool = False


def _month(now: datetime) -> str:
    return now.strftime("%Y-%m")


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_tokens_used(*, account: Account, chatbot_name: str | None = None, now: datetime | None = None) -> int:
    """Tokens of the account's turns this calendar month (UTC), from the outbox: it is written in
    each turn's own transaction, so it is exact even while charges are still being recorded."""
    now = now or timezone.now()
    events = UsageEvent.objects.filter(account=account, created_at__gte=_month_start(now))
    if chatbot_name is not None:
        events = events.filter(chatbot_name=chatbot_name)
    return int(events.aggregate(total=Sum("total_tokens"))["total"] or 0)


def _local_reserve(scope: str, limit: int, estimate: int, reservation_id: str, seed: Any) -> tuple[bool, int, int]:
    now = time.monotonic()
    with _local_lock:
        used, read_at = _local_used.get(scope, (-1, 0.0))
        if used < 0 or now - read_at > USED_CACHE_SECONDS:
            used = int(seed())
            _local_used[scope] = (used, now)
        holds = {k: v for k, v in _local_holds.get(scope, {}).items() if v[1] > now}
        held = sum(tokens for tokens, _ in holds.values())
        _local_holds[scope] = holds
        if used + held + estimate > limit:
            return False, used, held
        holds[reservation_id] = (estimate, now + RESERVATION_SECONDS)
        return True, used, held


def _local_settle(scope: str, reservation_id: str, actual: int) -> None:
    with _local_lock:
        _local_holds.get(scope, {}).pop(reservation_id, None)
        if scope in _local_used:
            used, read_at = _local_used[scope]
            _local_used[scope] = (used + actual, read_at)


def _reserve_one(scope: str, limit: int, estimate: int, reservation_id: str, seed: Any) -> tuple[bool, int, int, bool]:
    """(reserved, used, held, on Redis) for one budget scope."""
    scripts = _scripts()
    if scripts is not None:
        keys = [f"smarter:budget:{scope}:used", f"smarter:budget:{scope}:holds", f"smarter:budget:{scope}:amounts"]
        args = [limit, estimate, reservation_id, RESERVATION_SECONDS * 1000, -1, USED_CACHE_SECONDS * 1000]
        try:
            status, used, held = scripts["reserve"](keys=keys, args=args)
            if int(status) == -1:
                args[4] = int(seed())
                status, used, held = scripts["reserve"](keys=keys, args=args)
            return int(status) == 1, int(used), int(held), True
        except Exception as error:
            _redis_failed(error)
    reserved, used, held = _local_reserve(scope, limit, estimate, reservation_id, seed)
    return reserved, used, held, False


def _release(scope: str, reservation_id: str, actual: int, remote: bool) -> None:
    if remote:
        scripts = _scripts()
        if scripts is not None:
            keys = [f"smarter:budget:{scope}:used", f"smarter:budget:{scope}:holds", f"smarter:budget:{scope}:amounts"]
            try:
                scripts["settle"](keys=keys, args=[reservation_id, actual])
                return
            except Exception as error:
                _redis_failed(error)
        return  # the hold expires by itself; the usage is re-read from the database
    _local_settle(scope, reservation_id, actual)


def _alert(account: Account, scope: str, level: str, limit: int, used: int) -> None:
    month = _month(timezone.now())
    marker = (account.pk, scope, month, level)
    if marker in _alerted:
        return
    _alerted.add(marker)
    try:
        _, created = BudgetAlert.objects.get_or_create(
            account=account, scope=scope, month=month, level=level, defaults={"limit": limit, "used": used}
        )
    except DatabaseError as error:  # an alert must never block a turn; the next crossing retries
        _alerted.discard(marker)
        logger.warning("could not record the budget %s of account %s: %s", level, account.name, error)
        return
    if created:
        logger.warning("budget %s for account %s (%s): %s of %s tokens", level, account.name, scope, used, limit)


def _budgets(account: Account, chatbot_name: str, limits: AccountLimits | None) -> list[tuple[str, str, int]]:
    """(scope label, key, limit) of every budget that applies to a turn of this chatbot."""
    month = _month(timezone.now())
    found = []
    account_limit = _override(limits, "monthly_token_budget", "monthly_token_budget")
    if account_limit > 0:
        found.append(("account", f"{account.account_number}:{month}", account_limit))
    per_chatbot = (limits.chatbot_monthly_token_budgets or {}) if limits is not None else {}
    chatbot_limit = per_chatbot.get(chatbot_name) if isinstance(per_chatbot, dict) else None
    if isinstance(chatbot_limit, int) and chatbot_limit > 0:
        found.append((f"chatbot:{chatbot_name}", f"{account.account_number}:{chatbot_name}:{month}", chatbot_limit))
    return found


def budget_reserve(
    *, account: Account, chatbot_name: str, estimate: int, limits: AccountLimits | None = None
) -> Reservation | None:
    """Hold `estimate` tokens in every budget of the turn, or raise QuotaExceeded (nothing held)."""
    budgets = _budgets(account, chatbot_name, limits)
    if not budgets:
        return None
    warning_percent = _override(limits, "budget_warning_percent", "budget_warning_percent")
    reservation = Reservation(id=secrets.token_hex(8), tokens=estimate)
    for label, key, limit in budgets:
        name = None if label == "account" else chatbot_name

        def seed(name: str | None = name) -> int:
            return month_tokens_used(account=account, chatbot_name=name)

        reserved, used, held, remote = _reserve_one(key, limit, estimate, reservation.id, seed)
        if not reserved:
            budget_settle(reservation=reservation, actual_tokens=0)
            _alert(account, label, BudgetAlert.Level.EXCEEDED, limit, used)
            where = "this account" if label == "account" else f"chatbot {chatbot_name!r}"
            metrics.rate_limit_refused("budget")
            raise QuotaExceeded(
                f"The monthly token budget of {where} is {limit} tokens; {used} are used and {held} held by turns "
                f"in progress, and this turn may need {estimate}. Raise the budget or wait for next month.",
                context={"limit": limit, "used": used, "scope": label},
                headers={"Retry-After": str(_seconds_to_next_month())},
            )
        reservation.scopes.append(key)
        reservation.remote = remote
        if (used + held + estimate) * 100 >= limit * warning_percent:
            _alert(account, label, BudgetAlert.Level.WARNING, limit, used + held + estimate)
    return reservation


def budget_settle(*, reservation: Reservation | None, actual_tokens: int) -> None:
    """Replace the turn's hold by what it really used."""
    if reservation is None:
        return
    for scope in reservation.scopes:
        _release(scope, reservation.id, actual_tokens, reservation.remote)


def _seconds_to_next_month() -> int:
    now = timezone.now()
    start = _month_start(now)
    following = (
        start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    )
    return max(1, int((following - now).total_seconds()))


# --- step 3 of the turn ---------------------------------------------------------------------------
def turn_admit(
    *,
    account: Account,
    api_key: ApiKey | None,
    chatbot_id: int,
    chatbot_name: str,
    channel: str,
    client_ip: str | None,
    estimate: int,
    user_id: int | None = None,
) -> Reservation | None:
    """Rate limits, then the budget. Raises RateLimited or QuotaExceeded (429, Retry-After);
    returns the budget reservation to settle after the turn (None when no budget applies).

    A turn counts against its API key, else (a console session: the sandbox, a cli chat from the
    console) against its signed-in user, and on a deployed chatbot against the visitor too. An
    evaluation run's turns count against the account's evaluation limit."""
    limits = _limits_of(account)
    if channel == "evaluation":
        # A run asks its cases unattended, bounded by its own concurrency: one limit per account,
        # and the runner waits out a refusal instead of failing the case.
        per_minute = int(_setting("rate_limit_evaluation_per_minute"))
        wait = rate_check(key=f"eval:{account.account_number}", per_minute=per_minute)
        if wait:
            raise _refuse_rate(wait, "for this account's evaluation runs", per_minute, "evaluation")
    elif api_key is not None:
        per_minute = _override(limits, "api_key_requests_per_minute", "rate_limit_api_key_per_minute")
        wait = rate_check(key=f"key:{api_key.prefix}", per_minute=per_minute)
        if wait:
            raise _refuse_rate(wait, "with this API key", per_minute, "api_key")
    elif user_id is not None:
        per_minute = int(_setting("rate_limit_user_per_minute"))
        wait = rate_check(key=f"user:{user_id}", per_minute=per_minute)
        if wait:
            raise _refuse_rate(wait, "from your console session", per_minute, "user")
    if channel == "public":
        per_minute = _override(limits, "chatbot_ip_requests_per_minute", "rate_limit_chatbot_ip_per_minute")
        visitor = visitor_key(client_ip)
        wait = rate_check(key=f"bot:{account.account_number}:{chatbot_id}:{visitor}", per_minute=per_minute)
        if wait:
            raise _refuse_rate(wait, "to this chatbot from your address", per_minute, "client_ip")
    return budget_reserve(account=account, chatbot_name=chatbot_name, estimate=estimate, limits=limits)
