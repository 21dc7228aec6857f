"""Whole-process time, peak memory and CPU time of `amili-etl validate` on a large synthetic BgMax file.

Usage:
    python bench/readers_bgmax.py [--payments 150000] [--repeats 3] [--file PATH]

Generates the file once (cached under /tmp): one SEK deposit, every payment a TK20 with its TK25 text, TK26 name,
TK27/TK28 address and TK29 organisation number; every fourth also a TK22 and a TK23 extra reference with amounts
(about 6.5 lines per payment: 150,000 payments are about 975,000 lines, 78 MB). Synthetic values, no real people.
Each measurement is a fresh process (`python -m etl validate FILE`) timed from start to exit, with its peak RSS and
CPU time (user + sys, all threads, from wait4). Prints every repeat and the median; on a shared machine compare the
CPU medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from readers_measure import run_measured


def _post(text: str) -> str:
    return text.ljust(80)


def build(payments: int) -> bytes:
    """The BgMax file: TK01, TK05, the payments with their owned posts, TK15 and TK70 that tie."""
    lines = [_post("01BGMAX               0120261120054211123456T"), _post("05" + "54029681".rjust(10, "0") + " " * 10 + "SEK")]
    extras = 0
    for i in range(payments):
        lines.append(_post(f"200001234567{'':>25}{150_000:018d}23{i:012d}0"))
        if i % 4 == 0:
            lines.append(_post(f"220001234567{'88%04d' % (i % 10_000):>25}{170_000:018d}23{i:012d}0"))
            lines.append(_post(f"230001234567{'77%04d' % (i % 10_000):>25}{20_000:018d}23{i:012d}0"))
            extras += 2
        lines += [_post("25Faktura 880011"), _post("26Testbetalare AB"),
                  _post("27Storgatan 1                       12345"), _post("28Storstad"), _post("29005500001234")]
    lines.append(_post(f"15{'':0>35}2026112000001{150_000 * payments:018d}SEK{payments:08d}"))
    lines.append(_post(f"70{payments:08d}{0:08d}{extras:08d}{1:08d}"))
    return "".join(line + "\r\n" for line in lines).encode("latin-1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=150_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--file", type=Path, default=None)
    args = ap.parse_args()
    path = args.file or Path(f"/tmp/amili-bench-bgmax-{args.payments}.txt")
    if not path.exists():
        path.write_bytes(build(args.payments))
    print(f"{path}: {path.stat().st_size / 1e6:.0f} MB, {args.payments:,} payments")
    runs = [run_measured([sys.executable, "-m", "etl", "validate", str(path)]) for _ in range(args.repeats)]
    for wall, rss, cpu in runs:
        print(f"  wall {wall:6.2f} s   peak {rss:7.0f} MB   cpu {cpu:6.2f} s")
    print(f"median: wall {statistics.median(r[0] for r in runs):.2f} s, peak {statistics.median(r[1] for r in runs):.0f} MB, "
          f"cpu {statistics.median(r[2] for r in runs):.2f} s")


if __name__ == "__main__":
    main()
