"""Outbound HTTPS to chat providers, guarded against server-side request forgery.

A destination URL comes from an API caller, so before anything is sent: https only, port 443, only
the provider's own hosts, no credentials in the URL; every address the host resolves to must be
global (no private, loopback, link-local, shared, reserved or multicast address); the connection
goes to an address that was checked (so a second DNS answer cannot swap it), with a short timeout;
and a redirect is never followed (a 3xx is a refusal, as it could point anywhere).

At most once (R8): a failure before the request was written (DNS, connection refused, connect timeout,
TLS handshake) is transient and retried; once bytes were sent, a timeout, a dropped connection or a 5xx
may follow an accepted message, so it is an unknown outcome and the request is never made again.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from notify.logic import budget
from notify.logic.providers.errors import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from notify.models.channels import Channel, url_problem

MAX_RESPONSE_BYTES = 64 * 1024


class WebhookRefused(PermanentDeliveryError):
    """The URL or what it resolves to breaks a rule above; nothing was sent."""


@dataclass(frozen=True)
class HostRule:
    """Hosts (exact, or any subdomain of a `.suffix`) and the path prefix a provider's webhooks use."""

    hosts: tuple[str, ...]
    path_prefix: str

    def allows(self, host: str, path: str) -> bool:
        host_ok = any(host == h or (h.startswith(".") and host.endswith(h)) for h in self.hosts)
        return host_ok and path.startswith(self.path_prefix)


WEBHOOK_RULES: dict[Channel, tuple[HostRule, ...]] = {
    Channel.slack: (HostRule(("hooks.slack.com",), "/services/"),),
    Channel.discord: (
        HostRule(("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"), "/api/webhooks/"),
    ),
    Channel.teams: (HostRule((".webhook.office.com", "outlook.office.com"), "/webhook"),),
}
SLACK_API = (HostRule(("slack.com",), "/api/"),)


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the rules, with the addresses its host resolved to (all global)."""

    host: str
    target: str  # path and query
    addresses: tuple[str, ...]
    port: int = 443
    # False only for a loopback report receiver the local stack allows (notify.logic.reports).
    tls: bool = True


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # The answer was longer than MAX_RESPONSE_BYTES: `body` is its beginning only.
    truncated: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


Resolver = Callable[[str, int], list[str]]
# (checked url, method, body, headers, timeout) -> response; injectable so tests never leave the machine.
Opener = Callable[[CheckedUrl, str, bytes | None, dict[str, str], float], HttpResponse]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address DNS returns for host (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientDeliveryError(f"could not resolve {host}: {exc.strerror}") from exc
    return [str(info[4][0]) for info in infos]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Never a webhook's address, though some Python versions call them global (3.11 does all five, 3.13
# the first two): deprecated IPv4-compatible (::a.b.c.d, which older stacks deliver to a.b.c.d) and
# site-local IPv6, IPv4-translated (::ffff:0:a.b.c.d), local-use NAT64, IETF protocol assignments.
_NEVER_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in ("::/96", "fec0::/10", "::ffff:0:0:0/96", "64:ff9b:1::/48", "192.0.0.0/24")
)


def is_public_address(address: str) -> bool:
    """True only for a global unicast address. IPv6 forms that carry an IPv4 address (mapped, 6to4,
    NAT64) are judged by that address too, since a gateway may deliver them to it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(
        c.is_global and not c.is_multicast and not any(c in network for network in _NEVER_PUBLIC) for c in candidates
    )


