"""What one input file may make a reader do: `[reading]` in amili-etl.toml (docs/configuration.md, docs/formats.md).

Kept free of imports so that the configuration can hold it without loading the readers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["ReadLimits", "READING_KEYS", "ISOLATE_CHOICES"]


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one input file; the guards (etl/sources/guard.py) and the reading child
    (etl/sources/isolate.py) enforce them."""

    max_uncompressed_mb: float = 200.0  # a workbook's zip members together, inflated (each one too)
    max_ratio: float = 100.0  # inflated / compressed size of one zip member ...
    ratio_floor_mb: float = 1.0  # ... checked for members inflating to more than this
    max_columns: int = 1000  # the last used column of any sheet (Excel's own limit is 16384)
    max_cells: int = 5_000_000  # used rows x used columns, summed over the sheets of a workbook
    # Which files are read in a child process, so that no reader can take the run down: "auto" (every file in
    # an inbox run; elsewhere the workbooks, whose readers are native), "always", "workbooks" or "never".
    isolate: str = "auto"
    memory_limit_mb: float = 1536.0  # the child's resident memory: it is stopped above this
    address_space_mb: float = 16384.0  # the child's address space (RLIMIT_AS): refuses absurd allocations at once
    timeout_s: float = 300.0  # wall-clock seconds one file may take to read


READING_KEYS = frozenset(f.name for f in fields(ReadLimits))
ISOLATE_CHOICES = ("auto", "always", "workbooks", "never")
