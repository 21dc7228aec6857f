"""Delivery progress: a bar per endpoint on a terminal (stderr); one line per endpoint when done (stdout); with -v
piped, one JSON line per batch (stderr)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, Any

import click
import orjson

from etl.logs import log_event
from etl.terminal import NORMAL, VERBOSE, endpoint_line, is_tty, verbosity

__all__ = ["Progress"]


class Progress:
    """Per endpoint: items done out of planned, with rate and ETA (click's bar; click is imported anyway)."""

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.enabled = verbosity() >= NORMAL if enabled is None else enabled  # --quiet: nothing on the terminal
        self._bars: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._done: dict[str, int] = {}
        self._counts: dict[str, Counter[str]] = {}

    def start(self, api: str, total: int) -> None:
        """An endpoint begins with `total` items."""
        self._started[api] = time.monotonic()
        self._done[api] = 0
        self._counts[api] = Counter()
        if self.enabled and self.tty and total:
            bar = click.progressbar(length=total, label=f"{api:<26}", file=self.stream, show_pos=True, show_eta=True,
                                    item_show_func=lambda _: self._rate(api))
            bar.__enter__()
            self._bars[api] = bar

    def _rate(self, api: str) -> str:
        elapsed = max(time.monotonic() - self._started.get(api, time.monotonic()), 1e-6)
        return f"{self._done.get(api, 0) / elapsed:,.0f}/s"

    def batch(self, api: str, items: int, **counts: int) -> None:
        """A batch (or chunk of single requests) of `items` finished."""
        self._done[api] = self._done.get(api, 0) + items
        self._counts.setdefault(api, Counter()).update(counts)
        log_event("delivery_batch", f"{api}: {items} item(s) done, {self._done[api]} in all", api=api, items=items,
                  done=self._done[api], **counts)  # the run's log file, whatever the terminal
        if not self.enabled:
            return
        bar = self._bars.get(api)
        if bar is not None:
            bar.update(items, current_item=api)
            return
        if verbosity() < VERBOSE:
            return  # piped: one line when the endpoint is done, not one per batch
        line = {"event": "delivery_batch", "api": api, "items": items, "done": self._done[api],
                "elapsed_s": round(time.monotonic() - self._started.get(api, time.monotonic()), 3), **counts}
        self.stream.write(orjson.dumps(line).decode() + "\n")
        self.stream.flush()

    def finish(self, api: str) -> None:
        """The endpoint is done."""
        bar = self._bars.pop(api, None)
        if bar is not None:
            bar.__exit__(None, None, None)
            if self.enabled and is_tty(sys.stdout):  # one terminal: the endpoint's line takes the finished bar's place
                self.stream.write("\x1b[1A\x1b[2K")
                self.stream.flush()
        if self.enabled and api in self._started:  # the story's line, on stdout with the stages (etl/terminal.py)
            c = self._counts.get(api, Counter())
            click.echo(endpoint_line(api, self._done.get(api, 0), time.monotonic() - self._started[api],
                                     c["confirmed"], c["rejected"], c["pending"]))
