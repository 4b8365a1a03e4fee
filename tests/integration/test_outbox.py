"""The outbox page of `make run` (local/outbox, issue 26): what the senders delivered, as its recipient got it,
over plain HTTP on OUTBOX_PORT and in a real browser (headless Chromium)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.local_stack import (
    API_KEY_2,
    WORKSPACE_1,
    WORKSPACE_2,
    LocalStackProcess,
    headers,
    start_local_stack,
    wait_for,
)

pytestmark = pytest.mark.integration

DEMO = {"event": "Welcome_Email", "to": {"email": "rahul@example.com"}, "data": {"name": "Rahul"}}
FINAL_STATES = {"sent", "failed", "unknown", "skipped"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    """`make run` as the quick start runs it: SQS event sources on, the outbox on its own free port."""
    stack = start_local_stack()
    yield stack
    assert stack.stop() == 0, f"local stack did not stop cleanly; log: {stack.log_path}"


def post_event(stack: LocalStackProcess, body: dict[str, Any], key: str, api_key: str | None = None) -> dict[str, Any]:
    workspace = WORKSPACE_2 if api_key == API_KEY_2 else WORKSPACE_1
    sent_headers = headers(key, api_key=api_key) if api_key else headers(key)
    answer = stack.request("POST", f"/v1/{workspace}/live/event", json.dumps(body), sent_headers)
    assert answer.status == 202, answer.text
    return dict(answer.json())


def define_event(stack: LocalStackProcess, name: str, channels: dict[str, Any], workspace: str = WORKSPACE_1) -> None:
    """An event definition as a workspace admin would store it (DefinitionsTable, docs/contract.md)."""
    stack.client("dynamodb").put_item(
        TableName="DefinitionsTable",
        Item={
            "workspace": {"S": workspace},
            "definition_id": {"S": f"event#{name}"},
            "body": {"S": json.dumps({"name": name, "channels": channels})},
        },
    )


def rows(page: str) -> list[dict[str, str]]:
    """The notifications a listing shows, each as the text of its cells."""
    found = []
    pattern = r'<tr class="notification" data-msg-id="([^"]*)" data-request-id="([^"]*)">(.*?)</tr>'
    for match in re.finditer(pattern, page, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", match[3], re.S)
        ]
        names = (
            "received",
            "workspace",
            "event",
            "channel",
            "destination",
            "state",
            "attempts",
            "request_id",
            "replays",
        )
        row = {name: " ".join(words) for name, words in zip(names, cells, strict=True)}
        row["state"] = cells[5][0]
        found.append({**row, "msg_id": match[1]})
    return found


def listing(stack: LocalStackProcess, query: str = "") -> list[dict[str, str]]:
    page = stack.outbox(f"/?refresh=off&{query}")
    assert page.status == 200, page.text
    return rows(page.text)


def settled(stack: LocalStackProcess, request_id: str, count: int = 1) -> list[dict[str, str]]:
    """The request's rows once `count` of them are listed and every one reached a final state."""

    def done() -> list[dict[str, str]]:
        shown = listing(stack, f"request_id={request_id}")
        return shown if len(shown) == count and all(r["state"] in FINAL_STATES for r in shown) else []

    return wait_for(done, timeout=30, message=f"the outbox to show request {request_id} settled")


def test_outbox_shows_the_quick_start_email_with_both_parts_and_counts_its_replays(stack: LocalStackProcess) -> None:
    key = str(uuid.uuid4())
    request_id = post_event(stack, DEMO, key)["request_id"]

    [row] = settled(stack, request_id)
    assert row["channel"] == "email" and row["destination"] == "rahul@example.com"
    assert (row["state"], row["attempts"], row["replays"]) == ("sent", "1", "0")
    assert row["workspace"] == WORKSPACE_1 and row["event"] == "Welcome_Email"

    post_event(stack, DEMO, key)
    post_event(stack, DEMO, key)
    [row] = listing(stack, f"request_id={request_id}")
    assert (row["state"], row["attempts"], row["replays"]) == ("sent", "1", "2")

    page = stack.outbox(f"/message/{request_id}/{row['msg_id']}")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    text = page.text
    assert '<dd id="subject">Welcome Rahul</dd>' in text
    assert "notifications@example.com" in text
    # The HTML part, escaped into the srcdoc of a frame allowed nothing (no scripts, no same origin).
    frame = re.search(r'<iframe [^>]*id="email-html"[^>]*>', text)
    assert frame is not None
    assert 'sandbox=""' in frame[0]
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame[0])
    assert srcdoc is not None
    assert html.unescape(srcdoc[1]) == "<h1>Welcome, Rahul</h1><p>Hi Rahul, <b>welcome aboard</b>.</p>"
    assert '<pre id="email-text">Hi Rahul, welcome aboard.</pre>' in text
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', text, re.S)
    assert timeline is not None
    steps = [
        html.unescape(re.sub(r"<[^>]+>", "", step)).split(" ")[0]
        for step in re.findall(r"<strong>(.*?)</strong>", timeline[1])
    ]
    assert steps[:3] == ["accepted", "queued", "sender"] and "sent" in steps
    assert "answer replayed 2 time(s)" in timeline[1]


