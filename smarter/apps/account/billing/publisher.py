"""Handing committed usage events to the broker, from one background thread per process.

Publishing a Celery task costs more CPU than the rest of a turn's billing, and a turn used to
publish its own before answering. Now a turn only adds its event to a list; this thread publishes
what has arrived in a short window as one `record_charges_task`, so one publish carries the
turns of that window, and no chat waits for the broker (or for a broker that is down).

An event that is never published (the broker is down, the process stopped first) stays pending in
the outbox, and the sweep (`requeue_pending_charges_task`) republishes it: the outbox row, not
this list, is what makes a charge durable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from smarter.lib import tracing

logger = logging.getLogger(__name__)

# Events per published task: bounds a message's size and a redelivery's work.
MAX_EVENTS_PER_TASK = 200
# After the first event arrives the thread waits this long for others to join it. At tens of
# turns a second a publish would otherwise carry one or two; nobody waits on this delay (the
# chat has answered, charges are written by a worker later anyway).
LINGER_SECONDS = 0.2


class Publisher:
    """Collects event ids and publishes them in batches with `publish(ids) -> bool`."""

    def __init__(self, publish: Callable[[list[int]], bool]) -> None:
        self._publish = publish
        self._pid = -1

    def _reset(self) -> None:
        # Per process: a forked worker starts with its own list and thread, not its parent's.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: list[int] = []
        # The trace context of each pending event's turn (None while tracing is off): the publish
        # continues the first turn's trace and links the others.
        self._contexts: list[Any] = []
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="usage-event-publisher", daemon=True)
        self._thread.start()

    def submit(self, usage_event_id: int) -> None:
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            self._pending.append(usage_event_id)
            self._contexts.append(tracing.current_context())
            self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """True once everything submitted so far was handed to `publish` (for shutdown and tests)."""
        return self._pid != os.getpid() or self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(LINGER_SECONDS)
            with self._lock:
                batch, self._pending = self._pending, []
                contexts, self._contexts = self._contexts, []
                self._wake.clear()
            for start in range(0, len(batch), MAX_EVENTS_PER_TASK):
                ids = batch[start : start + MAX_EVENTS_PER_TASK]
                try:
                    with tracing.continued(
                        contexts[start : start + MAX_EVENTS_PER_TASK],
                        "publish usage_events",
                        {"smarter.usage_events.count": len(ids)},
                    ):
                        self._publish(ids)
                except Exception:  # never let the thread die: the sweep covers what was missed
                    logger.exception("publishing usage events failed; they stay pending for the sweep")
            with self._lock:
                if not self._pending:
                    self._idle.set()
