"""The state's single-run lock: one amili-etl run per state file at a time, re-entrant within a process."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from etl.errors import EXIT_TEMPFAIL, EtlError

__all__ = ["InboxLocked", "state_lock"]


class InboxLocked(EtlError):
    """Another amili-etl run holds the state lock; rerun later (exit 75: nothing was touched)."""

    exit_code = EXIT_TEMPFAIL


# Locks this process holds (path -> depth): `inbox` and `rerun` hold the lock and call the pipeline, which takes it
# again (every run takes it); a second flock on a new descriptor would wait for ourselves.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def state_lock(state_path: Path, wait_s: float, poll_s: float = 0.1) -> Iterator[Path]:
    """Hold an exclusive lock on <state file>.lock, waiting up to `wait_s`; InboxLocked when it stays taken.

    An fcntl lock dies with its process, so a killed run never leaves a stale lock behind. Re-entrant within one
    process (inbox -> run pipeline).
    """
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    key = str(lock_path.resolve())
    with _HELD_GUARD:
        if _HELD.get(key):
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield lock_path
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                    raise InboxLocked(f"another amili-etl run holds the lock {lock_path} (pid {holder}); "
                                      f"waited {wait_s:g} s; nothing was touched, run again later") from None
                time.sleep(poll_s)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, only its pid note is missing
        with _HELD_GUARD:
            _HELD[key] = 1
        try:
            yield lock_path
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)
    finally:
        os.close(fd)  # closing releases the lock