def test_outbox_filters_by_workspace_channel_state_and_request_id(stack: LocalStackProcess) -> None:
    define_event(stack, "Outbox_Push", {"push": {"body": "Ping {{ name }}"}})
    pushed = post_event(
        stack, {"event": "Outbox_Push", "to": {"push": "token-1"}, "data": {"name": "A"}}, str(uuid.uuid4())
    )
    order = {
        "event": "OrderConfirmed",
        "to": {"email": "priya@example.com", "sms": "+14155550199"},
        "data": {"name": "Priya", "order_id": "A-9", "amount": "9 EUR"},
    }
    ordered = post_event(stack, order, str(uuid.uuid4()), api_key=API_KEY_2)
    [push] = settled(stack, pushed["request_id"])
    assert push["state"] == "failed"
    settled(stack, ordered["request_id"], count=2)

    by_request = listing(stack, f"request_id={ordered['request_id']}")
    assert sorted(r["channel"] for r in by_request) == ["email", "sms"]
    assert {r["request_id"] for r in by_request} == {ordered["request_id"]}

    second = listing(stack, f"workspace={WORKSPACE_2}")
    assert second and {r["workspace"] for r in second} == {WORKSPACE_2}
    assert ordered["request_id"] in {r["request_id"] for r in second}
    assert pushed["request_id"] not in {r["request_id"] for r in second}

    sms = listing(stack, "channel=sms")
    assert sms and {r["channel"] for r in sms} == {"sms"}
    assert "+14155550199" in {r["destination"] for r in sms}

    failed = listing(stack, "state=failed")
    assert failed and {r["state"] for r in failed} == {"failed"}
    assert push["msg_id"] in {r["msg_id"] for r in failed}
    assert listing(stack, f"state=failed&workspace={WORKSPACE_2}") == []

    # Filters combine, and the newest notification comes first.
    everything = listing(stack)
    assert [r["received"] for r in everything] == sorted((r["received"] for r in everything), reverse=True)
    assert listing(stack, f"channel=sms&request_id={pushed['request_id']}") == []

    # The SMS as SNS took it, and a failed push shows why and what would have been sent.
    sms_row = next(r for r in by_request if r["channel"] == "sms")
    sms_page = stack.outbox(f"/message/{ordered['request_id']}/{sms_row['msg_id']}").text
    assert '<pre id="sms-text">Order A-9 confirmed: 9 EUR</pre>' in sms_page
    push_page = stack.outbox(f"/message/{pushed['request_id']}/{push['msg_id']}").text
    assert "no provider is configured for the push channel" in push_page
    assert "Ping A" in push_page


