"""rejects/<file>.rejects.csv: every rejected row as it was in the file, plus why (and it can be fed back in)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.report.safe import escape_text_columns

__all__ = ["write_rejects", "rejects_name"]


def rejects_name(source_file: str) -> str:
    """The rejects file name for a source file: its base name + '.rejects.csv'."""
    return Path(source_file).name + ".rejects.csv"


def write_rejects(raw: pl.DataFrame, reasons: pl.DataFrame, folder: Path, source_file: str) -> Path:
    """Write the raw rows of `reasons` (one line per rejected row, reasons joined) and return the path.

    `raw` has `source_line` and the original cells; `reasons` has source_line, error_column, error_check,
    error_message.
    """
    folder.mkdir(parents=True, exist_ok=True)
    per_row = reasons.group_by("source_line", maintain_order=True).agg(
        pl.col("error_column").fill_null("").str.join("; ").alias("error_column"),
        pl.col("error_check").str.join("; ").alias("error_check"),
        pl.col("error_message").str.join("; ").alias("error_message"),
    )
    original = [c for c in raw.columns if c != "source_line"]
    table = per_row.join(raw, on="source_line", how="left").select(
        *original, "error_column", "error_check", "error_message", "source_line"
    ).sort("source_line")
    path = folder / rejects_name(source_file)
    tmp = path.with_name(path.name + ".tmp")
    try:
        escape_text_columns(table).write_csv(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial CSV
        raise
    return path
