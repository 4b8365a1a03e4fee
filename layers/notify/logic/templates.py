"""Channel templates filled from a request's `data`, in Jinja2's sandbox.

Undefined variables are errors (StrictUndefined): a notification reading "Hi , welcome" is worse
than one recorded as failed with the name of the missing field, which the caller can fix.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from notify.models.definitions import ChannelTemplate

# Templates are workspace-controlled; these bounds keep one of them from exhausting the sender's memory.
MAX_RENDERED_CHARS = 256 * 1024
_MAX_REPEAT = 10_000
_MAX_EXPONENT = 64


class TemplateRenderError(Exception):
    """A template could not be rendered; the notification fails permanently with this reason."""


@dataclass(frozen=True)
class RenderedMessage:
    body: str
    subject: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@cache
def _environment(autoescape: bool) -> Any:
    """The bounded sandbox. jinja2 is imported here, on the first render: it is the sender's largest import
    (about 100 ms) and a cold sender that only records outcomes or re-queues never needs it."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class _BoundedSandbox(SandboxedEnvironment):
        """The sandbox blocks unsafe attribute access; this also bounds `'x' * n` and `a ** b`."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "*":
                for sequence, count in ((left, right), (right, left)):
                    if isinstance(sequence, str | list | tuple) and isinstance(count, int) and count > _MAX_REPEAT:
                        raise SecurityError("repetition is too large")
                return operator.mul(left, right)
            if op == "**":
                if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                    raise SecurityError("exponent is too large")
                return operator.pow(left, right)
            return super().call_binop(context, op, left, right)

    return _BoundedSandbox(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)


def _render(source: str, data: dict[str, Any], *, html: bool = False) -> str:
    try:
        rendered = _environment(html).from_string(source).render(data)
    except Exception as exc:  # any template fault (syntax, undefined, sandbox, type) fails only this notification
        raise TemplateRenderError(f"template error: {type(exc).__name__}: {exc}") from exc
    if len(rendered) > MAX_RENDERED_CHARS:
        raise TemplateRenderError(f"template error: rendered text exceeds {MAX_RENDERED_CHARS} characters")
    return rendered


def _render_extra(value: Any, data: dict[str, Any], name: str) -> Any:
    if isinstance(value, str):
        # Only an `html` extra is HTML: escaping there keeps `data` from injecting markup.
        return _render(value, data, html=name == "html")
    if isinstance(value, dict):
        return {key: _render_extra(item, data, key) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_extra(item, data, name) for item in value]
    return value


def render_channel_template(template: ChannelTemplate, data: dict[str, Any]) -> RenderedMessage:
    """Body, subject and every string in the extras, filled from `data`; TemplateRenderError on any fault."""
    extras = {name: _render_extra(value, data, name) for name, value in (template.model_extra or {}).items()}
    return RenderedMessage(
        body=_render(template.body, data),
        subject=_render(template.subject, data) if template.subject is not None else None,
        extras=extras,
    )
