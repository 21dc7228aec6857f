"""Tabular files (CSV and .xlsx) as frames of text cells with physical line / sheet row numbers.

Everything is read as text (infer_schema_length=0; calamine dtypes "string"): amounts and dates are parsed
by the mapping, never guessed by the CSV or Excel reader (PERF-NOTES.md: floats are wrong for money).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from etl.mapping import Layout, MissingColumnError, apply_mapping
from etl.sources.common import SourceError
from etl.sources.text import HEAD_LINES, decode, head_lines, header_cells

__all__ = [
    "Table",
    "find_header",
    "find_xlsx_layout",
    "map_table",
    "read_csv_table",
    "read_xlsx_table",
    "is_xlsx",
    "xlsx_heads",
    "row_cells",
]

_NEAR = 0.6  # a row holding this share of a layout's header names is that layout with columns missing


@dataclass(frozen=True)
class Table:
    """A file's table: `raw` is source_line + the original columns as text; where its header was found."""

    raw: pl.DataFrame
    header_line: int  # 1-based physical line (CSV) or sheet row (.xlsx)
    sheet: str | None = None


def find_header(
    n: int, cells: Callable[[int, Layout], list[str]], layouts: Iterable[Layout]
) -> tuple[int, Layout] | None:
    """(row index, layout) of the first of `n` rows that is exactly a layout's header.

    Failing that, the row most like one (at least 60% of its column names, two or more): so that a file
    missing a mapped column is reported as such ('column X is missing') rather than as unrecognised.
    """
    layouts = list(layouts)
    for i in range(n):
        for lay in layouts:
            if lay.matches_header(cells(i, lay)):
                return i, lay
    best: tuple[float, int, Layout] | None = None
    for i in range(n):
        for lay in layouts:
            row = cells(i, lay)
            score = lay.overlap(row)
            if len(set(row) & set(lay.header)) >= 2 and score >= _NEAR and (best is None or score > best[0]):
                best = (score, i, lay)
    return (best[1], best[2]) if best else None


def _unique_names(cells: list[str], width: int) -> list[str]:
    """Column names from header cells: blanks become column_N, repeats get a suffix."""
    names: list[str] = []
    for j in range(width):
        name = cells[j] if j < len(cells) and cells[j] else f"column_{j + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _not_blank(columns: list[str]) -> pl.Expr:
    """Rows with at least one non-blank cell (blank lines and empty sheet rows are not rows)."""
    if not columns:
        return pl.lit(False)
    return pl.any_horizontal([pl.col(c).str.strip_chars().fill_null("") != "" for c in columns])


