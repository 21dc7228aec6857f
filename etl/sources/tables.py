"""Tabular files (CSV and .xlsx) as frames of text cells with physical line / sheet row numbers.

Everything is read as text (infer_schema_length=0; calamine dtypes "string"): amounts and dates are parsed
by the mapping, never guessed by the CSV or Excel reader (PERF-NOTES.md: floats are wrong for money).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from etl.mapping import Layout, MissingColumnError, apply_mapping
from etl.sources.common import SourceError
from etl.sources.text import HEAD_LINES, decode, decode_head, head_lines, header_cells, rejects_header, sniff_delimiter

__all__ = [
    "Table",
    "find_header",
    "find_xlsx_layout",
    "map_table",
    "read_csv_table",
    "read_xlsx_table",
    "is_xlsx",
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


def _drop_blank(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` without its blank rows; cheap when there are none (the strip test runs only on suspect rows).

    A blank row has no cell with anything but whitespace. A row whose first cell starts with a non-space
    character is not blank: that settles almost every row at the cost of one short test.
    """
    cols = [c for c in frame.columns if c != "source_line"]
    if not cols:
        return frame.head(0)
    first = pl.col(cols[0])
    surely_not_blank = first.str.slice(0, 1).str.strip_chars().fill_null("").ne("")
    suspect = frame.select((~surely_not_blank).any()).item()
    if not suspect:
        return frame
    return frame.filter(surely_not_blank | _not_blank(cols))


