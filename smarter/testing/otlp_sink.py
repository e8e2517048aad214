"""An OTLP/HTTP trace receiver on loopback: what a collector would take, decoded, for tests and
benchmarks. Each POST's protobuf `ExportTraceServiceRequest` is kept (or only counted, with
`keep=False`: a benchmark sends many) and answered as a collector does.

    python -m smarter.testing.otlp_sink --port 0   # prints "otlp-sink listening on http://127.0.0.1:PORT"
"""

from __future__ import annotations

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_ANSWER = ExportTraceServiceResponse().SerializeToString()


class OtlpSink:
    def __init__(self, port: int = 0, *, keep: bool = True) -> None:
        self.received: list[tuple[str, ExportTraceServiceRequest]] = []
        self.batches = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.batches += 1
                if keep:
                    sink.received.append((self.path, ExportTraceServiceRequest.FromString(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(_ANSWER)))
                self.end_headers()
                self.wfile.write(_ANSWER)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> OtlpSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="An OTLP/HTTP trace receiver that accepts and drops every batch.")
    parser.add_argument("--port", type=int, default=0)
    sink = OtlpSink(parser.parse_args().port, keep=False)
    print(f"otlp-sink listening on {sink.url}", flush=True)
    sink.server.serve_forever()


if __name__ == "__main__":
    main()
