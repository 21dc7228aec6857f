"""CPU seconds of the camt reader alone on one file, for comparing two source trees run after one another.

Usage:
    python bench/readers_camt_compare.py TREE FILE

TREE is a checkout whose `etl` package is imported (e.g. `git archive main | tar -x -C /tmp/base` for the
version before a change, and this worktree); FILE a camt file, e.g. one bench/readers_camt.py wrote. Run the two
trees interleaved a few times: on a shared machine CPU seconds compare, wall seconds do not.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    """Import `etl` from TREE, read FILE once with read_camt, print rows and CPU / wall seconds."""
    tree, file = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, tree)
    from etl.sources.camt import read_camt

    data = file.read_bytes()
    cpu, wall = time.process_time(), time.perf_counter()
    result = read_camt(file, data, "camt054")
    print(f"{tree} {file.name}: {result.rows.height} rows, {time.process_time() - cpu:.2f} s CPU, "
          f"{time.perf_counter() - wall:.2f} s wall")


if __name__ == "__main__":
    main()