def _drop_unnamed_empty(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop columns with no header name and no values (a trailing ';' on every line)."""

    def empty(col: pl.Series) -> bool:  # all null is known without a pass over the values
        return col.null_count() == col.len() or bool(col.str.strip_chars().fill_null("").eq("").all())

    return frame.drop([c for c in frame.columns if c.startswith("column_") and empty(frame[c])])


def _ragged_line(body: str, delimiter: str, width: int, header_line: int) -> int | None:
    """The physical line of the first record with more cells than the header (error path only)."""
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    for rec in reader:
        if len(rec) > width:
            return header_line + reader.line_num - 1
    return None


def _unclosed_quote_line(body: str, header_line: int) -> int | None:
    """The physical line where a quote opens that no later quote closes (error path only); None if all close."""
    odd, opened = False, None
    for k, line in enumerate(body.split("\n")):
        if line.count('"') % 2:
            odd = not odd
            opened = header_line + k if odd else None
    return opened if odd else None


def _header_offset(data: bytes, idx: int) -> int:
    """Byte offset of line `idx` (0-based) in `data`."""
    offset = 0
    for _ in range(idx):
        offset = data.index(b"\n", offset) + 1
    return offset


def _utf8_body(data: bytes, layout: Layout, idx: int) -> bytes | None:
    """The bytes from the header line on, when the file can go to polars as it is (UTF-8, or ASCII); else None.

    Skipping Python's decode + encode of the whole file saves about 0.3 s per 100 MB; polars checks the UTF-8.
    """
    bom = data.startswith(codecs.BOM_UTF8)
    if layout.encoding not in ("auto", "utf-8", "utf-8-sig") and not bom:
        return None
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    return body[_header_offset(body, idx) :] if idx else body


_RECORD = "\x00record"  # never a column of a file: the 0-based record number read_csv adds in front


def _read_text_table(body: bytes, delimiter: str) -> pl.DataFrame:
    """Every cell as text, after a record number column (`_RECORD`); the header row gives the width (polars reads
    UTF-8 only). The reader numbers the records itself: a column added afterwards has other chunks than the
    cells, and lining them up copies every cell (0.1 s per 1M rows)."""
    return pl.read_csv(
        body,
        separator=delimiter,
        has_header=True,
        infer_schema_length=0,  # every column as text: the mapping parses amounts and dates
        raise_if_empty=False,
        encoding="utf8",
        row_index_name=_RECORD,
    )


def read_csv_table(data: bytes, layout: Layout) -> Table:
    """A CSV / text export: find the header line, read every cell as text with polars."""
    text = decode_head(data) if layout.encoding in ("auto", "utf-8", "utf-8-sig") else decode(data[:65536], layout.encoding)
    lines = head_lines(text)
    found = find_header(len(lines), lambda i, lay: header_cells(lines[i], lay.delimiter), [layout])
    if found is None:
        raise SourceError(f"no header row of layout {layout.name!r} in the first {HEAD_LINES} lines")
    idx = found[0]
    header_line = idx + 1
    rejects_file = rejects_header(lines[idx]) is not None  # ours, corrected and dropped in again
    if rejects_file:
        delimiter = ","
    else:
        delimiter = sniff_delimiter(lines[idx]) if layout.delimiter == "auto" else layout.delimiter
    cells = header_cells(lines[idx], delimiter)
    body = _utf8_body(data, layout, idx)
    df = None
    if body is not None:
        try:
            df = _read_text_table(body, delimiter)
        except pl.exceptions.ComputeError as exc:
            if "utf" not in str(exc).lower():  # not an encoding problem: the slow path says what is wrong
                body = None
            elif layout.encoding != "auto":
                decode(data, layout.encoding)  # raises SourceError naming the line
    if df is None:  # another encoding, or a problem to explain: decode in Python
        full = decode(data, layout.encoding)
        body = (full.split("\n", idx)[idx] if idx else full).encode("utf-8")
        try:
            df = _read_text_table(body, delimiter)
        except pl.exceptions.ComputeError as exc:
            width = len(next(csv.reader([lines[idx]], delimiter=delimiter), []))
            text = body.decode("utf-8")
            line = _ragged_line(text, delimiter, width, header_line)
            if line is not None:
                raise SourceError(f"more cells than the header has ({width})", line) from None
            line = _unclosed_quote_line(text, header_line)
            if line is not None:
                raise SourceError('a quoted cell is never closed (its opening " is on this line)', line) from None
            raise SourceError(
                f"not a readable {delimiter!r}-separated file: {str(exc).splitlines()[0]}", header_line
            ) from None
    if rejects_file:  # the reasons and old line number of the earlier run are not part of the row
        df = df.drop(df.columns[1 + len(cells) :])
    names = _unique_names(cells, df.width - 1)
    df.columns = [_RECORD, *names]
    if "source_line" in names:  # a file's own column of that name gives way to ours
        df = df.drop("source_line")
    row_no = pl.col(_RECORD).cast(pl.Int64)
    physical_lines = body.count(b"\n") + (not body.endswith(b"\n"))
    if physical_lines - 1 == df.height:  # one line per record: the common case, no scan needed
        source_line = header_line + 1 + row_no
    else:  # quoted cells span lines, or blank lines: count the newlines inside cells
        cells_of = [c for c in df.columns if c != _RECORD]
        newlines = pl.sum_horizontal([pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cells_of])
        source_line = header_line + 1 + row_no + newlines.cum_sum() - newlines
    df = df.with_columns(source_line.alias(_RECORD)).rename({_RECORD: "source_line"})  # first column already
    raw = _drop_unnamed_empty(_drop_blank(df))
    return Table(raw=raw, header_line=header_line)


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a legacy .xls (BIFF8 in an OLE2 compound file)


def is_xlsx(data: bytes) -> bool:
    """A workbook calamine reads: Office Open XML (a zip, magic `PK`, with xl/workbook.xml) or a legacy .xls."""
    if data.startswith(_OLE2):
        return True
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _read_sheets(data: bytes, *, sheet: str | None = None) -> dict[str, pl.DataFrame]:
    """Sheets as text frames from sheet row 1 (skip_rows=0: calamine would otherwise skip leading empty rows,
    and the row numbers in messages would be wrong)."""
    options: dict[str, object] = {"header_row": None, "skip_rows": 0, "dtypes": "string"}
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


def _find_in_sheets(sheets: dict[str, pl.DataFrame], layouts: list[Layout]) -> tuple[str, int, Layout] | None:
    """(sheet, row index, layout) of the first sheet with a header row of one of `layouts` in its first rows."""
    for name, frame in sheets.items():
        rows = [row_cells(frame, i) for i in range(min(frame.height, HEAD_LINES))]
        found = find_header(len(rows), lambda i, lay, rows=rows: rows[i], layouts)
        if found:
            return name, found[0], found[1]
    return None


# The workbook that find_xlsx_layout read whole, handed to the read_xlsx_table call that follows for the same
# bytes: opening a workbook is most of the cost (100k rows: 0.4 s for the first 20 rows, 0.75 s for all), so
# detection reads it once, whole, and the reader takes it over instead of reading it again.
_HANDOFF: list[tuple[bytes, dict[str, pl.DataFrame]]] = []


def find_xlsx_layout(data: bytes, layouts: list[Layout]) -> tuple[str, int, Layout] | None:
    """(sheet, header row index, layout) for a workbook, or None when no sheet has a known header."""
    sheets = _read_sheets(data)
    found = _find_in_sheets(sheets, layouts)
    _HANDOFF[:] = [(data, sheets)] if found else []
    return found


def _sheets_for(data: bytes, sheet: str | None) -> dict[str, pl.DataFrame]:
    """The workbook's sheets (only `sheet` when given): from detection's read of the same bytes if there was one."""
    handed = [sheets for seen, sheets in _HANDOFF if seen is data]
    _HANDOFF.clear()
    if handed and (sheet is None or sheet in handed[0]):
        return handed[0] if sheet is None else {sheet: handed[0][sheet]}
    return _read_sheets(data, sheet=sheet)


def read_xlsx_table(data: bytes, layout: Layout) -> Table:
    """A .xlsx export: the sheet with the layout's header row (or the layout's `sheet`), every cell as text."""
    # One full read (opening a workbook is most of the cost): the header is looked for in what was read.
    sheets = _sheets_for(data, layout.sheet)
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
    raw = _drop_unnamed_empty(_drop_blank(body).select("source_line", *cols))
    return Table(raw=raw, header_line=idx + 1, sheet=sheet)


def map_table(table: Table, layout: Layout) -> pl.DataFrame:
    """apply_mapping on a table, with source_sheet; a missing mapped column is a SourceError at the header."""
    try:
        rows = apply_mapping(table.raw, layout)
    except MissingColumnError as exc:
        raise SourceError(str(exc), table.header_line, table.sheet) from None
    return rows.with_columns(source_sheet=pl.lit(table.sheet, dtype=pl.String))
