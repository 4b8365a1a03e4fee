"""What the outbox shows, gathered on each page load: the delivery log (the status route's records and the queue
message each sender kept), what the providers hold in moto (SES, SNS) and the inbox table, and what only the
local stack observed (local/outbox/observed.py)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from local.outbox.capture import SentEmail, sent_email
from local.outbox.observed import ReplayCounter, SenderReceives
from notify.dal.delivery_log import GROUP_ATTR, MANIFEST_SK
from notify.logic.providers.chat import pick
from notify.logic.status import NOT_QUEUED_REASON
from notify.logic.templates import RenderedMessage, TemplateRenderError, render_channel_template
from notify.models.channels import Channel
from notify.models.definitions import EventDefinition
from notify.models.delivery import DeliveryRecord, DeliveryState, RequestManifest
from notify.models.messages import NotificationMessage

# The newest notifications a page lists; a stress run leaves thousands, and nobody reads past these.
MAX_LISTED = 500
WEBHOOK_CHANNELS = (Channel.slack, Channel.discord, Channel.teams)


@dataclass
class OutboxEntry:
    """One notification: what the status route shows of it, plus its full destination and data when a sender
    kept its queue message (the delivery log's destinations are masked)."""

    request_id: str
    msg_id: str
    workspace: str
    version: str
    event: str
    channel: str
    destination: str
    state: str
    attempts: int
    received_time: str
    updated_at: str | None = None
    sent_at: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    replays: int | None = None  # None: not counted (make run-sam: SAM CLI serves the API)
    message: NotificationMessage | None = None

    @property
    def final(self) -> bool:
        return self.state != DeliveryState.queued.value


@dataclass(frozen=True)
class Filters:
    workspace: str = ""
    channel: str = ""
    state: str = ""
    request_id: str = ""

    def keep(self, entry: OutboxEntry) -> bool:
        wanted = {"workspace": self.workspace, "channel": self.channel, "state": self.state}
        wanted["request_id"] = self.request_id.strip()
        return all(not value or getattr(entry, name) == value for name, value in wanted.items())


@dataclass
class Listing:
    entries: list[OutboxEntry]
    total: int  # before filtering
    matched: int  # after filtering, before the MAX_LISTED cut
    workspaces: list[str]
    channels: list[str]
    states: list[str]
    problem: str | None = None  # the delivery log could not be read


@dataclass(frozen=True)
class TimelineStep:
    what: str
    at: str | None = None
    detail: str | None = None


@dataclass
class MessageContent:
    """What the recipient got (or, when nothing was delivered, what the sender renders: `preview`)."""

    email: SentEmail | None = None
    sms_text: str | None = None
    inapp: dict[str, Any] | None = None
    webhook_payload: str | None = None
    preview: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class OutboxReader:
    """Reads the local stack's records for the outbox page. Missing tables (another template) read as empty."""

    session: Any
    tables: dict[str, str]
    region: str
    account: str
    replays: ReplayCounter | None
    receives: SenderReceives

    def listing(self, filters: Filters) -> Listing:
        problem = None
        try:
            entries = self._entries()
        except (BotoCoreError, ClientError) as exc:
            entries, problem = [], f"the delivery log could not be read: {type(exc).__name__}: {exc}"
        matched = [entry for entry in entries if filters.keep(entry)]
        return Listing(
            entries=matched[:MAX_LISTED],
            total=len(entries),
            matched=len(matched),
            workspaces=sorted({entry.workspace for entry in entries}),
            channels=sorted({entry.channel for entry in entries} | {channel.value for channel in Channel}),
            # Every state the product has, and any other a record holds (provider events, once they exist).
            states=list(dict.fromkeys([*(state.value for state in DeliveryState), *(e.state for e in entries)])),
            problem=problem,
        )

    def entry(self, request_id: str, msg_id: str) -> OutboxEntry | None:
        return next((e for e in self._entries() if e.request_id == request_id and e.msg_id == msg_id), None)

    def _entries(self) -> list[OutboxEntry]:
        """Every notification of the delivery log, newest request first."""
        table = self.tables.get("DeliveryLogTable")
        if table is None:
            return []
        manifests: list[RequestManifest] = []
        records: dict[tuple[str, str], tuple[DeliveryRecord, NotificationMessage | None]] = {}
        for item in self._scan(table):
            try:
                if item.get("msg_id") == MANIFEST_SK:
                    manifests.append(RequestManifest.model_validate(item))
                elif GROUP_ATTR in item:
                    group = json.loads(zlib.decompress(bytes(item[GROUP_ATTR])))
                    manifests += [RequestManifest.model_validate(found) for found in group]
                else:
                    record = DeliveryRecord.model_validate(item)
                    message = NotificationMessage.model_validate_json(item["message"]) if "message" in item else None
                    records[(record.request_id, record.msg_id)] = (record, message)
            except (ValidationError, ValueError, zlib.error):
                continue  # an item of another shape (a redrive marker...): not a notification
        entries = []
        for manifest in manifests:
            for notification in manifest.notifications:
                kept = records.pop((manifest.request_id, notification.msg_id), None)
                entries.append(
                    self._entry(
                        manifest, notification.msg_id, notification.destination, *(kept if kept else (None, None))
                    )
                )
        # A sender can record a notification before its manifest is written (notify/logic/status.py).
        for orphan, message in records.values():
            if message is not None:
                entries.append(self._orphan(orphan, message))
        entries.sort(key=lambda e: (e.received_time, e.updated_at or "", e.msg_id), reverse=True)
        return entries

    def _entry(
        self,
        manifest: RequestManifest,
        msg_id: str,
        masked: str,
        record: DeliveryRecord | None,
        message: NotificationMessage | None,
    ) -> OutboxEntry:
        channel = next(n.channel for n in manifest.notifications if n.msg_id == msg_id)
        if record is not None:
            state, reason = record.state.value, record.reason
        elif msg_id in manifest.skipped:
            state, reason = DeliveryState.skipped.value, manifest.skipped[msg_id]
        elif msg_id in manifest.not_queued:
            state, reason = DeliveryState.failed.value, NOT_QUEUED_REASON
        else:
            state, reason = DeliveryState.queued.value, None
        return OutboxEntry(
            request_id=manifest.request_id,
            msg_id=msg_id,
            workspace=manifest.workspace,
            version=manifest.version,
            event=manifest.event,
            channel=channel.value,
            destination=message.destination if message else masked,
            state=state,
            attempts=record.attempts if record else 0,
            received_time=manifest.received_time,
            updated_at=record.updated_at if record else None,
            sent_at=record.sent_at if record else None,
            provider=record.provider if record else None,
            provider_message_id=record.provider_message_id if record else None,
            reason=reason,
            replays=self._replays(manifest.workspace, manifest.request_id),
            message=message,
        )

    def _orphan(self, record: DeliveryRecord, message: NotificationMessage) -> OutboxEntry:
        return OutboxEntry(
            request_id=record.request_id,
            msg_id=record.msg_id,
            workspace=message.workspace,
            version=message.version,
            event=message.event,
            channel=message.channel.value,
            destination=message.destination,
            state=record.state.value,
            attempts=record.attempts,
            received_time=record.updated_at or "",
            updated_at=record.updated_at,
            sent_at=record.sent_at,
            provider=record.provider,
            provider_message_id=record.provider_message_id,
            reason=record.reason,
            replays=self._replays(message.workspace, record.request_id),
            message=message,
        )

    def _replays(self, workspace: str, request_id: str) -> int | None:
        return None if self.replays is None else self.replays.count(workspace, request_id)

    def _scan(self, table: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        arguments: dict[str, Any] = {"TableName": table}
        items = []
        dynamodb = self.session.client("dynamodb")
        while True:
            page = dynamodb.scan(**arguments)
            items += [{name: deserializer.deserialize(value) for name, value in raw.items()} for raw in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def timeline(self, entry: OutboxEntry) -> list[TimelineStep]:
        """The request's story for this notification, from the status record and what the stack observed."""
        steps = [TimelineStep("accepted", entry.received_time, f"{entry.event} ({entry.version}), {entry.workspace}")]
        if entry.state == DeliveryState.skipped.value and entry.attempts == 0:
            return [*steps, TimelineStep("skipped", entry.received_time, entry.reason)]
        if entry.reason == NOT_QUEUED_REASON:
            return [*steps, TimelineStep("failed", entry.received_time, entry.reason)]
        due = entry.message.not_before if entry.message else None
        steps.append(TimelineStep("queued", entry.received_time, f"due at epoch {due}" if due else None))
        receives = self.receives.of(entry.msg_id)
        for receive in receives:
            left = "then left on the queue for a retry" if receive.back_on_queue else "then deleted from the queue"
            steps.append(TimelineStep(f"sender received it (receive {receive.receive_count})", receive.at, left))
        if not receives and entry.attempts:
            # make run-sam's and older receives were not observed: the delivery log counts them.
            steps.append(TimelineStep(f"{entry.attempts} delivery attempt(s) recorded", entry.updated_at))
        if entry.final:
            detail = ", ".join(
                part
                for part in (
                    entry.provider and f"provider {entry.provider}",
                    entry.provider_message_id and f"id {entry.provider_message_id}",
                    entry.reason,
                )
                if part
            )
            steps.append(TimelineStep(entry.state, entry.sent_at or entry.updated_at, detail or None))
        if entry.replays:
            steps.append(TimelineStep(f"answer replayed {entry.replays} time(s)", None, "nothing sent again"))
        return steps

    def content(self, entry: OutboxEntry) -> MessageContent:
        """What the provider holds for a delivered notification; else what the sender renders for it."""
        content = MessageContent()
        delivered_id = entry.provider_message_id if entry.state == DeliveryState.sent.value else None
        if entry.channel == Channel.email and delivered_id:
            content.email = sent_email(delivered_id) or self._moto_email(delivered_id)
        elif entry.channel == Channel.sms and delivered_id:
            sms = self._moto_backend("sns").sms_messages.get(delivered_id)
            content.sms_text = sms[1] if sms else None
        elif entry.channel == Channel.inapp and delivered_id and entry.message:
            content.inapp = _shown_inapp(self._inbox_item(entry.message))
        if content.email or content.sms_text is not None or content.inapp:
            return content
        if entry.version == "test" and entry.state == DeliveryState.sent.value:
            content.notes.append("`test` version: delivered to the sandbox, nothing reached a provider")
        rendered = self._render(entry, content)
        if rendered is None:
            return content
        content.preview = entry.channel not in [c.value for c in WEBHOOK_CHANNELS]
        if entry.channel == Channel.email:
            html = rendered.extras.get("html")
            content.email = SentEmail(
                message_id="",
                sender="",
                to=[entry.destination],
                subject=rendered.subject or entry.event,
                text=rendered.body,
                html=html if isinstance(html, str) else None,
            )
        elif entry.channel in [c.value for c in WEBHOOK_CHANNELS]:
            content.webhook_payload = json.dumps(webhook_payload(entry, rendered), indent=2, ensure_ascii=False)
        elif entry.channel == Channel.inapp:
            shown = {"subject": rendered.subject, "body": rendered.body, "extras": rendered.extras}
            content.inapp = _shown_inapp(shown)
        else:
            content.sms_text = rendered.body
        return content

    def _render(self, entry: OutboxEntry, content: MessageContent) -> RenderedMessage | None:
        if entry.message is None:
            content.notes.append("no sender has taken this notification yet, so its data is not known here")
            return None
        table = self.tables.get("DefinitionsTable")
        try:
            response = self.session.client("dynamodb").get_item(
                TableName=table,
                Key={"workspace": {"S": entry.workspace}, "definition_id": {"S": f"event#{entry.event}"}},
            )
            definition = EventDefinition.model_validate_json(response["Item"]["body"]["S"])
            template = definition.channels[Channel(entry.channel)]
            return render_channel_template(template, entry.message.data)
        except (BotoCoreError, ClientError, KeyError, ValidationError, ValueError) as exc:
            content.notes.append(f"the event's {entry.channel} template could not be read: {type(exc).__name__}")
        except TemplateRenderError as exc:
            content.notes.append(str(exc))
        return None

    def _moto_backend(self, service: str) -> Any:
        from moto.backends import get_backend

        return get_backend(service)[self.account][self.region]  # type: ignore[call-overload]

    def _moto_email(self, message_id: str) -> SentEmail | None:
        """moto's own record (the HTML part when there was one, else the text): for emails sent before capture."""
        for sent in self._moto_backend("ses").sent_messages:
            if getattr(sent, "id", None) == message_id and hasattr(sent, "body"):
                is_html = sent.body.lstrip().startswith("<")
                to = list(sent.destinations.get("ToAddresses", []))
                text, html = (None, sent.body) if is_html else (sent.body, None)
                return SentEmail(message_id, sent.source, to, sent.subject, text, html)
        return None

    def _inbox_item(self, message: NotificationMessage) -> dict[str, Any] | None:
        table = self.tables.get("InboxTable")
        if table is None:
            return None
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        response = self.session.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression="recipient = :r",
            ExpressionAttributeValues={":r": {"S": f"{message.workspace}#{message.destination}"}},
        )
        for raw in response["Items"]:
            item = {name: deserializer.deserialize(value) for name, value in raw.items()}
            if item.get("msg_id") == message.msg_id:
                return item
        return None


def webhook_payload(entry: OutboxEntry, rendered: RenderedMessage) -> dict[str, Any]:
    """The JSON the sender posts for a chat channel (notify/logic/providers: Providers.deliver and chat.py)."""
    extras = rendered.extras
    if entry.channel == Channel.discord:
        return {"content": rendered.body, **pick(extras, "username", "embeds")}
    if entry.channel == Channel.slack:
        payload: dict[str, Any] = {"text": rendered.body, **pick(extras, "blocks")}
        if not entry.destination.lower().startswith(("https://", "http://")):
            payload = {"channel": entry.destination, **payload}  # chat.postMessage with the bot token
        return payload
    return {"text": rendered.body}


def _shown_inapp(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An inbox item's subject, body and extras (as indented JSON: DynamoDB gives numbers as Decimal)."""
    if item is None:
        return None
    extras = item.get("extras")
    shown = json.dumps(extras, indent=2, default=str, ensure_ascii=False) if extras else None
    return {"subject": item.get("subject"), "body": item.get("body", ""), "extras": shown}
