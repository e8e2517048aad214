"""Is the chat doors' one statement worth it? `door_lookup` (the key, its caller, the feature's
switches, the chatbot, its own Provider and plugins in one statement read by column name) against
the same rows read one by one (`caller_for_api_key`, `feature_enabled`, `chatbot_get` through the
ORM, `attached_plugins`, `provider_of_turn`), in this process, on MariaDB on loopback when it
answers (a database created, migrated and dropped here), else SQLite.

Run: .venv/bin/python -m benchmarks.door_lookup (`--database NAME` for MariaDB's database)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.chat_overhead import MARIADB, answers, mariadb
from benchmarks.report import write_section

ROUNDS = 7
CALLS = 400


def _per_call_us(work: Callable[[], Any]) -> tuple[float, float]:
    """CPU and wall time per call, in µs (median of the rounds)."""
    for _ in range(50):
        work()
    cpu, wall = [], []
    for _ in range(ROUNDS):
        started_cpu, started = time.process_time(), time.perf_counter()
        for _ in range(CALLS):
            work()
        cpu.append((time.process_time() - started_cpu) / CALLS * 1e6)
        wall.append((time.perf_counter() - started) / CALLS * 1e6)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="smarter_bench_lookup")
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args()
    os.environ["SMARTER_STATE_DIR"] = tempfile.mkdtemp()
    os.environ["SMARTER_LOG_LEVEL"] = "WARNING"
    engine = "SQLite"
    if answers(*MARIADB):
        mariadb(f"DROP DATABASE IF EXISTS {options.database}")
        mariadb(f"CREATE DATABASE {options.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        os.environ["SMARTER_DATABASE_URL"] = f"mysql://root@{MARIADB[0]}:{MARIADB[1]}/{options.database}"
        engine = "MariaDB on loopback"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")
    try:
        section = measure(engine)
    finally:
        if engine != "SQLite":
            mariadb(f"DROP DATABASE IF EXISTS {options.database}")
    if not options.no_write:
        write_section("door_lookup", section)
    print(section)


def measure(engine: str) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from smarter.apps.account import services as account_services
    from smarter.apps.account.features import OPENAI_COMPATIBLE_ENDPOINT, feature_enabled
    from smarter.apps.account.selectors import caller_for_api_key
    from smarter.apps.chatbot import services
    from smarter.apps.chatbot.door_lookup import door_lookup
    from smarter.apps.chatbot.selectors import attached_plugins, chatbot_get, provider_of_turn
    from smarter.apps.plugin import services as plugin_services

    onboarded = account_services.account_onboard(company_name="Bench", username="bench", email="b@bench.test")
    account, key = onboarded.account, onboarded.api_key.plaintext
    plugins = [
        plugin_services.plugin_create(
            account=account,
            name=f"plugin{number}",
            plugin_class="static",
            description="a plugin",
            selector={"directive": "always"},
            data={"description": "facts", "staticData": {"answer": number}},
        )
        for number in range(3)
    ]
    secret = account_services.secret_create(account=account, name="own_key", value="sk-own")
    services.provider_create(
        account=account, name="own", base_url="https://llm.example.com/v1", api_key=secret, default_model="m"
    )
    services.chatbot_create(account=account, name="support", plugins=plugins, provider="own")

    def one_statement() -> None:
        found = door_lookup(api_key=key, chatbot_name="support", feature=OPENAI_COMPATIBLE_ENDPOINT)
        assert found is not None and found.chatbot is not None
        attached_plugins(found.chatbot)
        provider_of_turn(account=found.caller.account, name="own", chatbot=found.chatbot)

    def one_by_one() -> None:
        caller = caller_for_api_key(key)
        assert caller is not None
        feature_enabled(account=caller.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
        chatbot = chatbot_get(account=caller.account, name="support")
        assert chatbot is not None
        attached_plugins(chatbot)
        provider_of_turn(account=caller.account, name="own")

    joined_cpu, joined_wall = _per_call_us(one_statement)
    apart_cpu, apart_wall = _per_call_us(one_by_one)
    return f"""## The chat doors' one statement (`benchmarks/door_lookup.py`)

What a chat door reads before every turn: the API key with its account, user and role, the
feature's switches, the chatbot, its own Provider and key, and its three plugins. In this
process, on {engine}; median of {ROUNDS} rounds of {CALLS} lookups.

| read | CPU per lookup (µs) | wall time per lookup (µs) | statements |
|---|---:|---:|---:|
| `door_lookup`: one statement, read by column name | {joined_cpu:.0f} | {joined_wall:.0f} | 1 |
| the same rows one by one (the chatbot through the ORM) | {apart_cpu:.0f} | {apart_wall:.0f} | 5 |

The one statement costs {joined_cpu / apart_cpu:.2f}x the CPU and {joined_wall / apart_wall:.2f}x the
time of the reads one by one, on every turn of the REST and OpenAI-compatible doors.
"""


if __name__ == "__main__":
    main()
