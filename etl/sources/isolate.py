"""Read input files in a child process, so that no reader can take the run down (issue 14: poison files).

What the guards (guard.py) cannot foresee, a native abort in a Rust or C reader, a memory blow-up, an endless
loop, happens in a child: one long-lived `python -m etl.sources.isolate` per process, reading the files one
after the other. Which files (`[reading] isolate`): by default every file of an inbox run, and elsewhere the
workbooks (calamine is native code; a 1M-row CSV would pay 0.6 s to carry its frames back). The child runs under an address-space limit (RLIMIT_AS, `[reading] address_space_mb`); the
parent watches its resident memory (`memory_limit_mb`, sampled every 20 ms) and its time per file
(`timeout_s`) and kills it (SIGKILL) when either is exceeded. A child that dies, for whatever reason, makes that
one file `unreadable` with a plain message; the next file gets a fresh child. The frames come back as Arrow IPC
files in a private temporary folder, memory-mapped by the parent (no copy through a pipe).

For the inbox, `ReadingMarks` records "reading started" for a file (a marker named after its sha256 in
`<inbox>/.amili-etl-reading/`) before any reader sees it and removes it when the read is over: a marker still
there at the next run means the process died while reading that file (e.g. the kernel's OOM killer took the
whole run), and the inbox puts the file in failed/ instead of reading it again.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from etl.limits import ReadLimits

__all__ = ["read_file", "detect_file", "ReadingMarks", "marking", "shutdown", "MARK_DIR"]

MARK_DIR = ".amili-etl-reading"
_HEADER = struct.Struct("<Q")
_FRAMES = ("rows", "raw", "problems", "balances", "lines")
_POLL_S = 0.02


class _ChildDied(Exception):
    """The child gave no answer: `why` follows "the reader ... reading this file", `hint` comes after it."""

    def __init__(self, why: str, hint: str = "") -> None:
        super().__init__(why)
        self.why, self.hint = why, hint


# ---------------------------------------------------------------------------------------------- the parent side


def _pickle(obj: Any) -> bytes:
    """pickle with MappingProxyType (frozen layouts use it) sent as a plain dict."""
    import copyreg
    import io
    from types import MappingProxyType

    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[MappingProxyType] = lambda m: (_proxy, (dict(m),))
    pickler.dump(obj)
    return buf.getvalue()


def _proxy(d: dict[Any, Any]) -> Any:
    from types import MappingProxyType

    return MappingProxyType(d)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class _Worker:
    """One reading child and its private folder; restarted after it dies."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="amili-etl-read-"))
        self.stderr_path = self.folder / "child.stderr"
        self.count = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - the child keeps it
            env = dict(os.environ, MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"))
            # The child imports the very package this process runs, wherever it was imported from.
            package_root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "etl.sources.isolate", json.dumps(asdict(self.limits))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, close_fds=True,
            )
            stderr.close()
        return self.proc

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, wait for its answer within the limits; _ChildDied when the child did not answer."""
        proc = self._start()
        payload = _pickle(request)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _ChildDied(*self._death(proc)) from None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.limits.timeout_s
        got = b""
        need = _HEADER.size
        length = None
        while True:
            ready, _, _ = select.select([fd], [], [], _POLL_S)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise _ChildDied(*self._death(proc))
                got += chunk
                if length is None and len(got) >= need:
                    length = _HEADER.unpack(got[:need])[0]
                if length is not None and len(got) >= need + length:
                    return pickle.loads(got[need : need + length])
                continue
            if _rss_mb(proc.pid) > self.limits.memory_limit_mb:
                self._kill(proc)
                raise _ChildDied("was stopped", f" (it used more than the {self.limits.memory_limit_mb:g} MB of "
                                 "memory one file may take, [reading] memory_limit_mb)")
            if time.monotonic() > deadline:
                self._kill(proc)
                raise _ChildDied("was stopped", f" (it took longer than the {self.limits.timeout_s:g} s one file "
                                 "may take, [reading] timeout_s)")

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.kill()  # the child this worker started, by its own handle
        except OSError:
            pass
        proc.wait()

    def _death(self, proc: subprocess.Popen[bytes]) -> tuple[str, str]:
        code = proc.wait()
        hint = ""
        try:
            tail = self.stderr_path.read_bytes()[-65536:].decode("utf-8", "replace")
        except OSError:
            tail = ""
        if "memory allocation of" in tail:
            import re

            m = re.search(r"memory allocation of (\d+) bytes failed", tail)
            if m:
                hint = f" (it asked for {int(m.group(1)) / 2**30:,.1f} GiB of memory)"
        elif "MemoryError" in tail:
            hint = " (out of memory)"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"crashed ({name}, signal {-code})", hint
        return f"stopped unexpectedly (exit status {code})", hint

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._kill(proc)
        shutil.rmtree(self.folder, ignore_errors=True)


_WORKERS: dict[ReadLimits, _Worker] = {}


def _worker(limits: ReadLimits) -> _Worker:
    w = _WORKERS.get(limits)
    if w is None:
        for other in list(_WORKERS.values()):  # one child at a time
            other.close()
        _WORKERS.clear()
        w = _WORKERS[limits] = _Worker(limits)
    return w


def shutdown() -> None:
    """Stop the reading child and remove its folder (also done at exit)."""
    for w in list(_WORKERS.values()):
        w.close()
    _WORKERS.clear()


atexit.register(shutdown)


def _what(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return "the reader"
    from etl.sources.guard import is_workbook_bytes

    return "the Excel reader" if is_workbook_bytes(head) else "the reader"


def _guard_here(path: Path, limits: ReadLimits) -> Any:
    """The workbook guard, run here while the child starts (it hides most of the child's start-up): a failed
    result when the file is refused, else None."""
    from etl.sources.common import SourceError, failed_result
    from etl.sources.guard import check_workbook, is_workbook_bytes

    try:
        data = path.read_bytes()
    except OSError:
        return None  # the child says what is wrong with it
    if not is_workbook_bytes(data):
        return None
    try:
        check_workbook(data, limits)
    except SourceError as exc:
        import hashlib

        return replace(failed_result(path, "unreadable", exc.message(path)), sha256=hashlib.sha256(data).hexdigest())
    return None


def _read_in_child(path: Path, mappings: Any, limits: ReadLimits) -> Any:
    from etl.sources.common import failed_result

    worker = _worker(limits)
    worker._start()  # boots while the guard runs here
    refused = _guard_here(path, limits)
    if refused is not None:
        return refused
    worker.count += 1
    prefix = worker.folder / f"{worker.count}"
    try:
        answer = worker.call({"op": "read", "path": str(path), "mappings": mappings, "limits": limits,
                              "out": str(prefix), "guarded": True})
    except _ChildDied as died:
        return _with_sha(path, failed_result(
            path, "unreadable", f"{path}: {_what(path)} {died.why} reading this file{died.hint}; nothing of it was used"))
    if "error" in answer:
        return _with_sha(path, failed_result(path, "unreadable", f"{path}: {answer['error']}"))
    return _load_result(answer)


def _with_sha(path: Path, result: Any) -> Any:
    from etl.history import file_sha256

    try:
        return replace(result, sha256=file_sha256(path))
    except OSError:
        return result


def _load_result(answer: dict[str, Any]) -> Any:
    import polars as pl

    from etl.sources.base import SourceResult

    values = dict(answer["fields"])
    for name in _FRAMES:
        file = answer["frames"].get(name)
        values[name] = None if file is None else pl.read_ipc(file)
        if file is not None:
            os.unlink(file)  # the mapping stays valid; the space goes when the frame does
    values["path"] = Path(values["path"])
    return SourceResult(**values)


def read_file(path: Path, mappings: Any, limits: ReadLimits | None = None) -> Any:
    """read_source(path, mappings), in the reading child when `limits.isolate` says so; never raises for a bad file.

    Inside an inbox run (`marking`), the file's "reading started" marker is set around the read.
    """
    from etl.sources import read_source

    limits = limits or ReadLimits()
    with _marked(path):
        if not _isolated(path, limits):
            return read_source(path, mappings, limits)
        return _read_in_child(path, mappings, limits)


def _isolated(path: Path, limits: ReadLimits) -> bool:
    """Whether `path` is read in the child: see ReadLimits.isolate ("auto": everything in an inbox run, whose
    reads are marked; elsewhere only workbooks, so that a big CSV or OCR file does not pay for the trip)."""
    if limits.isolate in ("always", "never"):
        return limits.isolate == "always"
    if limits.isolate == "auto" and _MARKS:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False  # read_source says what is wrong with it
    from etl.sources.guard import is_workbook_bytes

    return is_workbook_bytes(head)


def detect_file(path: Path, mappings: Any, limits: ReadLimits | None = None) -> str | None:
    """The format of a file by content (None: not recognised, or the sniff failed), in the child for workbooks."""
    from etl.sources.detect import detect_format
    from etl.sources.guard import check_workbook, is_workbook_bytes

    limits = limits or ReadLimits()
    with _marked(path):
        with path.open("rb") as fh:
            head = fh.read(8)
        if not is_workbook_bytes(head) or limits.isolate == "never":
            try:
                data = path.read_bytes()
                check_workbook(data, limits)
                found = detect_format(data, mappings)
            except Exception:  # the run reads it again and says what is wrong
                return None
            return found[0] if found else None
        worker = _worker(limits)
        try:
            answer = worker.call({"op": "detect", "path": str(path), "mappings": mappings, "limits": limits})
        except _ChildDied:
            return None
        return answer.get("format")


# ------------------------------------------------------------------------------------ "reading started" markers


class ReadingMarks:
    """`<inbox>/.amili-etl-reading/<sha256>`: set before a file is read, removed after (see the module doc)."""

    def __init__(self, folder: Path, sha256: dict[Path, str] | None = None) -> None:
        self.dir = folder / MARK_DIR
        self.sha256: dict[Path, str] = {}
        self.know(sha256 or {})

    def know(self, sha256: dict[Path, str]) -> None:
        """The files (and their sha256) whose reads are marked."""
        self.sha256.update({p.resolve(): s for p, s in sha256.items()})

    def left_over(self) -> dict[str, dict[str, Any]]:
        """sha256 -> what the marker says, for every marker an earlier run left behind."""
        out: dict[str, dict[str, Any]] = {}
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                try:
                    out[f.name] = json.loads(f.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    out[f.name] = {}
        return out

    def clear(self, sha: str) -> None:
        try:
            (self.dir / sha).unlink()
        except FileNotFoundError:
            pass

    def begin(self, path: Path) -> str | None:
        sha = self.sha256.get(path.resolve())
        if sha is None:
            return None
        self.dir.mkdir(exist_ok=True)
        mark = self.dir / sha
        body = json.dumps({"file": path.name, "pid": os.getpid(),
                           "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
        fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, body.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return sha


_MARKS: list[ReadingMarks] = []


@contextmanager
def marking(marks: ReadingMarks) -> Iterator[ReadingMarks]:
    """Within this block, read_file and detect_file set `marks`' marker around each read of its files."""
    _MARKS.append(marks)
    try:
        yield marks
    finally:
        _MARKS.remove(marks)


@contextmanager
def _marked(path: Path) -> Iterator[None]:
    marks = _MARKS[-1] if _MARKS else None
    sha = marks.begin(path) if marks else None
    try:
        yield
    finally:
        if marks is not None and sha is not None:
            marks.clear(sha)


# ---------------------------------------------------------------------------------------------- the child side


def _write_result(result: Any, prefix: str) -> dict[str, Any]:
    frames: dict[str, str | None] = {}
    for name in _FRAMES:
        frame = getattr(result, name)
        if frame is None:
            frames[name] = None
            continue
        file = f"{prefix}.{name}.arrow"
        frame.write_ipc(file, compression="uncompressed")
        frames[name] = file
    values = {f.name: getattr(result, f.name) for f in fields(result) if f.name not in _FRAMES}
    values["path"] = str(values["path"])
    return {"fields": values, "frames": frames}


def _serve(inp: Any, out: Any) -> None:
    from etl.sources import read_source
    from etl.sources.detect import detect_format
    from etl.sources.guard import check_workbook

    while True:
        head = inp.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        request = pickle.loads(inp.read(_HEADER.unpack(head)[0]))
        path, limits = Path(request["path"]), request["limits"]
        try:
            if request["op"] == "read":
                result = read_source(path, request["mappings"], limits, guard=not request.get("guarded"))
                answer = _write_result(result, request["out"])
            else:
                data = path.read_bytes()
                check_workbook(data, limits)
                found = detect_format(data, request["mappings"])
                answer = {"format": found[0] if found else None}
        except MemoryError:
            answer = {"error": f"the reader ran out of memory reading this file (limit {limits.address_space_mb:g} MB "
                               "of address space, [reading] address_space_mb); nothing of it was used"}
        except Exception as exc:  # read_source reports known problems itself: this is a reader's bug
            answer = {"error": f"cannot be read: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(payload)) + payload)
        out.flush()


def _child_main(argv: list[str]) -> None:
    import resource

    limits = ReadLimits(**json.loads(argv[0]))
    cap = int(limits.address_space_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # fd 1 carries the answers; anything a library prints goes to the stderr file instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
