"""Billing throughput and the cost of limits, in one run.

1. Charges per second from enqueue to committed row: usage events (the outbox rows a chat turn
   writes, three charges each: a completion and two tool calls) are written and published one
   transaction at a time while ONE Celery worker process (`celery -A smarter worker`, prefork,
   concurrency 2) records them, on MariaDB (database `smarter_bench_billing`, created, migrated
   and dropped here) and Redis database 6. Reported: events and charges per second over the
   whole run, and the enqueue-to-commit latency of each event (p50/p99).
2. The limiter's cost per request against no limiter: the GCRA check alone (Redis Lua script
   and the process-local fallback) and the whole step 3 of a turn (`turn_admit`: the account's
   overrides, the per-key rate, and the monthly budget reserved then settled).

Run: .venv/bin/python -m benchmarks.billing   (`--quick`: a tenth of the work)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "smarter_bench_billing"
MARIADB = ("127.0.0.1", 3306)
REDIS_URL = "redis://127.0.0.1:6379/6"
TOOLS_PER_EVENT = 2


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _setup() -> None:
    if not _answers(*MARIADB):
        sys.exit("needs MariaDB on 127.0.0.1:3306")
    import MySQLdb

    server = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    server.cursor().execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    server.close()
    os.environ["SMARTER_DATABASE_URL"] = f"mysql://root@{MARIADB[0]}:{MARIADB[1]}/{DATABASE}"
    os.environ["SMARTER_REDIS_URL"] = REDIS_URL
    os.environ.setdefault("SMARTER_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "smarter.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _teardown() -> None:
    from django.db import connections

    connections.close_all()
    import MySQLdb

    server = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    server.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def charges_per_second(events: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone

    from smarter.apps.account import services as account_services
    from smarter.apps.account.billing import services
    from smarter.apps.account.billing.models import Charge, UsageEvent

    account = account_services.account_create(company_name="Bench")
    user = User.objects.create(username="bench")
    env = {**os.environ, "SMARTER_LOG_FORMAT": "text"}
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "smarter",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            "smarter",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # the worker boots and connects
        started = time.perf_counter()
        for turn_id in range(1, events + 1):
            with transaction.atomic():
                services.usage_event_record(
                    account=account,
                    turn_id=turn_id,
                    created_at=timezone.now(),
                    user=user,
                    api_key=None,
                    chatbot_id=1,
                    chatbot_name="support",
                    session_key="bench",
                    channel="api",
                    provider="openai",
                    model="gpt-4o-mini",
                    prompt_tokens=500,
                    completion_tokens=100,
                    tools=[services.ToolUse(name="catalogue", is_plugin=True)] * TOOLS_PER_EVENT,
                )
        enqueued = time.perf_counter() - started
        expected = events * (1 + TOOLS_PER_EVENT)
        deadline = time.monotonic() + 600
        while Charge.objects.count() < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
    written = Charge.objects.count()
    latencies = [
        (processed - created).total_seconds() * 1000
        for created, processed in UsageEvent.objects.values_list("created_at", "processed_at")
        if processed is not None
    ]
    return {
        "events": events,
        "charges": written,
        "expected": expected,
        "enqueue_per_s": events / enqueued,
        "events_per_s": events / elapsed,
        "charges_per_s": written / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": _percentile(latencies, 0.99),
    }


def _per_call_us(function: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def limiter_cost(calls: int) -> dict[str, float]:
    from django.conf import settings
    from django.test import override_settings

    from smarter.apps.account import services as account_services
    from smarter.apps.account.billing import limits
    from smarter.apps.account.billing.models import AccountLimits

    account = account_services.account_create(company_name="Limits")
    member = account_services.member_add(account=account, username="limits", email="l@example.test", role="admin")
    key = account_services.api_key_create(account=account, user=member.user, name="bench").api_key
    results: dict[str, float] = {}
    results["none"] = _per_call_us(lambda: limits.rate_check(key="none", per_minute=0), calls)
    with override_settings(SMARTER_REDIS_URL=REDIS_URL):
        limits.forget_local_state()
        results["redis"] = _per_call_us(lambda: limits.rate_check(key="redis", per_minute=10**9), calls)
    with override_settings(SMARTER_REDIS_URL=None):
        limits.forget_local_state()
        results["local"] = _per_call_us(lambda: limits.rate_check(key="local", per_minute=10**9), calls)

    def admit() -> None:
        reservation = limits.turn_admit(
            account=account,
            api_key=key,
            chatbot_id=1,
            chatbot_name="support",
            channel="api",
            client_ip=None,
            estimate=100,
        )
        limits.budget_settle(reservation=reservation, actual_tokens=100)

    with override_settings(SMARTER_REDIS_URL=REDIS_URL, SMARTER_RATE_LIMIT_API_KEY_PER_MINUTE=0):
        results["admit_nothing"] = _per_call_us(admit, calls // 4)
    AccountLimits.objects.create(account=account, api_key_requests_per_minute=10**9, monthly_token_budget=10**15)
    with override_settings(SMARTER_REDIS_URL=REDIS_URL):
        limits.forget_local_state()
        results["admit_redis"] = _per_call_us(admit, calls // 4)
    with override_settings(SMARTER_REDIS_URL=None):
        limits.forget_local_state()
        results["admit_local"] = _per_call_us(admit, calls // 4)
    del settings  # only override_settings is used
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the work")
    args = parser.parse_args(argv)
    events, calls = (300, 2000) if args.quick else (3000, 20000)
    _setup()
    try:
        throughput = charges_per_second(events)
        cost = limiter_cost(calls)
    finally:
        _teardown()
    markdown = f"""## Billing

