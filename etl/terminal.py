"""What the operator sees while a command runs: each stage as it starts, with counts; --quiet or -v.

Three levels: QUIET (errors and the result only), NORMAL, VERBOSE (every event of the run log as a line, and one
line per delivery batch). On a terminal a stage shows as it starts and is completed in place when it ends; piped
(cron, CI) only the finished line is written: one line per stage and per endpoint, never per batch. The story goes
to stdout with the run's summary; stderr carries only what went wrong (one line) and, with -v, the run log's events.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from typing import IO, Any, Callable

import click

__all__ = ["QUIET", "NORMAL", "VERBOSE", "verbosity", "set_verbosity", "verbosity_options", "stage", "StageLine",
           "endpoint_line", "end_open_line", "format_time", "is_tty"]

QUIET, NORMAL, VERBOSE = 0, 1, 2
_state: dict[str, Any] = {"level": NORMAL, "handler": None, "open": None}  # open: a start line not yet ended


def verbosity() -> int:
    """The level set by --quiet / -v (NORMAL when neither was given)."""
    return int(_state["level"])


def _stream() -> IO[str]:
    """Where the story goes: stdout, beside the run's summary; stderr is kept for what went wrong (and -v)."""
    return sys.stdout


def set_verbosity(level: int) -> None:
    """Set the level; VERBOSE also echoes the run log's events (masked like the file) on stderr."""
    _state["level"] = level
    logger = logging.getLogger("etl")
    if _state["handler"] is not None:
        logger.removeHandler(_state["handler"])
        _state["handler"] = None
    if level >= VERBOSE:
        from etl.logs import MaskingFilter

        handler = logging.StreamHandler(sys.stderr)  # diagnostics, beside the warnings and errors
        handler.setLevel(logging.INFO)
        handler.addFilter(MaskingFilter())
        handler.setFormatter(logging.Formatter("  %(message)s"))
        logger.addHandler(handler)
        _state["handler"] = handler


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        set_verbosity(QUIET)


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        set_verbosity(VERBOSE)


def verbosity_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--quiet / -q and --verbose / -v on a command (they set the level; the command's arguments are unchanged)."""
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_verbose, is_eager=True,
                     help="Say more: every event of the run log as a line, one line per delivery batch.")(f)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_quiet, is_eager=True,
                        help="Say only what went wrong and the result (for cron).")(f)


def is_tty(stream: IO[str]) -> bool:
    """Whether `stream` is a terminal (False for anything that cannot tell)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class StageLine:
    """One stage of a run: `start` says what it begins on (on a terminal), `done` what it did (always)."""

    def __init__(self, name: str, stream: IO[str] | None = None, tty: bool | None = None) -> None:
        self.name = name
        self.stream = stream or _stream()
        self.tty = is_tty(self.stream) if tty is None else tty
        self.started = time.monotonic()
        self._open = False

    def start(self, what: str) -> None:
        """The stage begins: shown at once on a terminal (a sign of life), nothing when piped."""
        self.started = time.monotonic()
        if verbosity() >= NORMAL and (self.tty or verbosity() >= VERBOSE):
            end = "" if self.tty and verbosity() < VERBOSE else "\n"
            self.stream.write(f"{self.name:<9} {what} ...{end}")
            self.stream.flush()
            self._open = bool(end == "")
            _state["open"] = self if self._open else None

    def done(self, what: str) -> None:
        """The stage ended: one line with its counts and how long it took (replacing the start on a terminal)."""
        if verbosity() < NORMAL:
            return
        took = time.monotonic() - self.started
        prefix = "\r\x1b[K" if self._open else ""
        self.stream.write(f"{prefix}{self.name:<9} {what} ({took:.1f} s)\n")
        self.stream.flush()
        self._open = False
        _state["open"] = None

    def interrupt(self) -> None:
        """Something else writes to the terminal (a progress bar, an error): end the open start line first."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            _state["open"] = None


def end_open_line() -> None:
    """End a stage's start line still open on the terminal, so that what follows (an error) has a line of its own."""
    if _state.get("open") is not None:
        _state["open"].interrupt()


def stage(name: str, what: str) -> StageLine:
    """Start stage `name` (read, match, deliver, report, ...) on `what`; call `.done(...)` when it ends."""
    line = StageLine(name)
    line.start(what)
    return line


def endpoint_line(api: str, items: int, seconds: float, confirmed: int, rejected: int, pending: int) -> str:
    """The one line an endpoint gets when its delivery ends."""
    return (f"{'deliver':<9} {api}: {items} item(s): {confirmed} confirmed, {rejected} rejected, {pending} without a "
            f"final answer ({seconds:.1f} s)")


def format_time(value: Any) -> str:
    """A stored timestamp (naive UTC, or aware) in UTC to the second, marked Z like the run ids; '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
