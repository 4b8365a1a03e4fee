"""The outbox page on 127.0.0.1:OUTBOX_PORT: `/` lists notifications (filters in the query string), and
`/message/<request_id>/<msg_id>` shows one as its recipient got it. Server-rendered by Jinja2 with
autoescaping; no script, no external asset, so it works offline and nothing it shows can run."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from local.loopback import LoopbackServer
from local.outbox.reader import Filters, OutboxReader

TEMPLATES = Path(__file__).with_name("templates")
# Seconds between reloads of a page that can still change.
REFRESH_SECONDS = 3
# No script anywhere (the email's HTML inherits this in its srcdoc frame, besides its sandbox); inline styles
# and data: images only, so an email cannot fetch anything either.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


class OutboxServer:
    """Binds 127.0.0.1:`port` at construction (a taken port fails before anything starts); serves after start()."""

    def __init__(self, port: int) -> None:
        self.reader: OutboxReader | None = None
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True
        )
        self.server = LoopbackServer(port, _RequestHandler, self, "outbox")

    def start(self, reader: OutboxReader) -> None:
        self.reader = reader
        self.server.serve_in_thread()

    def close(self) -> None:
        self.server.close()

    def page(self, target: str) -> tuple[int, str]:
        """The status and HTML of a GET of `target` (path and query)."""
        assert self.reader is not None
        split = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(split.query).items()}
        refresh = query.get("refresh") != "off"
        parts = [unquote(part) for part in split.path.strip("/").split("/")] if split.path.strip("/") else []
        if not parts:
            filters = Filters(
                workspace=query.get("workspace", ""),
                channel=query.get("channel", ""),
                state=query.get("state", ""),
                request_id=query.get("request_id", ""),
            )
            listing = self.reader.listing(filters)
            return 200, self._render("outbox.html", listing=listing, filters=filters, refresh=refresh)
        if len(parts) == 3 and parts[0] == "message":
            entry = self.reader.entry(parts[1], parts[2])
            if entry is not None:
                return 200, self._render(
                    "message.html",
                    entry=entry,
                    content=self.reader.content(entry),
                    timeline=self.reader.timeline(entry),
                    refresh=refresh and not entry.final,
                )
        return 404, self._render("not_found.html", path=split.path, refresh=False)

    def _render(self, name: str, **context: Any) -> str:
        return self.templates.get_template(name).render(refresh_seconds=REFRESH_SECONDS, **context)


class _RequestHandler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_GET(self) -> None:
        try:
            status, html = self.server.owner.page(self.path)
        except Exception as exc:  # a page that cannot be built says why, in one line, and the server lives on
            print("outbox:", type(exc).__name__, exc, file=sys.stderr)
            status, html = 500, f"outbox: {type(exc).__name__}"
        body = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if status != 500 else "text/plain; charset=utf-8")
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def version_string(self) -> str:
        return "local-outbox"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("outbox: %s %s\n" % (self.address_string(), format % args))  # noqa: UP031
