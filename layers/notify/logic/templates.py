"""Channel templates filled from a request's `data`, in a bounded Jinja2 sandbox.

Undefined variables are errors (StrictUndefined): a notification reading "Hi , welcome" is worse than a
request refused with the name of the missing field (the APIs render each template once at the door, see
`missing_data`), which the caller can fix.

Templates are written by workspaces, and one sender batch carries several workspaces' messages, so a template
must not exhaust a sender. Jinja2's sandbox stops unsafe attribute access; this one also bounds what a template
can make, as it makes it (docs/contract.md, D2):

- every value it creates (`*`, `+`, `~`, `%`, `str.format`, string methods and filters that pad, repeat, join
  or replace) holds at most MAX_VALUE_SIZE characters or items, checked *before* the operation when one step
  can multiply sizes, after it when a step can only grow them by a small factor;
- format widths and precisions are at most MAX_FORMAT_WIDTH, integers at most MAX_INTEGER_BITS;
- ranges hold at most MAX_RANGE items, and a render takes at most MAX_RENDER_STEPS loop iterations and calls,
  and MAX_RENDER_SECONDS;
- output, buffered (macros, `{% set %}` blocks) or not, is counted as it is made: at most MAX_EMITTED_CHARS in
  all, and MAX_RENDERED_CHARS of rendered text.
"""

from __future__ import annotations

import contextvars
import inspect
import itertools
import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial, update_wrapper, wraps
from typing import Any

from notify.models.definitions import ChannelTemplate

# What one rendered string may hold: a message past it is no message anyone reads.
MAX_RENDERED_CHARS = 256 * 1024
# Any one value a template makes (a string's characters, a list's items).
MAX_VALUE_SIZE = MAX_RENDERED_CHARS
# Everything output in one render, macros' and `{% set %}` blocks' buffers included (each level of a macro
# outputs its text again); a few times the rendered limit, and bounded.
MAX_EMITTED_CHARS = 8 * MAX_RENDERED_CHARS
# `%10s`, `{:>10}`, `%.2f`: a column or a precision, never a megabyte of padding.
MAX_FORMAT_WIDTH = 1000
_MAX_REPEAT = 10_000
_MAX_EXPONENT = 64
MAX_INTEGER_BITS = 4096
# Steps (loop iterations, and calls, macros included) in one render: a list of a thousand order lines takes a
# few thousand, or tens of thousands with a call or two per line; two nested loops over ranges of 10,000
# would take 10**8.
MAX_RANGE = 10_000
MAX_RENDER_STEPS = 100_000
# A call (a macro's above all) costs about ten loop iterations: counted as that many steps.
_CALL_STEPS = 10
# A backstop for steps that are each as large as allowed.
MAX_RENDER_SECONDS = 2.0
# The APIs' trial renders of one request (every recipient, every channel) share one budget of steps and this
# time; past it, the remaining recipients are not checked at the door (the sender still records any fault).
MAX_TRIAL_SECONDS = 2.0
# Compiled templates kept per container (a compile costs about a millisecond; a render of a small one, tens of µs).
_COMPILED_TEMPLATES = 512


class TemplateRenderError(Exception):
    """A template could not be rendered; the notification fails permanently with this reason.
    `missing` names what `data` lacks when that is the fault ("'name'"), else None."""

    def __init__(self, reason: str, missing: str | None = None) -> None:
        super().__init__(reason)
        self.missing = missing


@dataclass(frozen=True)
class RenderedMessage:
    body: str
    subject: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Budget:
    """What a render has spent so far; the steps and the deadline can be shared by several (TrialRenders)."""

    deadline: float
    steps: int = 0
    emitted: int = 0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _security_error(message: str) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(message)


def _step(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps += steps
    if budget.steps > MAX_RENDER_STEPS:
        raise _security_error(f"the template takes more than {MAX_RENDER_STEPS} steps (loop iterations and calls)")
    if time.monotonic() > budget.deadline:
        raise _security_error(f"the template takes more than {MAX_RENDER_SECONDS:g} seconds")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict | set | frozenset) else None


def _require_size(size: Any, what: str = "a value") -> None:
    if isinstance(size, int) and size > MAX_VALUE_SIZE:
        raise _security_error(f"{what} would be larger than {MAX_VALUE_SIZE} characters or items")


def _bounded(value: Any) -> Any:
    """A value made by one step that grows sizes by a small factor at most (upper(), tojson, escaping...)."""
    size = _size(value)
    if size is not None:
        _require_size(size)
    return value