def _drop_unnamed_empty(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop columns with no header name and no values (a trailing ';' on every line)."""
    drop = [
        c for c in frame.columns if c.startswith("column_") and frame[c].str.strip_chars().fill_null("").eq("").all()
    ]
    return frame.drop(drop)


def _ragged_line(body: str, delimiter: str, width: int, header_line: int) -> int | None:
    """The physical line of the first record with more cells than the header (error path only)."""
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    for rec in reader:
        if len(rec) > width:
            return header_line + reader.line_num - 1
    return None


def read_csv_table(data: bytes, layout: Layout) -> Table:
    """A CSV / text export: decode, find the header line, read every cell as text with polars."""
    text = decode(data, layout.encoding)
    lines = head_lines(text)
    found = find_header(len(lines), lambda i, lay: header_cells(lines[i], lay.delimiter), [layout])
    if found is None:
        raise SourceError(f"no header row of layout {layout.name!r} in the first {HEAD_LINES} lines")
    idx = found[0]
    header_line = idx + 1
    body = text.split("\n", idx)[idx] if idx else text
    cells = header_cells(lines[idx], layout.delimiter)
    try:
        df = pl.read_csv(
            body.encode("utf-8"),
            separator=layout.delimiter,
            has_header=True,
            infer_schema_length=0,  # every column as text: the mapping parses amounts and dates
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        width = len(next(csv.reader([lines[idx]], delimiter=layout.delimiter), []))
        line = _ragged_line(body, layout.delimiter, width, header_line)
        if line is not None:
            raise SourceError(f"more cells than the header has ({width})", line) from None
        raise SourceError(
            f"not a readable {layout.delimiter!r}-separated file: {str(exc).splitlines()[0]}", header_line
        ) from None
    df.columns = _unique_names(cells, df.width)
    row_no = pl.int_range(pl.len(), dtype=pl.Int64)
    physical_lines = body.count("\n") + (not body.endswith("\n"))
    if physical_lines - 1 == df.height:  # one line per record: the common case, no scan needed
        source_line = header_line + 1 + row_no
    else:  # quoted cells span lines: count the newlines inside them
        newlines = pl.sum_horizontal([pl.col(c).str.count_matches("\n").fill_null(0) for c in df.columns])
        source_line = header_line + 1 + row_no + newlines.cum_sum() - newlines
    df = df.with_columns(source_line=source_line.cast(pl.Int64))
    cols = [c for c in df.columns if c != "source_line"]
    raw = _drop_unnamed_empty(df.filter(_not_blank(cols)).select("source_line", *cols))
    return Table(raw=raw, header_line=header_line)


def is_xlsx(data: bytes) -> bool:
    """An Office Open XML workbook: a zip (magic `PK`) with xl/workbook.xml inside."""
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _read_sheets(data: bytes, *, sheet: str | None = None, n_rows: int | None = None) -> dict[str, pl.DataFrame]:
    """Sheets as text frames from sheet row 1 (skip_rows=0: calamine would otherwise skip leading empty rows,
    and the row numbers in messages would be wrong)."""
    options: dict[str, object] = {"header_row": None, "skip_rows": 0, "dtypes": "string"}
    if n_rows is not None:
        options["n_rows"] = n_rows
    common = dict(
        engine="calamine",
        has_header=False,
        read_options=options,
        drop_empty_rows=False,
        drop_empty_cols=False,
        raise_if_empty=False,
    )
    if sheet is not None:
        return {sheet: pl.read_excel(data, sheet_name=sheet, **common)}
    return pl.read_excel(data, sheet_id=0, **common)


def row_cells(frame: pl.DataFrame, i: int) -> list[str]:
    """A sheet row's cells as stripped text, trailing blanks dropped."""
    cells = ["" if v is None else str(v).strip() for v in frame.row(i)]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def xlsx_heads(data: bytes) -> dict[str, pl.DataFrame]:
    """The first rows of every sheet, as text (for recognising the layout by its header row)."""
    return _read_sheets(data, n_rows=HEAD_LINES)


def _find_in_sheets(sheets: dict[str, pl.DataFrame], layouts: list[Layout]) -> tuple[str, int, Layout] | None:
    """(sheet, row index, layout) of the first sheet with a header row of one of `layouts` in its first rows."""
    for name, frame in sheets.items():
        rows = [row_cells(frame, i) for i in range(min(frame.height, HEAD_LINES))]
        found = find_header(len(rows), lambda i, lay, rows=rows: rows[i], layouts)
        if found:
            return name, found[0], found[1]
    return None


def find_xlsx_layout(data: bytes, layouts: list[Layout]) -> tuple[str, int, Layout] | None:
    """(sheet, header row index, layout) for a workbook, or None when no sheet has a known header."""
    return _find_in_sheets(xlsx_heads(data), layouts)


def read_xlsx_table(data: bytes, layout: Layout) -> Table:
    """A .xlsx export: the sheet with the layout's header row (or the layout's `sheet`), every cell as text."""
    # One full read (opening a workbook is most of the cost): the header is looked for in what was read.
    sheets = _read_sheets(data, sheet=layout.sheet)
    found = _find_in_sheets(sheets, [layout])
    if found is None:
        where = f"sheet {layout.sheet!r}" if layout.sheet else "any sheet"
        raise SourceError(f"no header row of layout {layout.name!r} in the first {HEAD_LINES} rows of {where}")
    sheet, idx, _ = found
    full = sheets[sheet]
    cells = row_cells(full, idx)
    body = full.slice(idx + 1)
    body.columns = _unique_names(cells, body.width)
    body = body.with_columns(source_line=pl.int_range(pl.len(), dtype=pl.Int64) + idx + 2)  # 1-based sheet row
    cols = [c for c in body.columns if c != "source_line"]
    raw = _drop_unnamed_empty(body.filter(_not_blank(cols)).select("source_line", *cols))
    return Table(raw=raw, header_line=idx + 1, sheet=sheet)


def map_table(table: Table, layout: Layout) -> pl.DataFrame:
    """apply_mapping on a table, with source_sheet; a missing mapped column is a SourceError at the header."""
    try:
        rows = apply_mapping(table.raw, layout)
    except MissingColumnError as exc:
        raise SourceError(str(exc), table.header_line, table.sheet) from None
    return rows.with_columns(source_sheet=pl.lit(table.sheet, dtype=pl.String))
