"""Ctrl-C and SIGTERM for the local stack's commands: both unwind the main thread into an orderly shutdown,
and a second one cannot cut that shutdown short."""

from __future__ import annotations

import signal
from typing import Any, NoReturn


class StopRequested(BaseException):
    """Ctrl-C or SIGTERM: unwinds whatever the main thread is doing into the orderly shutdown."""


def _raise_stop(signum: int, frame: Any) -> None:
    # The first signal starts the shutdown; from this instant on, another one is ignored, so it cannot interrupt
    # the shutdown with a traceback (even before the handler below it has run a single line).
    ignore_stop_signals()
    raise StopRequested()


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM raise StopRequested in the main thread."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)


def ignore_stop_signals() -> None:
    """From here on, the shutdown runs to its end whatever is pressed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def wait_for_stop() -> NoReturn:
    """Serve until a signal arrives."""
    while True:
        signal.pause()