def test_outbox_shows_a_destination_and_data_holding_script_as_text(stack: LocalStackProcess) -> None:
    define_event(
        stack,
        "Outbox_Escapes",
        {
            "email": {"subject": "Hi {{ name }}", "body": "Text {{ name }}", "html": "<p>Html {{ name }}</p>"},
            "inapp": {"body": "Inbox {{ name }}"},
        },
    )
    hostile_to, hostile_name = "<script>alert('to')</script>", "<script>alert('data')</script>"
    body = {
        "event": "Outbox_Escapes",
        "to": {"email": "esc@example.com", "inapp": hostile_to},
        "data": {"name": hostile_name},
    }
    request_id = post_event(stack, body, str(uuid.uuid4()))["request_id"]
    shown = settled(stack, request_id, count=2)
    assert {r["state"] for r in shown} == {"sent"}
    assert hostile_to in {r["destination"] for r in shown}  # as text, once unescaped

    pages = [stack.outbox(f"/?refresh=off&request_id={request_id}").text]
    pages += [stack.outbox(f"/message/{request_id}/{row['msg_id']}").text for row in shown]
    for page in pages:
        assert "<script" not in page.lower()
    listing_page, *message_pages = pages
    assert "&lt;script&gt;alert(&#39;to&#39;)&lt;/script&gt;" in listing_page
    email_page = next(p for p in message_pages if 'id="email"' in p)
    assert '<dd id="subject">Hi &lt;script&gt;alert(&#39;data&#39;)&lt;/script&gt;</dd>' in email_page
    assert '<pre id="email-text">Text &lt;script&gt;alert(&#39;data&#39;)&lt;/script&gt;</pre>' in email_page
    # The HTML part was escaped by the sender's template, and escaped again into the frame's srcdoc.
    srcdoc = re.search(r'srcdoc="([^"]*)"', email_page)
    assert srcdoc is not None
    assert html.unescape(srcdoc[1]) == "<p>Html &lt;script&gt;alert(&#39;data&#39;)&lt;/script&gt;</p>"
    inapp_page = next(p for p in message_pages if 'id="inapp"' in p)
    assert "Inbox &lt;script&gt;alert(&#39;data&#39;)&lt;/script&gt;" in inapp_page


def test_outbox_answers_404_for_unknown_pages_and_is_not_an_api_route(stack: LocalStackProcess) -> None:
    assert stack.outbox("/v1/WSLOCAL0001/live/event").status == 404
    assert stack.outbox(f"/message/{uuid.uuid4()}/{uuid.uuid4()}").status == 404
    assert stack.request("GET", "/").status == 404
    ready = stack.banner[-1]
    assert f"outbox on http://127.0.0.1:{stack.outbox_port}/" in ready


# --- in a real browser ---------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not found: `apt-get install chromium` (Debian); .ci/run installs it in CI",
)


def chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # as root in CI; the pages are our own, on loopback
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished


@needs_chromium
def test_browser_loads_the_outbox_after_a_request_and_shows_the_email(stack: LocalStackProcess, tmp_path: Path) -> None:
    key = str(uuid.uuid4())
    request_id = post_event(stack, DEMO, key)["request_id"]
    [row] = settled(stack, request_id)
    post_event(stack, DEMO, key)  # a replay: counted, nothing sent again
    base = f"http://127.0.0.1:{stack.outbox_port}"

    listed = chromium(tmp_path / "profile", "--dump-dom", f"{base}/?refresh=off&request_id={request_id}").stdout
    row_html = re.search(rf'<tr class="notification" data-msg-id="{row["msg_id"]}".*?</tr>', listed, re.S)
    assert row_html is not None, listed[-2000:]
    assert "rahul@example.com" in row_html[0] and ">sent<" in row_html[0]
    assert '<td class="replays">1</td>' in row_html[0]

    message_url = f"{base}/message/{request_id}/{row['msg_id']}"
    dom = chromium(tmp_path / "profile", "--dump-dom", message_url).stdout
    assert '<dd id="subject">Welcome Rahul</dd>' in dom
    assert '<pre id="email-text">Hi Rahul, welcome aboard.</pre>' in dom
    frame = re.search(r'<iframe [^>]*id="email-html"[^>]*>', dom)
    assert frame is not None and 'sandbox=""' in frame[0]
    assert "Welcome, Rahul" in html.unescape(frame[0])

    screenshot = tmp_path / "outbox-message.png"
    chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1200,900", message_url)
    image = screenshot.read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(image) > 10_000  # a rendered page, not a blank one


@needs_chromium
def test_browser_parses_script_in_a_destination_as_text(stack: LocalStackProcess, tmp_path: Path) -> None:
    define_event(stack, "Outbox_Browser", {"inapp": {"body": "Inbox {{ name }}"}})
    hostile = "<script>document.title='pwned'</script>"
    body = {"event": "Outbox_Browser", "to": {"inapp": hostile}, "data": {"name": hostile}}
    request_id = post_event(stack, body, str(uuid.uuid4()))["request_id"]
    [row] = settled(stack, request_id)

    base = f"http://127.0.0.1:{stack.outbox_port}"
    for url in (f"{base}/?refresh=off&request_id={request_id}", f"{base}/message/{request_id}/{row['msg_id']}"):
        dom = chromium(tmp_path / "profile", "--dump-dom", url).stdout
        assert "<script" not in dom.lower()
        title = re.search(r"<title>(.*?)</title>", dom, re.S)
        assert title is not None and title[1].strip() != "pwned"  # no script of the page ran
        assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
