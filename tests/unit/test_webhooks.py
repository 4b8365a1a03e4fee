"""Outbound webhook rules (docs/contract.md section 4): https only, the providers' own hosts, never a private address,
no redirects. Tested on the guard itself with an injected resolver and opener: nothing leaves the process."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from notify.logic.providers.errors import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from notify.logic.providers.webhooks import (
    SLACK_API,
    WEBHOOK_RULES,
    CheckedUrl,
    HostRule,
    HttpClient,
    HttpResponse,
    PinnedHttpsOpener,
    Resolver,
    WebhookRefused,
    check_url,
    raise_for_status,
)
from notify.models.channels import Channel
from tests.support.openers import ScriptedOpener
from tests.support.tls import self_signed_certificate

SLACK = WEBHOOK_RULES[Channel.slack]
DISCORD = WEBHOOK_RULES[Channel.discord]
TEAMS = WEBHOOK_RULES[Channel.teams]
PUBLIC = "34.223.112.74"


def resolves_to(*addresses: str) -> Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    ("url", "rules"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", SLACK),
        ("https://discord.com/api/webhooks/1/abc", DISCORD),
        ("https://discordapp.com/api/webhooks/1/abc", DISCORD),
        ("https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d", TEAMS),
        ("https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d", TEAMS),
        ("https://slack.com/api/chat.postMessage", SLACK_API),
    ],
)
def test_provider_urls_on_their_own_hosts_pass(url: str, rules: tuple[HostRule, ...]) -> None:
    checked = check_url(url, rules, resolves_to(PUBLIC))
    assert checked.addresses == (PUBLIC,)


@pytest.mark.parametrize(
    ("url", "rules", "reason"),
    [
        ("http://hooks.slack.com/services/T0/B0/x", SLACK, "only https URLs are allowed"),
        ("ftp://hooks.slack.com/services/T0/B0/x", SLACK, "only https URLs are allowed"),
        ("https://hooks.slack.com.evil.example/services/x", SLACK, "not an allowed host"),
        ("https://evilhooks.slack.com/services/x", SLACK, "not an allowed host"),
        ("https://hooks.slack.com/api/other", SLACK, "not an allowed host"),
        ("https://discord.com/api/webhooks/1/x", SLACK, "not an allowed host"),  # another provider's host
        ("https://webhook.office.com.evil.example/webhookb2/x", TEAMS, "not an allowed host"),
        ("https://evil.example/api/webhooks/1/x", DISCORD, "not an allowed host"),
        ("https://162.159.135.232/api/webhooks/1/x", DISCORD, "IP address hosts are not allowed"),
        ("https://[::1]/api/webhooks/1/x", DISCORD, "IP address hosts are not allowed"),
        ("https://user:pw@discord.com/api/webhooks/1/x", DISCORD, "credentials in the URL"),
        ("https://discord.com:8443/api/webhooks/1/x", DISCORD, "only the default https port"),
        ("https://discord.com:99999/api/webhooks/1/x", DISCORD, "malformed URL"),
    ],
)
def test_urls_breaking_a_rule_are_refused(url: str, rules: tuple[HostRule, ...], reason: str) -> None:
    with pytest.raises(WebhookRefused, match=reason):
        check_url(url, rules, resolves_to(PUBLIC))


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],  # private
        ["192.168.1.1"],
        ["172.16.0.1"],
        ["127.0.0.1"],  # loopback
        ["::1"],
        ["169.254.169.254"],  # link-local: the instance metadata service
        ["fe80::1"],
        ["100.64.0.1"],  # carrier-grade NAT, not global
        ["0.0.0.0"],  # noqa: S104 - "this host": an address to refuse, not one to bind
        ["::ffff:10.0.0.5"],  # IPv4-mapped private address
        ["fd00::1"],  # unique local
        ["2002:a00:1::"],  # 6to4 wrapping 10.0.0.1
        ["64:ff9b::a9fe:a9fe"],  # NAT64 wrapping 169.254.169.254
        ["224.0.0.1"],  # multicast
        [PUBLIC, "10.0.0.5"],  # one bad answer is enough
        ["::"],  # unspecified
        ["fe80::1%eth0"],  # link-local with a zone, as getaddrinfo reports it
        ["fd00:ec2::254"],  # the instance metadata service over IPv6
        ["::ffff:127.0.0.1"],  # IPv4-mapped loopback
        ["::ffff:169.254.169.254"],  # IPv4-mapped metadata service
        # Ranges Python 3.11 calls global (and some 3.13 too): refused whatever the interpreter says.
        ["::7f00:1"],  # IPv4-compatible ::127.0.0.1, delivered to 127.0.0.1 by older stacks
        ["::a9fe:a9fe"],  # IPv4-compatible ::169.254.169.254
        ["::ffff:0:a00:5"],  # IPv4-translated 10.0.0.5
        ["64:ff9b:1::a00:5"],  # local-use NAT64
        ["fec0::1"],  # deprecated site-local
        ["192.0.0.8"],  # IETF protocol assignments
    ],
)
def test_hosts_resolving_to_non_public_addresses_are_refused(addresses: list[str]) -> None:
    with pytest.raises(WebhookRefused, match="resolves to a non-public address"):
        check_url("https://hooks.slack.com/services/T0/B0/x", SLACK, resolves_to(*addresses))


@pytest.mark.parametrize("address", ["2606:4700::6810:84e5", "64:ff9b::808:808", PUBLIC])
def test_public_ipv6_and_nat64_of_public_ipv4_pass(address: str) -> None:
    assert check_url("https://hooks.slack.com/services/T0/B0/x", SLACK, resolves_to(address)).addresses == (address,)


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 in decimal, which some resolvers accept
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hexadecimal
        "127.1",  # shortened
        "[::ffff:127.0.0.1]",
        "[fe80::1%25eth0]",
        "hooks.slack.com\u3002evil.example",  # an ideographic full stop is not a dot here
    ],
)
def test_numeric_and_disguised_hosts_are_refused_before_any_lookup(host: str) -> None:
    looked_up: list[str] = []

    def resolver(name: str, port: int) -> list[str]:
        looked_up.append(name)
        return [PUBLIC]

    with pytest.raises(WebhookRefused):
        check_url(f"https://{host}/services/T0/B0/x", SLACK, resolver)

    assert looked_up == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com@evil.example/services/T0/B0/x",
        "https://evil.example\\@hooks.slack.com/services/T0/B0/x",
        "https://evil.example#@hooks.slack.com/services/T0/B0/x",
        "https://evil.example?@hooks.slack.com/services/T0/B0/x",
    ],
)
def test_an_allowed_host_elsewhere_in_the_url_does_not_pass(url: str) -> None:
    with pytest.raises(WebhookRefused):
        check_url(url, SLACK, resolves_to(PUBLIC))


def test_dns_rebinding_after_the_check_cannot_redirect_the_connection() -> None:
    answers = [[PUBLIC], ["127.0.0.1"]]
    looked_up: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return answers.pop(0) if answers else ["127.0.0.1"]

    opener = ScriptedOpener.always(HttpResponse(200, b"ok"))
    client = HttpClient(opener=opener, resolver=rebinding)

    client.post_json("https://hooks.slack.com/services/T0/B0/x", {"text": "hi"}, SLACK)

    assert looked_up == ["hooks.slack.com"]  # resolved once, by the guard
    [sent] = opener.calls
    assert sent.addresses == (PUBLIC,)


def test_nothing_is_sent_when_the_guard_refuses() -> None:
    opener = ScriptedOpener.always(HttpResponse(200, b"ok"))
    client = HttpClient(opener=opener, resolver=resolves_to("127.0.0.1"))

    with pytest.raises(WebhookRefused):
        client.post_json("https://hooks.slack.com/services/T0/B0/x", {"text": "hi"}, SLACK)

    assert opener.calls == []


def test_connection_goes_to_the_checked_address() -> None:
    opener = ScriptedOpener.always(HttpResponse(200, b"ok"))
    client = HttpClient(opener=opener, resolver=resolves_to(PUBLIC))

    client.post_json("https://hooks.slack.com/services/T0/B0/x?a=1", {"text": "hi"}, SLACK)

    [sent] = opener.calls
    assert (sent.host, sent.target, sent.addresses) == ("hooks.slack.com", "/services/T0/B0/x?a=1", (PUBLIC,))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_refused_not_followed(status: int) -> None:
    # The redirect points at a private address; following it would reach the internal network.
    opener = ScriptedOpener.always(HttpResponse(status, b"", {"location": "http://127.0.0.1:8080/admin"}))
    client = HttpClient(opener=opener, resolver=resolves_to(PUBLIC))

    with pytest.raises(WebhookRefused, match=f"answered with a redirect \\({status}\\)"):
        client.post_json("https://discord.com/api/webhooks/1/x", {"content": "hi"}, DISCORD)

    assert len(opener.calls) == 1


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (429, TransientDeliveryError),
        (500, UnknownOutcomeError),  # may follow an accepted message: never retried (R8)
        (503, UnknownOutcomeError),
        (400, PermanentDeliveryError),
        (404, PermanentDeliveryError),
    ],
)
def test_R8_provider_status_decides_retry_failure_or_unknown(status: int, failure: type[Exception]) -> None:
    with pytest.raises(failure):
        raise_for_status(HttpResponse(status, b""), "discord-webhook")


# The real opener, against an HTTPS server on loopback. The guard would refuse 127.0.0.1, so the test
# hands the opener a CheckedUrl directly: what is under test is where it connects and what it follows.


class _Redirecting(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.headers["Host"], self.path))
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback_https(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 presenting a certificate for hooks.slack.com; yields (port, cert)."""
    cert, key = self_signed_certificate(["hooks.slack.com"], tmp_path)
    server = HTTPServer(("127.0.0.1", 0), _Redirecting)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Redirecting.seen = []
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def test_opener_connects_to_the_checked_address_and_does_not_follow_redirects(
    loopback_https: tuple[int, Path],
) -> None:
    port, cert = loopback_https
    opener = PinnedHttpsOpener(ssl.create_default_context(cafile=str(cert)))
    # hooks.slack.com is never resolved: the connection goes to the address the guard checked.
    checked = CheckedUrl(host="hooks.slack.com", target="/services/T0/B0/x", addresses=("127.0.0.1",), port=port)

    response = opener(checked, "POST", b'{"text": "hi"}', {"Content-Type": "application/json"}, 2.0)

    assert response.status == 302
    assert _Redirecting.seen == [(f"hooks.slack.com:{port}", "/services/T0/B0/x")]


def test_opener_verifies_the_certificate_for_the_host_name(loopback_https: tuple[int, Path]) -> None:
    port, cert = loopback_https
    opener = PinnedHttpsOpener(ssl.create_default_context(cafile=str(cert)))
    checked = CheckedUrl(host="discord.com", target="/api/webhooks/1/x", addresses=("127.0.0.1",), port=port)

    with pytest.raises(TransientDeliveryError, match=r"discord\.com unreachable: SSLCertVerificationError"):
        opener(checked, "POST", b"{}", {}, 2.0)

    assert _Redirecting.seen == []


def test_opener_never_resolves_the_host_name_again(
    loopback_https: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second DNS answer (rebinding) cannot matter: the opener connects to the checked address only."""
    port, cert = loopback_https
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    opener = PinnedHttpsOpener(ssl.create_default_context(cafile=str(cert)))
    checked = CheckedUrl(host="hooks.slack.com", target="/services/T0/B0/x", addresses=("127.0.0.1",), port=port)

    opener(checked, "POST", b"{}", {}, 2.0)

    assert "hooks.slack.com" not in looked_up
    assert _Redirecting.seen == [(f"hooks.slack.com:{port}", "/services/T0/B0/x")]
