"""The Celery app. Its settings are Django's `CELERY_*` names, derived from `common/conf.py`.

The whole beat schedule lives here, in one place.
"""

import os
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import (
    before_task_publish,
    celeryd_init,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from smarter.lib.error_reporting import error_reporting_start
from smarter.lib.observability import task_context_restore, task_headers_stamp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

app = Celery("smarter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Every periodic task of the platform.
app.conf.beat_schedule = {
    # Billing: outbox rows the broker never got (or a dead worker never finished) are published
    # again; the task is idempotent, so a duplicate costs nothing.
    "requeue-pending-charges": {
        "task": "smarter.apps.account.tasks.requeue_pending_charges_task",
        "schedule": 60.0,
    },
    # Billing: hourly and daily usage per account, chatbot, model and API key.
    "rollup-usage": {
        "task": "smarter.apps.account.tasks.rollup_usage_task",
        "schedule": crontab(minute=5),
    },
    # Chatbots: custom-domain claims never verified are released, so a domain is never held by
    # whoever named it first.
    "expire-custom-domain-claims": {
        "task": "smarter.apps.chatbot.tasks.expire_custom_domain_claims_task",
        "schedule": crontab(minute=35),
    },
    # Channels: messages and replies no worker took (the broker lost them, a worker died) are
    # handed over again; a message is claimed once, so a duplicate costs nothing.
    "sweep-channel-messages": {
        "task": "smarter.apps.channels.tasks.sweep_channel_messages_task",
        "schedule": 60.0,
    },
}


# Traces (smarter/lib/tracing.py): each forked worker process starts its own exporter and its
# thread, which a fork does not carry over; a pool that does not fork starts it in the worker.
@worker_process_init.connect
def _trace_worker_process(**_: Any) -> None:
    from smarter.lib.tracing import tracing_start

    tracing_start()


@worker_init.connect
def _trace_unforked_worker(sender: Any, **_: Any) -> None:
    from celery.concurrency import get_implementation

    if not get_implementation(sender.pool_cls).__module__.endswith(".prefork"):
        from smarter.lib.tracing import tracing_start

        tracing_start()


@worker_init.connect
def _metrics_start(**_: Any) -> None:
    """The worker's main process, before its pool starts: the metrics of an earlier run are
    cleared, and its `/metrics` is served when a port is set."""
    from django.conf import settings

    from smarter.lib import metrics
    from smarter.lib.metrics_server import metrics_server_start

    metrics.multiprocess_dir_clear()
    if settings.SMARTER.worker_metrics_port and settings.SMARTER.metrics_token is not None:
        metrics_server_start(settings.SMARTER.worker_metrics_port)


@worker_process_shutdown.connect
def _metrics_process_dead(pid: int, **_: Any) -> None:
    from smarter.lib import metrics

    metrics.process_dead(pid)


# A task carries the request id (and turn id) of what enqueued it, so the worker's log lines and
# error reports name the request that caused them.
@before_task_publish.connect
def _stamp_ids(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        task_headers_stamp(headers)


@task_prerun.connect
def _restore_ids(task: Task | None = None, **_: Any) -> None:
    if task is not None:
        task_context_restore(task.request)


# Sentry starts in the worker's main process, before its pool forks (the SDK's own advice).
@celeryd_init.connect
def _start_error_reporting(**_: Any) -> None:
    error_reporting_start()
