"""An HTTP server on 127.0.0.1 in a thread of its own, as the local stack's API and outbox serve."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """Binds 127.0.0.1:`port` at construction (a taken port fails before anything starts); serves after
    `serve_in_thread()`. `owner` is what its request handler asks (`self.server.owner`)."""

    daemon_threads = True
    # socketserver's default backlog of 5 resets a burst of concurrent clients; API Gateway takes them all.
    request_queue_size = 128

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], owner: Any, name: str) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.owner = owner
        self.thread = threading.Thread(target=self.serve_forever, daemon=True, name=name)

    def serve_in_thread(self) -> None:
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.shutdown()
            self.thread.join()
        self.server_close()
