"""A Celery worker's own `/metrics`: the worker answers no HTTP otherwise, and its pool's
processes count turns, charges and channel replies that the web never sees.

Served by the worker's main process on `SMARTER_WORKER_METRICS_PORT`, from a thread, with the
standard library's WSGI server: the same token as the web's `/metrics`, the same scrape (the pool
children write their samples to `PROMETHEUS_MULTIPROC_DIR`, which the main process reads).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from smarter.lib import metrics

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found.\n"]
    if not metrics.token_matches(environ.get("HTTP_AUTHORIZATION", "")):
        start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
        return [b"GET /metrics needs Authorization: Bearer <the metrics token>.\n"]
    start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE)])
    return [metrics.scrape()]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def metrics_server_start(port: int, host: str = "0.0.0.0") -> WSGIServer:  # noqa: S104  (a pod's port)
    server = make_server(host, port, metrics_app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    logger.info("worker metrics served on port %s", server.server_port)
    return server