def _require_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_FORMAT_WIDTH:
        raise _security_error(f"a width or precision past {MAX_FORMAT_WIDTH} is not allowed")


def _text_size(value: Any) -> int:
    return max(len(str(value)), len(repr(value)))


def _arguments_size(values: Iterable[Any]) -> int:
    return max((_text_size(value) for value in values), default=0)


# printf-style conversions: %[(name)][flags][width][.precision][length]type
_PERCENT_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.DOTALL)


def _check_percent(source: str | bytes, arguments: Any) -> None:
    """`source % arguments`, refused before formatting when widths or the result would be too large."""
    text = source.decode("latin-1") if isinstance(source, bytes) else source
    if isinstance(arguments, dict):
        values = list(arguments.values())
    else:
        values = list(arguments) if isinstance(arguments, tuple) else [arguments]
    biggest = _arguments_size(values)
    total = len(text)
    for width, precision, _ in _PERCENT_CONVERSION.findall(text):
        if "*" in (width, precision):
            raise _security_error("a width or precision taken from the arguments is not allowed")
        width_value, precision_value = int(width or 0), int(precision or 0)
        _require_width(width_value)
        _require_width(precision_value)
        # A float's integer part has up to 309 digits.
        total += max(width_value, biggest + precision_value + 330)
    _require_size(total, "a formatted string")


