"""A proxy on 127.0.0.1 that forwards each request to the local stack and, for the first N POSTs, throws the
answer away and closes the connection: the server executed, the client never heard (a lost answer)."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class LossyProxy:
    def __init__(self, upstream_port: int, lose_answers: int = 1) -> None:
        self.upstream_port = upstream_port
        self.lose_answers = lose_answers
        # (method, path, Idempotency-Key, upstream status, whether the answer reached the client)
        self.seen: list[tuple[str, str, str | None, int, bool]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _lose_this_one(self, method: str) -> bool:
        with self._lock:
            if method == "POST" and self.lose_answers > 0:
                self.lose_answers -= 1
                return True
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test asserts on `seen`."""

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    content = response.read()
                    answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                finally:
                    upstream.close()
                lost = proxy._lose_this_one(self.command)
                proxy.seen.append(
                    (self.command, self.path, self.headers.get("Idempotency-Key"), response.status, not lost)
                )
                if lost:
                    # Executed upstream; the client gets a closed connection and no answer.
                    self.close_connection = True
                    return
                self.send_response(response.status)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        return Handler
