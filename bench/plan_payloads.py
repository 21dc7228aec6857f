"""Planning speed: plan_items over 1M matched payments per API and 200k invoices with lines (payload JSON + hash).

    python bench/plan_payloads.py [n_payments] [repeats]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from etl.plan import plan_items  # noqa: E402
from tests.e2e import delivery_support as ds  # noqa: E402


def frames(n: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """n payments for each of the four payment APIs, n/5 invoices with two lines each; amounts with odd cents."""
    creditors = ["arm-no", "coll-no", "ada-se", "auto-no"]
    i = pl.int_range(n * 4, eager=True)
    pays = pl.DataFrame({"i": i}).select(
        pl.lit(creditors[0]).alias("creditor"),
        ("K-" + pl.col("i").cast(pl.String)).alias("payment_key"),
        ("N" + (pl.col("i") % 5000).cast(pl.String)).alias("invoice_number"),
        (pl.col("i") * 7919 % 10_000_000 - 50_000).alias("amount_minor"),
        pl.lit("NOK").alias("currency"), pl.lit(ds.DAY).alias("booking_date"), pl.lit("betaling").alias("message"),
        pl.lit(None, pl.String).alias("reference"), pl.lit("bank.txt").alias("source_file"),
        pl.col("i").alias("source_line"),
    ).with_columns(pl.Series("creditor", creditors).gather(i % 4))
    m = n // 5
    j = pl.int_range(m, eager=True)
    inv = pl.DataFrame({"j": j}).select(
        pl.lit("arm-no").alias("creditor"), ("N" + pl.col("j").cast(pl.String)).alias("invoice_number"),
        ("K" + (pl.col("j") % 7).cast(pl.String)).alias("customer_number"), pl.lit(None, pl.String).alias("kid"),
        pl.lit(ds.DAY).alias("invoice_date"), pl.lit(ds.DAY).alias("due_date"), pl.lit("NOK").alias("currency"),
        (pl.col("j") * 885571 % 100_000_000).alias("amount_minor"),
        (pl.col("j") * 885571 % 100_000_000 * 4 // 5).alias("amount_excl_vat_minor"),
        (pl.col("j") * 885571 % 100_000_000 // 5).alias("vat_minor"),
        pl.lit("invoices.csv").alias("source_file"), pl.col("j").alias("source_line"))
    lines = pl.concat([inv.select("source_file", pl.col("source_line").alias("invoice_line"),
                                  pl.lit(k).alias("line_no"), pl.lit(k).alias("source_line"),
                                  pl.lit("A1").alias("article_no"), pl.lit("text").alias("line_text"),
                                  (pl.col("amount_minor") // 2).alias("amount_minor"),
                                  (pl.col("amount_excl_vat_minor") // 2).alias("amount_excl_vat_minor"),
                                  (pl.col("vat_minor") // 2).alias("vat_minor"),
                                  (pl.col("amount_minor") // 4).alias("unit_price_minor"),
                                  pl.lit(250, pl.Int64).alias("quantity_hundredths")) for k in (1, 2)])
    return inv, pays, lines


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 250_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        config = ds.load(ds.write_config(Path(tmp), "http://127.0.0.1:9", apis=("arm", "collection", "ada", "autopostings")))
    inv, pays, lines = frames(n)
    for name, args in (("payments", (pl.DataFrame(), pays, None)), ("invoices+lines", (inv, pl.DataFrame(), lines))):
        best = min(_timed(config, *args) for _ in range(repeats))
        rows = args[0].height + args[1].height
        print(f"{name}: {rows} rows, best of {repeats}: {best:.3f} s ({rows / best / 1e6:.2f} M rows/s)")


def _timed(config, inv: pl.DataFrame, pays: pl.DataFrame, lines: pl.DataFrame | None) -> float:  # noqa: ANN001
    t = time.perf_counter()
    plan_items(config, inv, pays, lines)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