def _check_format(source: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`source.format(...)` / `format_map`, refused before formatting as `%` is."""
    biggest = _arguments_size([*args, *kwargs.values()])
    total = len(source)
    for _, field_name, spec, _ in string.Formatter().parse(source):
        if field_name is None:
            continue
        if spec and "{" in spec:
            raise _security_error("a format spec taken from the arguments is not allowed")
        numbers = [int(number) for number in re.findall(r"\d+", spec or "")]
        for number in numbers:
            _require_width(number)
        total += max([biggest + 330, *numbers])
    _require_size(total, "a formatted string")


def _replaced_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(text, str | bytes) or not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return 0
    found = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _joined_size(separator: Any, items: list[Any]) -> int:
    return sum(len(item) if isinstance(item, str | bytes) else _text_size(item) for item in items) + len(
        separator
    ) * max(0, len(items) - 1)


def _check_method(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a str/bytes/int method call whose result would be too large; returns the args to call with."""
    arguments = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and arguments and isinstance(arguments[0], int):
        _require_size(arguments[0])
    elif name == "expandtabs":
        tabsize = arguments[0] if arguments and isinstance(arguments[0], int) else 8
        _require_size(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * max(tabsize, 0))
    elif name == "replace" and len(args) >= 2:
        _require_size(_replaced_size(owner, *args[:3]))
    elif name == "join" and len(args) == 1:
        items = list(itertools.islice(args[0], MAX_VALUE_SIZE + 1))
        _require_size(len(items))
        _require_size(_joined_size(owner, items))
        return (items,)
    elif name in ("translate", "maketrans"):
        raise _security_error(f"{name}() is not allowed in templates")
    elif name == "to_bytes" and isinstance(owner, int):
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            _require_size(length)
    return args


def _checked_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter's result is bounded; those that can multiply sizes are checked before they run."""

    def before(name: str, arguments: dict[str, Any]) -> None:
        value = arguments.get("value", arguments.get("s"))
        if name == "center":
            _require_size(arguments.get("width", 80))
        elif name == "indent" and isinstance(value, str):
            width = arguments.get("width", 4)
            step = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
            _require_size(len(value) + (value.count("\n") + 2) * step)
        elif name == "replace":
            old, new = arguments.get("old"), arguments.get("new")
            _require_size(_replaced_size(str(value), old, new, arguments.get("count")))
        elif name == "wordwrap" and isinstance(value, str):
            wrap = arguments.get("wrapstring") or "\n"
            width = arguments.get("width", 79)
            breaks = 2 * len(value) // max(1, (width if isinstance(width, int) else 1) - 1) + value.count("\n") + 1
            _require_size(len(value) + breaks * len(wrap))
        elif name == "format" and isinstance(value, str):
            _check_percent(value, arguments.get("kwargs") or arguments.get("args", ()))
        elif name in ("batch", "slice"):
            _require_size(arguments.get("linecount", arguments.get("slices", 0)))
        elif name == "tojson":
            indent = arguments.get("indent")
            if isinstance(indent, int | str) and (indent if isinstance(indent, int) else len(indent)) > 16:
                raise _security_error("a tojson indent past 16 is not allowed")
        elif name == "urlize" and isinstance(value, str):
            extra = sum(len(str(arguments.get(key) or "")) for key in ("rel", "target"))
            urls = sum(1 for word in value.split() if "." in word or "@" in word or ":" in word)
            _require_size(3 * len(value) + urls * (extra + 64))

    def materialized(name: str, arguments: dict[str, Any]) -> None:
        """join and sum take any iterable: counted, and for sum of sequences done in linear time."""
        if name == "join":
            items = list(itertools.islice(arguments["value"], MAX_VALUE_SIZE + 1))
            _require_size(len(items))
            _require_size(_joined_size(arguments.get("d", ""), items))
            arguments["value"] = items
        elif name == "sum":
            items = list(itertools.islice(arguments["iterable"], MAX_VALUE_SIZE + 1))
            _require_size(len(items))
            arguments["iterable"] = items

    def bounded_sum(function: Callable[..., Any], arguments: dict[str, Any], call: Callable[[], Any]) -> Any:
        start = arguments.get("start", 0)
        if isinstance(start, list | tuple) and arguments.get("attribute") is None:
            items = arguments["iterable"]
            if all(isinstance(item, type(start)) for item in items):
                _require_size(len(start) + sum(len(item) for item in items))
                return type(start)(itertools.chain(start, *items))  # sum() would copy quadratically
        return call()

    def checked(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # a builtin (len, abs): nothing to check before it runs
            signature = None

        @wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            if signature is None:
                return _bounded(function(*args, **kwargs))
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            before(name, bound.arguments)
            materialized(name, bound.arguments)
            if name == "sum":
                return _bounded(bounded_sum(function, bound.arguments, lambda: function(*bound.args, **bound.kwargs)))
            return _bounded(function(*bound.args, **bound.kwargs))

        return run

    return {name: checked(name, function) for name, function in filters.items()}


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: each iteration is a step of the render's budget."""
    for item in iterable:
        _step()
        yield item


class _MissingData(Exception):
    """Marker base; the raised class also derives from jinja2's UndefinedError (built lazily)."""


@cache
def _environment(autoescape: bool) -> Any:
    """The bounded sandbox. jinja2 is imported here, on the first render: it is the sender's largest import
    (about 100 ms) and a cold sender that only records outcomes or re-queues never needs it."""
    from jinja2 import StrictUndefined, nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.exceptions import UndefinedError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import missing

    class MissingData(_MissingData, UndefinedError):
        """An undefined variable or attribute: what `data` does not give."""

        def __init__(self, name: Any, nested: bool, message: str | None = None) -> None:
            super().__init__(message)
            self.name = name
            self.nested = nested

    class DataUndefined(StrictUndefined):
        """StrictUndefined whose error says which name was missing (the sandbox's own refusals keep theirs)."""

        __slots__ = ()

        def __init__(
            self, hint: str | None = None, obj: Any = missing, name: str | None = None, exc: Any = UndefinedError
        ) -> None:
            if exc is UndefinedError and hint is None:
                exc = partial(MissingData, name, obj is not missing)
            super().__init__(hint, obj, name, exc)

    class BoundedCodeGenerator(CodeGenerator):
        """Counts every piece of output as it is made (buffered or not), and bounds every `~` concatenation."""

        def _output_const_repr(self, group: Iterable[Any]) -> str:
            return f"environment.emitted({super()._output_const_repr(group)})"

        def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
            self.write("environment.emitted(")
            super()._output_child_pre(node, frame, finalize)

        def _output_child_post(self, node: Any, frame: Any, finalize: Any) -> None:
            super()._output_child_post(node, frame, finalize)
            self.write(")")

        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.made(")
            super().visit_Concat(node, frame)
            self.write(")")

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        """The immutable sandbox (no list.extend doubling), with sizes, steps and output bounded."""

        code_generator_class = BoundedCodeGenerator
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.globals.pop("lipsum", None)  # lipsum(n) makes n paragraphs; no notification needs it
            self.globals["range"] = self.bounded_range
            self.filters = _checked_filters(self.filters)

        @staticmethod
        def bounded_range(*args: int) -> range:
            numbers = range(*args)
            if len(numbers) > MAX_RANGE:
                raise OverflowError(f"range too big: the sandbox allows at most {MAX_RANGE} items")
            return numbers

        @staticmethod
        def counted(iterable: Iterable[Any]) -> Iterator[Any]:
            return _counted(iterable)

        @staticmethod
        def emitted(text: Any) -> Any:
            budget = _BUDGET.get()
            if budget is not None and isinstance(text, str):
                budget.emitted += len(text)
                if budget.emitted > MAX_EMITTED_CHARS:
                    raise _security_error(f"the template outputs more than {MAX_EMITTED_CHARS} characters")
            return text

        @staticmethod
        def made(value: Any) -> Any:
            return _bounded(value)

        def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
            tree = super()._parse(source, name, filename)
            for loop in tree.find_all(nodes.For):
                counted = nodes.Call(nodes.EnvironmentAttribute("counted"), [loop.iter], [], None, None)
                loop.iter = counted.set_lineno(loop.iter.lineno)
            return tree

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "*":
                for sequence, count in ((left, right), (right, left)):
                    if isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int):
                        if count > _MAX_REPEAT:
                            raise _security_error("repetition is too large")
                        _require_size(len(sequence) * count, "a repetition")
                both_integers = isinstance(left, int) and isinstance(right, int)
                if both_integers and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
                    raise _security_error(f"a number past {MAX_INTEGER_BITS} bits is not allowed")
                return operator.mul(left, right)
            if op == "**":
                if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                    raise _security_error("exponent is too large")
                if isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > MAX_INTEGER_BITS:
                    raise _security_error(f"a number past {MAX_INTEGER_BITS} bits is not allowed")
                return operator.pow(left, right)
            if op == "%":
                if isinstance(left, str | bytes):
                    _check_percent(left, right)
                return _bounded(operator.mod(left, right))
            if op == "+":
                left_size, right_size = _size(left), _size(right)
                if left_size is not None and right_size is not None:
                    _require_size(left_size + right_size)
                return operator.add(left, right)
            return super().call_binop(context, op, left, right)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            source: str = value.__self__
            is_format_map = value.__name__ == "format_map"

            def bounded_format(*args: Any, **kwargs: Any) -> str:
                if is_format_map and len(args) == 1 and isinstance(args[0], dict):
                    _check_format(source, (), args[0])
                else:
                    _check_format(source, args, kwargs)
                return _bounded(wrapper(*args, **kwargs))

            return update_wrapper(bounded_format, value)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _step(_CALL_STEPS)
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, str | bytes | int) and not isinstance(owner, bool):
                args = _check_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
            return _bounded(super().call(__context, __obj, *args, **kwargs))

    return BoundedSandbox(undefined=DataUndefined, autoescape=autoescape, keep_trailing_newline=True)


@lru_cache(maxsize=_COMPILED_TEMPLATES)
def _compiled(source: str, autoescape: bool) -> Any:
    """`from_string` compiles every time; the same few templates render for every recipient."""
    return _environment(autoescape).from_string(source)


def _missing(exc: BaseException) -> str | None:
    if not isinstance(exc, _MissingData):
        return None
    name, nested = getattr(exc, "name", None), getattr(exc, "nested", False)
    return f"'{name}' ({exc})" if nested else f"'{name}'"


def _render(source: str, data: dict[str, Any], *, html: bool = False) -> str:
    pieces: list[str] = []
    shared = _BUDGET.get()
    if shared is not None:
        shared.emitted = 0  # output is bounded per render; steps and time across the trial
    token = _BUDGET.set(shared or _Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS))
    try:
        output = _compiled(source, html).generate(data)
        try:
            rendered = 0
            for piece in output:
                rendered += len(piece)
                if rendered > MAX_RENDERED_CHARS:
                    raise TemplateRenderError(f"template error: rendered text exceeds {MAX_RENDERED_CHARS} characters")
                pieces.append(piece)
        finally:
            output.close()
    except TemplateRenderError:
        raise
    except Exception as exc:  # any template fault (syntax, undefined, sandbox, type) fails only this notification
        kind = "UndefinedError" if isinstance(exc, _MissingData) else type(exc).__name__
        raise TemplateRenderError(f"template error: {kind}: {exc}", missing=_missing(exc)) from exc
    finally:
        _BUDGET.reset(token)
    return "".join(pieces)


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


class TrialRenders:
    """The trial renders the APIs make at the door for one request, under one budget (MAX_RENDER_STEPS,
    MAX_TRIAL_SECONDS), so a request of a thousand recipients costs at most what one slow render may."""

    def __init__(self) -> None:
        self._budget = _Budget(deadline=time.monotonic() + MAX_TRIAL_SECONDS)

    def missing_data(self, template: ChannelTemplate, data: dict[str, Any]) -> str | None:
        """What `data` lacks that the template needs ("'name'"); None when it renders, when it fails for a
        reason of the template's own (the sender records that one on the notification), or once the budget
        is spent."""
        token = _BUDGET.set(self._budget)
        try:
            render_channel_template(template, data)
        except TemplateRenderError as exc:
            return exc.missing
        finally:
            _BUDGET.reset(token)
        return None
