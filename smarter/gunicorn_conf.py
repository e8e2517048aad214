"""Gunicorn's hooks for the web server (`gunicorn --config python:smarter.gunicorn_conf`).

With `PROMETHEUS_MULTIPROC_DIR` set, each worker process writes its metrics to files there and
a scrape answered by any of them sums them all: the master clears what a previous run left
before the workers start, and tells the metrics when a worker exits (a replacement has a new pid).
"""

from typing import Any

from smarter.lib import metrics


def on_starting(server: Any) -> None:
    metrics.multiprocess_dir_clear()


def child_exit(server: Any, worker: Any) -> None:
    metrics.process_dead(worker.pid)
