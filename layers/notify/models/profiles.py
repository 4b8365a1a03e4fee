"""Profiles (docs/contract.md section 6): a recipient known by `distinct_id`, with destinations per channel.

Destinations are validated as `to` is (notify.models.channels). Sizes are bounded so a profile always fits one
DynamoDB item (400 KB): at most MAX_TOKENS tokens per token channel, each at most
notify.models.limits.MAX_TOKEN_CHARACTERS.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from notify.models.channels import Channel, Destination, EmailDestination, PhoneDestination, WebhookDestination
from notify.models.limits import DistinctId
from notify.models.responses import ResponseBody

SINGLE_CHANNELS = (
    Channel.email,
    Channel.sms,
    Channel.whatsapp,
    Channel.slack,
    Channel.discord,
    Channel.teams,
    Channel.voice,
)
TOKEN_CHANNELS = (Channel.push, Channel.inapp)
MAX_TOKENS = 50
MAX_NAME_CHARACTERS = 256
MAX_DELETE_IDS = 100

ProfileStatus = Literal[0, 1]
ACTIVE: ProfileStatus = 1
INACTIVE: ProfileStatus = 0


class Token(BaseModel):
    """One push or inapp token; `status` 1 is active (tokens with 0 are kept, never sent to)."""

    model_config = ConfigDict(extra="forbid")

    token: Destination
    integration_id: Annotated[str, StringConstraints(max_length=256)] | None = None
    status: ProfileStatus = ACTIVE


def _unique_tokens(tokens: list[Token]) -> list[Token]:
    if len({token.token for token in tokens}) != len(tokens):
        raise ValueError("a token appears twice")
    return tokens


Tokens = Annotated[list[Token], Field(max_length=MAX_TOKENS), AfterValidator(_unique_tokens)]


class ProfileChannels(BaseModel):
    """`channel` of a profile: one destination per single channel, lists of tokens for push and inapp."""

    model_config = ConfigDict(extra="forbid")

    email: EmailDestination | None = None
    sms: PhoneDestination | None = None
    whatsapp: PhoneDestination | None = None
    slack: WebhookDestination | None = None
    discord: WebhookDestination | None = None
    teams: WebhookDestination | None = None
    voice: PhoneDestination | None = None
    push: Tokens | None = None
    inapp: Tokens | None = None

    def stored(self) -> dict[str, Any]:
        """The channels that hold something, as stored and answered."""
        return self.model_dump(mode="json", exclude_none=True)

    def destination(self, channel: Channel) -> str | None:
        """Where to send `channel`: the single destination, or the most recently added active token."""
        value = getattr(self, channel.value)
        if isinstance(value, list):
            active = [token.token for token in value if token.status == ACTIVE]
            return active[-1] if active else None
        return value or None


def _no_null_channel(value: Any) -> Any:
    if isinstance(value, dict) and value.get("channel", {}) is None:
        return {**value, "channel": {}}
    return value


class ProfileCreate(BaseModel):
    """Body of `POST /v1/{workspace}/{version}/profiles`. Unknown top-level fields are ignored, as Fyno does."""

    distinct_id: DistinctId
    name: Annotated[str, StringConstraints(max_length=MAX_NAME_CHARACTERS)] | None = None
    status: ProfileStatus = ACTIVE
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    channel: ProfileChannels = Field(default_factory=ProfileChannels)

    _null_channel = model_validator(mode="before")(_no_null_channel)


class ProfileUpdate(BaseModel):
    """Body of `PUT /v1/{workspace}/{version}/profiles/{distinct_id}`: the keys given replace theirs."""

    distinct_id: DistinctId | None = None
    name: Annotated[str, StringConstraints(max_length=MAX_NAME_CHARACTERS)] | None = None
    status: ProfileStatus | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    channel: ProfileChannels | None = None


class ChannelPatch(BaseModel):
    """Body of `PATCH .../profiles/{distinct_id}/channel`: single destinations replace, tokens are added."""

    channel: ProfileChannels

    @field_validator("channel")
    @classmethod
    def _something(cls, channel: ProfileChannels) -> ProfileChannels:
        if not channel.stored():
            raise ValueError("must name at least one channel")
        return channel


class ChannelDelete(BaseModel):
    """Body of `POST .../profiles/{distinct_id}/channel/delete`: whole channels, or tokens, not both."""

    model_config = ConfigDict(extra="forbid")

    channel: Annotated[list[Channel], Field(min_length=1, max_length=len(Channel))] | None = None
    push: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] | None = None
    inapp: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ChannelDelete:
        tokens = self.push is not None or self.inapp is not None
        if self.channel is not None and tokens:
            raise ValueError("give either 'channel' (whole channels) or 'push'/'inapp' (tokens), not both")
        if self.channel is None and not tokens:
            raise ValueError("must give 'channel' (whole channels) or 'push'/'inapp' (tokens)")
        return self


class ProfilesDelete(BaseModel):
    """Body of `POST /v1/{workspace}/{version}/profiles/delete`."""

    distinct_id: Annotated[list[DistinctId], Field(min_length=1, max_length=MAX_DELETE_IDS)]


class Profile(ResponseBody):
    """A stored profile, as `GET .../profiles/{distinct_id}` answers it: every field of docs/contract.md
    section 6, `name` and `timezone` null when unset; `channel` holds only the channels that have a destination."""

    distinct_id: str
    name: str | None = None
    status: ProfileStatus = ACTIVE
    timezone: str | None = None
    channel: ProfileChannels = Field(default_factory=ProfileChannels)
    created_at: str
    updated_at: str
    version: Literal["live", "test"]

    def body(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json", exclude={"channel"}), "channel": self.channel.stored()}