`benchmarks/billing.py`: one Celery worker process (prefork, concurrency 2) on Redis, MariaDB.

| charges from enqueue to committed row | value |
|---|---|
| usage events (1 completion + {TOOLS_PER_EVENT} tool charges each) | {throughput["events"]} |
| charges written / expected | {throughput["charges"]} / {throughput["expected"]} |
| outbox rows written and published per second (one web thread) | {throughput["enqueue_per_s"]:.0f} |
| events recorded per second, enqueue of the first to commit of the last | {throughput["events_per_s"]:.0f} |
| **charges per second** | **{throughput["charges_per_s"]:.0f}** |
| enqueue-to-commit latency p50 / p99 (ms) | {throughput["p50_ms"]:.0f} / {throughput["p99_ms"]:.0f} |

| limiter cost per request (µs) | value |
|---|---|
| no limiter (limit 0) | {cost["none"]:.1f} |
| GCRA on Redis (one Lua call, loopback) | {cost["redis"]:.1f} |
| GCRA in the process (no Redis, or Redis down) | {cost["local"]:.1f} |
| step 3 of a turn, no limit configured (overrides lookup only) | {cost["admit_nothing"]:.1f} |
| step 3 with a per-key rate and a budget reserved and settled, Redis | {cost["admit_redis"]:.1f} |
| the same, process-local | {cost["admit_local"]:.1f} |

Both sides are bound by MariaDB commits here (`innodb_flush_log_at_trx_commit=1`, one fsync per
transaction: about 16 ms on this disk): the web thread writes one outbox row per turn in the
turn's own transaction, and the worker one transaction per event. More worker processes (or a
faster disk) raise the rate; the enqueue-to-commit latency above is the backlog of a burst
enqueued faster than one worker drains it.

The limiter's Redis round trip costs {cost["redis"] - cost["none"]:.0f} µs per request, and the whole
step 3 with rate and budget {cost["admit_redis"] - cost["admit_nothing"]:.0f} µs more than with no limit:
small against a model call (hundreds of milliseconds).
"""
    print(markdown)
    write_section("billing", markdown)


if __name__ == "__main__":
    main()