def check_url(url: str, rules: tuple[HostRule, ...], resolver: Resolver = system_resolver) -> CheckedUrl:
    """Apply every rule of this module to `url`; WebhookRefused names the first one broken."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused("webhook refused: malformed URL") from exc
    if parts.scheme != "https":
        raise WebhookRefused("webhook refused: only https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("webhook refused: credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise WebhookRefused("webhook refused: the URL has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise WebhookRefused("webhook refused: IP address hosts are not allowed")
    if port not in (None, 443):
        raise WebhookRefused("webhook refused: only the default https port is allowed")
    # Before any allowlist check or DNS lookup: the API refuses such URLs at the door (notify.models.channels),
    # but a message queued before that check, or redriven, may still carry one.
    problem = url_problem(url)
    if problem is not None:
        raise WebhookRefused(f"webhook refused: the URL {problem}")
    if not any(rule.allows(host, parts.path) for rule in rules):
        raise WebhookRefused(f"webhook refused: {host} is not an allowed host for this channel")
    addresses = resolver(host, 443)
    if not addresses:
        raise TransientDeliveryError(f"could not resolve {host}")
    if not all(is_public_address(address) for address in addresses):
        raise WebhookRefused(f"webhook refused: {host} resolves to a non-public address")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return CheckedUrl(host=host, target=target, addresses=tuple(addresses))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to one checked address, with the certificate and SNI still verified for the host name."""

    def __init__(self, url: CheckedUrl, timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(url.host, url.port, timeout=timeout, context=tls)
        self._pinned_address = url.addresses[0]
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self._pinned_address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class PinnedHttpsOpener:
    """The real opener: one request to the first checked address; http.client never follows redirects."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls or ssl.create_default_context()

    def __call__(
        self, url: CheckedUrl, method: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> HttpResponse:
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(url, timeout, self.tls)
            if url.tls
            else http.client.HTTPConnection(url.addresses[0], url.port, timeout=timeout)
        )
        try:
            try:
                connection.connect()
            except OSError as exc:
                # Refused, unreachable, connect timeout, certificate or TLS failure (ssl.SSLError is an
                # OSError): no byte of the request was written, so it is safe to retry.
                raise TransientDeliveryError(f"{url.host} unreachable: {type(exc).__name__}") from exc
            try:
                connection.request(method, url.target, body=body, headers=headers)
                response = connection.getresponse()
                content = response.read(MAX_RESPONSE_BYTES + 1)
                return HttpResponse(
                    status=response.status,
                    body=content[:MAX_RESPONSE_BYTES],
                    headers={name.lower(): value for name, value in response.getheaders()},
                    truncated=len(content) > MAX_RESPONSE_BYTES,
                )
            except (OSError, http.client.HTTPException) as exc:
                # The request (or part of it) was sent: the provider may have accepted it (R8).
                raise UnknownOutcomeError(
                    f"{url.host} gave no answer after the request was sent ({type(exc).__name__})"
                ) from exc
        finally:
            connection.close()


@dataclass
class HttpClient:
    """Guarded HTTPS: every call checks the URL, then sends through the opener."""

    opener: Opener = field(default_factory=PinnedHttpsOpener)
    resolver: Resolver = system_resolver
    timeout: float = 5.0

    def post_json(
        self, url: str, payload: dict[str, Any], rules: tuple[HostRule, ...], headers: dict[str, str] | None = None
    ) -> HttpResponse:
        return self.send(check_url(url, rules, self.resolver), json.dumps(payload).encode(), headers)

    def send(self, checked: CheckedUrl, body: bytes, headers: dict[str, str] | None = None) -> HttpResponse:
        """POST `body` (JSON) to a URL that passed the checks; a redirect is a refusal."""
        all_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "idempotent-notify"}
        all_headers.update(headers or {})
        timeout = budget.call_timeout(self.timeout, checked.host)
        response = self.opener(checked, "POST", body, all_headers, timeout)
        if 300 <= response.status < 400:
            raise WebhookRefused(f"webhook refused: {checked.host} answered with a redirect ({response.status})")
        return response


def raise_for_status(response: HttpResponse, provider: str) -> None:
    """2xx passes; 429 (an explicit throttle: not accepted) is transient; a 5xx may follow an accepted
    message, so its outcome is unknown (R8); any other status is permanent."""
    if 200 <= response.status < 300:
        return
    if response.status == 429:
        raise TransientDeliveryError(f"{provider} answered 429 (throttled)", provider=provider)
    if response.status >= 500:
        raise UnknownOutcomeError(f"{provider} answered {response.status}", provider=provider)
    raise PermanentDeliveryError(f"{provider} answered {response.status}", provider=provider)
