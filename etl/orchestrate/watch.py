"""What waits in a creditor's inbox, as a run key: the same files (same content, same drop) give the same key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from etl.history import file_sha256
from etl.inbox import pending_files

__all__ = ["Pending", "pending", "FileSeen"]

# (size, mtime_ns, sha256) of a file as last hashed: a file whose size and mtime did not change is not read again.
FileSeen = tuple[int, int, str]


@dataclass(frozen=True)
class Pending:
    """The files waiting in one inbox, the run key they make, and what was hashed (for the next look)."""

    creditor: str
    files: tuple[Path, ...]
    run_key: str | None  # None: nothing waits
    seen: dict[str, FileSeen]


def pending(creditor: str, inbox: Path, seen: dict[str, FileSeen] | None = None) -> Pending:
    """The files the creditor's next inbox run would consider, and their run key.

    The key hashes the creditor's name and each file's sha256 with its modification time: a second look at the same
    files gives the same key (no second run), while the same content dropped again later (a file the bank sent
    twice) is a new drop that a run must pick up, if only to archive it as already imported. `seen` (from the last
    look) spares hashing files whose size and mtime did not change.
    """
    if not inbox.is_dir():
        return Pending(creditor, (), None, {})
    seen = seen or {}
    now: dict[str, FileSeen] = {}
    files: list[Path] = []
    for p in pending_files(inbox):
        try:
            st = p.stat()
            old = seen.get(p.name)
            sha = old[2] if old and old[:2] == (st.st_size, st.st_mtime_ns) else file_sha256(p)
        except FileNotFoundError:
            continue  # moved away between the listing and the look: a run took it
        now[p.name] = (st.st_size, st.st_mtime_ns, sha)
        files.append(p)
    if not files:
        return Pending(creditor, (), None, {})
    h = hashlib.sha256(creditor.encode("utf-8"))
    for sha, mtime in sorted((v[2], v[1]) for v in now.values()):
        h.update(f"\n{sha}:{mtime}".encode("ascii"))
    return Pending(creditor, tuple(files), f"inbox-{creditor}-{h.hexdigest()[:32]}", now)
