"""Every write of billing: the outbox row of a turn, charges from it, the sweep, the rollups.

The path of a charge (DESIGN.md step 7, reference security §3.6):

1. the turn's transaction inserts a `UsageEvent` (the outbox) with the charges to write;
2. after commit, the event is handed to the publisher thread (`publisher.py`), which publishes
   `record_charges_task(usage_event_ids)` once for the events of a 0.2 s window (failures only
   log: the rows stay pending and the chat has already answered);
3. the task writes one `Charge` per item under a unique idempotency key and marks its events
   done, in one transaction for the task's events, so a redelivered or duplicated task writes
   nothing twice;
4. `requeue_pending_charges_task` (beat) republishes events still pending after a while.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from smarter.apps.account.billing.models import Charge, ChargeKind, TurnRating, UsageEvent, UsageRollup
from smarter.apps.account.billing.publisher import MAX_EVENTS_PER_TASK, Publisher
from smarter.apps.account.models import Account, ApiKey
from smarter.apps.account.pricing import call_cost, token_cost
from smarter.lib import prepared

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolUse:
    """One tool call of a turn: `plugin` when a plugin ran, else a built-in `tool`."""

    name: str
    is_plugin: bool


def usage_event_record(
    *,
    account: Account,
    turn_id: int | None,
    created_at: datetime,
    user: User | None,
    api_key: ApiKey | None,
    chatbot_id: int,
    chatbot_name: str,
    session_key: str,
    channel: str,
    provider: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    tools: list[ToolUse],
    cost: Decimal | None = None,
    key: str | None = None,
) -> int:
    """The outbox row of a turn; returns its id. Call it inside the turn's transaction: the task
    is published only after that transaction commits, so it never looks for a row that is not
    there yet. `cost`: the completion's price when the caller has it already. `key`: the row's
    unique key for a model call that is no turn (an evaluation judge's, with `turn_id` None);
    a turn's is `turn-<id>`."""
    total = prompt_tokens + completion_tokens
    key = key or f"turn-{turn_id}"
    if cost is None:
        # Priced when the usage happens, so a later price edit does not change past turns.
        cost = token_cost(
            provider=provider, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    items: list[dict[str, Any]] = [
        {
            "key": f"{key}:completion",
            "kind": ChargeKind.COMPLETION.value,
            "tool": "",
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": total,
            "cost": str(cost),
        }
    ]
    for number, tool in enumerate(tools, start=1):
        kind = ChargeKind.PLUGIN if tool.is_plugin else ChargeKind.TOOL
        items.append(
            {
                "key": f"{key}:tool-{number}",
                "kind": kind.value,
                "tool": tool.name[:64],
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "cost": str(call_cost(kind=kind)),
            }
        )
    # A prepared INSERT: every chat turn writes one (see smarter.lib.prepared).
    event_id = prepared.insert(
        UsageEvent,
        {
            "key": key,
            "account_id": account.pk,
            "chatbot_name": chatbot_name[:50],
            "total_tokens": total,
            "created_at": created_at,
            "payload": {
                "common": {
                    "user_id": user.pk if user is not None else None,
                    "api_key_id": api_key.pk if api_key is not None else None,
                    "api_key_name": api_key.name if api_key is not None else "",
                    "chatbot_id": chatbot_id,
                    "chatbot_name": chatbot_name[:50],
                    "session_key": session_key[:64],
                    "turn_id": turn_id,
                    "channel": channel[:10],
                    "provider": provider[:50],
                    "model": model[:255],
                    "created_at": created_at.isoformat(),
                },
                "items": items,
            },
        },
    )
    transaction.on_commit(lambda: usage_event_hand_off(usage_event_id=event_id))
    return event_id


def turn_rating_record(*, account: Account, turn_id: int, rating: str | None) -> None:
    """Count a visitor's rating of a turn in usage (None: the rating was cleared). The row takes
    the turn's chatbot, model, key, channel and time from the turn's outbox row, so it groups with
    the turn's charges; a turn with no outbox row (none is written for a turn that never ran) is
    not counted."""
    if rating is None:
        TurnRating.objects.filter(account=account, turn_id=turn_id).delete()
        return
    event = UsageEvent.objects.filter(account=account, key=f"turn-{turn_id}").first()
    if event is None:
        return
    common = event.payload.get("common", {})
    TurnRating.objects.update_or_create(
        account=account,
        turn_id=turn_id,
        defaults={
            "rating": rating,
            "chatbot_name": str(common.get("chatbot_name") or event.chatbot_name)[:50],
            "api_key_name": str(common.get("api_key_name") or "")[:50],
            "channel": str(common.get("channel") or "")[:10],
            "model": str(common.get("model") or "")[:255],
            "created_at": event.created_at,
        },
    )


def usage_event_hand_off(*, usage_event_id: int) -> None:
    """After the turn commits. Without a broker (tasks run eagerly) the charges are written now;
    with one, the publisher thread publishes the event, batched with other turns' events."""
    from smarter.celery import app

    if app.conf.task_always_eager:
        usage_events_enqueue(usage_event_ids=[usage_event_id])
    else:
        _publisher.submit(usage_event_id)


# After a failed publish, publishing is skipped for this long: the rows stay pending for the sweep,
# and chats do not each wait on a broker that is down.
BROKER_RETRY_SECONDS = 5.0
_broker_down_until = 0.0


def usage_events_enqueue(*, usage_event_ids: list[int], fail_fast: bool = True) -> bool:
    """Publish one task for these events; False (logged) when the broker cannot take it: the
    sweep retries. `fail_fast`: skip publishing while the broker failed in the last seconds."""
    global _broker_down_until
    from smarter.apps.account.tasks import record_charges_task

    app = record_charges_task.app
    if app.conf.task_always_eager:
        try:
            record_charges_task.apply_async(args=(usage_event_ids,))
        except Exception as error:
            logger.warning("usage events %s stay pending: recording failed (%s)", usage_event_ids, error)
            return False
        return True
    if fail_fast and time.monotonic() < _broker_down_until:
        return False
    pool = _publish_pool(app)
    try:
        with pool.acquire(block=True, timeout=BROKER_RETRY_SECONDS) as connection:
            record_charges_task.apply_async(args=(usage_event_ids,), retry=False, connection=connection)
    except Exception as error:
        _broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
        _forget_publish_pool(pool)
        logger.warning("usage events %s stay pending: could not enqueue (%s)", usage_event_ids, error)
        return False
    return True


_publisher = Publisher(lambda ids: usage_events_enqueue(usage_event_ids=ids))


def usage_events_published(timeout: float = 10.0) -> bool:
    """Wait until every handed-off event went to the broker (or failed to): shutdown, tests."""
    return _publisher.wait_idle(timeout)


_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def _publish_pool(app: Any) -> Any:
    """Broker connections that try to connect once: kombu's defaults retry for seconds, and a chat
    must not wait on a broker that is down (its usage event stays pending for the sweep)."""
    url = app.conf.broker_url
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            options = {**(app.conf.broker_transport_options or {}), "max_retries": 0}
            pool = _pools[url] = app.connection_for_write(transport_options=options).Pool(limit=32)
        return pool


def _forget_publish_pool(pool: Any) -> None:
    with _pools_lock:
        for url, known in list(_pools.items()):
            if known is pool:
                del _pools[url]
    try:
        pool.force_close_all()
    except Exception:  # closing broken connections may fail too; they are dropped either way
        logger.debug("closing the broker pool failed", exc_info=True)


def charges_record_many(*, usage_event_ids: list[int]) -> int:
    """Write the charges of these usage events; how many were written (0 for events already done).

    The events of one published task are written together, in one transaction of a few
    statements whatever their number: a transaction per event cost the worker more CPU than the
    web server spent on the turn itself. Idempotent as `charges_record` is: the pending events are
    locked and each charge has a unique idempotency key. An event that cannot be written (a
    malformed payload) does not hold the others back: then each is written on its own, and the
    failure is logged and left pending for the sweep.
    """
    if not usage_event_ids:
        return 0
    try:
        with transaction.atomic():
            # Locked in key order, as any other batch locks them: two workers never deadlock.
            locked = UsageEvent.objects.select_for_update().filter(pk__in=usage_event_ids).order_by("pk")
            return _write_charges(list(locked))
    except DatabaseError:
        raise  # retried by the task: the database itself failed
    except Exception:
        logger.exception("usage events %s could not be written together; writing each on its own", usage_event_ids)
    written = 0
    for usage_event_id in usage_event_ids:
        try:
            written += charges_record(usage_event_id=usage_event_id)
        except DatabaseError:
            raise
        except Exception:
            logger.exception("usage event %s stays pending: its charges could not be written", usage_event_id)
    return written


def _write_charges(events: list[UsageEvent]) -> int:
    """The charges of locked events, and the events marked done; inside a transaction."""
    events = [event for event in events if event.status != UsageEvent.Status.DONE]
    if not events:
        return 0
    items = [(event, item) for event in events for item in event.payload["items"]]
    existing = set(
        Charge.objects.filter(idempotency_key__in=[item["key"] for _, item in items]).values_list(
            "idempotency_key", flat=True
        )
    )
    named_keys = {event.payload["common"]["api_key_id"] for event in events} - {None}
    live_keys = set(ApiKey.objects.filter(pk__in=named_keys).values_list("pk", flat=True)) if named_keys else set()
    now = timezone.now()
    charges = [_charge(event, item, now, live_keys) for event, item in items if item["key"] not in existing]
    Charge.objects.bulk_create(charges)
    UsageEvent.objects.filter(pk__in=[event.pk for event in events]).update(
        status=UsageEvent.Status.DONE, processed_at=now, attempts=F("attempts") + 1
    )
    return len(charges)


def _charge(event: UsageEvent, item: dict[str, Any], now: datetime, live_keys: set[int]) -> Charge:
    common = event.payload["common"]
    api_key_id = common["api_key_id"]
    return Charge(
        idempotency_key=item["key"],
        account_id=event.account_id,
        user_id=common["user_id"],
        # A key deleted since the turn: its name is kept.
        api_key_id=api_key_id if api_key_id in live_keys else None,
        api_key_name=common["api_key_name"],
        chatbot_id=common["chatbot_id"],
        chatbot_name=common["chatbot_name"],
        session_key=common["session_key"],
        turn_id=common["turn_id"],
        channel=common["channel"],
        provider=common["provider"],
        model=common["model"],
        kind=item["kind"],
        tool_name=item["tool"],
        prompt_tokens=item["prompt_tokens"],
        completion_tokens=item["completion_tokens"],
        total_tokens=item["total_tokens"],
        cost=Decimal(item["cost"]),
        created_at=datetime.fromisoformat(common["created_at"]),
        recorded_at=now,
    )


def charges_record(*, usage_event_id: int) -> int:
    """Write the charges of one usage event; how many were written (0 when already done).

    Idempotent: the event row is locked and its status checked, and each charge has a unique
    idempotency key (only missing keys are inserted), so concurrent or repeated deliveries write
    every charge exactly once.
    """
    with transaction.atomic():
        return _write_charges(list(UsageEvent.objects.select_for_update().filter(pk=usage_event_id)))


def pending_usage_events_requeue(*, older_than: timedelta, limit: int = 1000) -> int:
    """Republish events still pending after `older_than` (broker was down, a worker died, the
    process stopped between commit and publish). Duplicates are harmless: the task is idempotent."""
    cutoff = timezone.now() - older_than
    ids = list(
        UsageEvent.objects.filter(status=UsageEvent.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    for start in range(0, len(ids), MAX_EVENTS_PER_TASK):
        chunk = ids[start : start + MAX_EVENTS_PER_TASK]
        if not usage_events_enqueue(usage_event_ids=chunk, fail_fast=False):
            break  # the broker is down: the next sweep tries again
        published += len(chunk)
    if ids:
        logger.info("re-enqueued %s of %s pending usage events", published, len(ids))
    return published


# --- rollups ------------------------------------------------------------------------------------
def usage_rollup(*, since: datetime) -> int:
    """Recompute the hourly and daily rollups of every (account, day) that received a charge
    since `since`. Whole days are recomputed from the charges, so running it twice, or late
    charges (an outbox drained after an outage) landing in an old day, give the same sums."""
    touched = (
        Charge.objects.filter(recorded_at__gte=since)
        .annotate(day=TruncDay("created_at"))
        .values_list("account_id", "day")
        .distinct()
    )
    days = sorted(set(touched))
    for account_id, day in days:
        _rollup_day(account_id=account_id, day=day)
    return len(days)


def _rollup_day(*, account_id: int, day: datetime) -> None:
    end = day + timedelta(days=1)
    with transaction.atomic():
        # One rollup of an account at a time: the lock orders concurrent sweeps.
        Account.objects.select_for_update().filter(pk=account_id).first()
        charges = Charge.objects.filter(account_id=account_id, created_at__gte=day, created_at__lt=end)
        UsageRollup.objects.filter(account_id=account_id, period_start__gte=day, period_start__lt=end).delete()
        rows: list[UsageRollup] = []
        for period, bucket in ((UsageRollup.Period.HOUR, TruncHour("created_at")), (UsageRollup.Period.DAY, None)):
            query = charges.annotate(bucket=bucket) if bucket is not None else charges
            group = ["chatbot_id", "model", "api_key_id", "channel"]
            if bucket is not None:
                group = ["bucket", *group]
            for row in query.values(*group).annotate(
                chatbot_label=Max("chatbot_name"),
                key_label=Max("api_key_name"),
                requests=Count("id", filter=Q(kind=ChargeKind.COMPLETION)),
                tools=Count("id", filter=~Q(kind=ChargeKind.COMPLETION)),
                prompt=Sum("prompt_tokens"),
                completion=Sum("completion_tokens"),
                total=Sum("total_tokens"),
                money=Sum("cost"),
            ):
                rows.append(
                    UsageRollup(
                        account_id=account_id,
                        period=period,
                        period_start=row["bucket"] if bucket is not None else day,
                        chatbot_id=row["chatbot_id"] or 0,
                        chatbot_name=row["chatbot_label"] or "",
                        model=row["model"],
                        api_key_id=row["api_key_id"] or 0,
                        api_key_name=row["key_label"] or "",
                        channel=row["channel"] or "",
                        requests=row["requests"],
                        tool_calls=row["tools"],
                        prompt_tokens=row["prompt"] or 0,
                        completion_tokens=row["completion"] or 0,
                        total_tokens=row["total"] or 0,
                        cost=row["money"] or Decimal(0),
                    )
                )
        UsageRollup.objects.bulk_create(rows)
