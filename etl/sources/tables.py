"""Tabular files (CSV and .xlsx) as frames of text cells with physical line / sheet row numbers.

Everything is read as text (infer_schema_length=0; calamine dtypes "string"): amounts and dates are parsed
by the mapping, never guessed by the CSV or Excel reader (docs/performance.md: floats are wrong for money).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import functools
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

from etl.mapping import Layout, MissingColumnError, apply_mapping
from etl.sources.common import SourceError, column_letters
from etl.sources.text import (
    DELIMITERS,
    HEAD_LINES,
    decode,
    decode_head,
    head_lines,
    header_cells,
    rejects_header,
    sniff_delimiter,
)

__all__ = [
    "Table",
    "find_header",
    "find_xlsx_layout",
    "layout_cells",
    "map_table",
    "near_miss",
    "read_csv_table",
    "read_xlsx_table",
    "read_xlsx_tables",
    "repeated_header",
    "text_near_miss",
    "xlsx_near_miss",
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
    header: tuple[str, ...] = ()  # the header row's cells as the layout matching compares them
    delimiter: str | None = None  # CSV: the separator the header was split by


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


# --- Header cells whatever separator Excel saved with; repeated names; what differs from the closest layout ------


@functools.lru_cache(maxsize=4096)
def _split(line: str, delimiter: str) -> tuple[str, ...]:
    return tuple(header_cells(line, delimiter))


def _delimiters(lay: Layout) -> tuple[str, ...]:
    """The layout's own delimiter first, then the others Excel saves with (`;` in Nordic locales, TAB for
    "Unicode text", `,`): a known header is recognised whichever of them separates it."""
    if lay.delimiter == "auto":
        return ("auto",)
    return (lay.delimiter, *(d for d in DELIMITERS if d != lay.delimiter))


def line_delimiter(line: str, lay: Layout) -> str:
    """The delimiter `line` is split by for `lay`: the first of _delimiters that makes it the layout's header
    exactly; else the one that finds most of its columns (the layout's own on a tie); "auto" is sniffed."""
    best, most = _delimiters(lay)[0], -1
    for d in _delimiters(lay):
        cells = list(_split(line, d))
        if lay.matches_header(cells):
            best = d
            break
        score = len(set(cells) & set(lay.header))
        if score > most:
            best, most = d, score
    return sniff_delimiter(line) if best == "auto" else best


def layout_cells(line: str, lay: Layout) -> list[str]:
    """A text line's header cells for `lay`, split as line_delimiter says (see find_header)."""
    if lay.delimiter == "auto":
        return list(_split(line, "auto"))
    first = list(_split(line, lay.delimiter))
    if lay.matches_header(first):  # the usual case: one split
        return first
    return list(_split(line, line_delimiter(line, lay)))


def repeated_header(cells: list[str]) -> tuple[str, int, int] | None:
    """(name, first position, second position), 1-based, of the first header name that occurs twice (names as
    the layout matching compares them: stripped, quotes removed; blank cells are unnamed, never repeats)."""
    seen: dict[str, int] = {}
    for j, name in enumerate(cells, start=1):
        if not name:
            continue
        if name in seen:
            return name, seen[name], j
        seen[name] = j
    return None



def _refuse_repeats(cells: list[str], line: int, sheet: str | None = None) -> None:
    """SourceError when a header name occurs twice: which of the two columns the layout means cannot be told."""
    rep = repeated_header(cells)
    if rep is None:
        return
    name, a, b = rep
    where = f"columns {column_letters(a)} and {column_letters(b)}" if sheet is not None else f"columns {a} and {b}"
    raise SourceError(
        f"column {name!r} occurs twice in the header ({where}); which one is meant cannot be told: "
        "rename or remove one and send the file again",
        line,
        sheet,
    )


def _norm(name: str) -> str:
    """A header name as compared for 'looks like': case, spaces, punctuation and underscores ignored."""
    return re.sub(r"[\W_]+", "", name.casefold())


def _closest(name: str, cells: list[str]) -> str | None:
    """The cell of `cells` that is `name` spelled differently (same letters and digits, or 80% alike)."""
    key = _norm(name)
    for c in cells:
        if c and _norm(c) == key:
            return c
    normed = {_norm(c): c for c in cells if c}
    hit = difflib.get_close_matches(key, list(normed), n=1, cutoff=0.8)
    return normed[hit[0]] if hit else None


def _likeness(cells: list[str], lay: Layout) -> float:
    """Share of the layout's header columns found in `cells`, exactly or spelled differently."""
    names = {_norm(c) for c in cells if c}
    return sum(1 for h in lay.header if h in cells or _norm(h) in names) / len(lay.header)


def near_miss(cells: list[str], lay: Layout, delimiter: str | None = None) -> str:
    """What makes the header row `cells` differ from `lay`'s header, in words (at most five differences)."""
    diffs: list[str] = []
    if delimiter is not None and lay.delimiter not in ("auto", delimiter):
        diffs.append(f"the separator is {delimiter!r} (the layout's is {lay.delimiter!r})")
    rep = repeated_header(cells)
    if rep:
        diffs.append(f"column {rep[0]!r} occurs twice")
    known = set(lay.header) | set(lay.optional_header)
    used: set[str] = set()
    for h in lay.header:
        if h in cells:
            continue
        found = _closest(h, [c for c in cells if c not in known and c not in used])
        if found is not None:
            used.add(found)
            diffs.append(f"column {h!r} is missing; found {found!r}")
        else:
            diffs.append(f"column {h!r} is missing")
    extra = [c for c in cells if c and c not in known and c not in used]
    if extra:
        diffs.append("unexpected column(s) " + ", ".join(map(repr, extra[:5])) + (" ..." if len(extra) > 5 else ""))
    if not diffs and not lay.matches_header(cells):
        diffs.append("the columns are in another order: " + ", ".join(map(repr, lay.header)))
    more = f" (and {len(diffs) - 5} more)" if len(diffs) > 5 else ""
    return "; ".join(diffs[:5]) + more


_LOOKS_LIKE = 0.5  # a header row with half a layout's columns (spelled as they are or differently) looks like it


def _best_miss(
    rows: list[tuple[int, list[str], str | None]], layouts: Iterable[Layout]
) -> tuple[float, int, Layout, list[str], str | None] | None:
    best = None
    for lay in layouts:
        for i, cells, delim in rows:
            score = _likeness(cells, lay)
            if score >= _LOOKS_LIKE and sum(1 for c in cells if c) >= 2 and (best is None or score > best[0]):
                best = (score, i, lay, cells, delim)
    return best


def text_near_miss(data: bytes, layouts: Iterable[Layout]) -> str | None:
    """'looks like <layout> (line N) but <what differs>' for the closest layout only; None when none is close."""
    lines = head_lines(decode_head(data))
    layouts = list(layouts)
    rows = []
    for i, line in enumerate(lines):
        for d in dict.fromkeys(DELIMITERS):
            rows.append((i, list(_split(line, d)), d))
    rows_by_layout = rows
    best = _best_miss(rows_by_layout, layouts)
    if best is None:
        return None
    _, i, lay, cells, delim = best
    return f"looks like {lay.name} (line {i + 1}) but {near_miss(cells, lay, delim)}"


def xlsx_near_miss(data: bytes, layouts: Iterable[Layout]) -> str | None:
    """The workbook's 'looks like <layout> (sheet S row N) but <what differs>'; None when no sheet is close."""
    sheets = _read_sheets(data)
    rows, where = [], []
    for name, frame in sheets.items():
        for i in range(min(frame.height, HEAD_LINES)):
            rows.append((len(where), row_cells(frame, i), None))
            where.append((name, i + 1))
    best = _best_miss(rows, list(layouts))
    if best is None:
        return None
    _, k, lay, cells, _ = best
    sheet, row = where[k]
    return f"looks like {lay.name} (sheet {sheet!r} row {row}) but {near_miss(cells, lay)}"


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
    found = find_header(len(lines), lambda i, lay: layout_cells(lines[i], lay), [layout])
    if found is None:
        raise SourceError(f"no header row of layout {layout.name!r} in the first {HEAD_LINES} lines")
    idx = found[0]
    header_line = idx + 1
    rejects_file = rejects_header(lines[idx]) is not None  # ours, corrected and dropped in again
    # The layout's delimiter, or the one Excel saved the same header with (`;`, TAB): see line_delimiter.
    delimiter = "," if rejects_file else line_delimiter(lines[idx], layout)
    cells = header_cells(lines[idx], delimiter)
    _refuse_repeats(cells, header_line)
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
    return Table(raw=raw, header_line=header_line, header=tuple(cells), delimiter=delimiter)


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


_TABLE_ROW = 3  # a row with this many filled cells is a row of data; fewer is a title or a note ("Periode: februar")


def _has_data(frame: pl.DataFrame) -> bool:
    """Whether a sheet holds a table: a row with _TABLE_ROW or more non-blank cells (an info sheet of titles and
    label/value notes, as banks and ERPs put before the data, does not)."""
    if frame.height == 0 or frame.width < _TABLE_ROW:
        return False
    filled = pl.sum_horizontal((pl.col(c).str.strip_chars().fill_null("") != "").cast(pl.Int32) for c in frame.columns)
    return bool(frame.select((filled >= _TABLE_ROW).any()).item())


def _sheet_headers(
    sheets: dict[str, pl.DataFrame], layouts: list[Layout]
) -> tuple[list[tuple[str, int, Layout]], list[str]]:
    """([(sheet, header row index, layout)] of the sheets with a known header, [sheets with data but none]).
    Empty sheets are in neither."""
    known: list[tuple[str, int, Layout]] = []
    unknown: list[str] = []
    for name, frame in sheets.items():
        found = _find_in_sheets({name: frame}, layouts)
        if found:
            known.append(found)
        elif _has_data(frame):
            unknown.append(name)
    return known, unknown


def _names(sheets: list[str]) -> str:
    return ", ".join(repr(s) for s in sheets)


def _check_workbook(known: list[tuple[str, int, Layout]], unknown: list[str]) -> None:
    """The multi-sheet rule: every sheet with data has a known header, all of one layout; else SourceError naming
    the sheets (no sheet of data is ever skipped without a word)."""
    kinds = dict.fromkeys(lay.name for _, _, lay in known)
    if len(kinds) > 1:
        each = ", ".join(f"{sheet!r} ({lay.name})" for sheet, _, lay in known)
        raise SourceError(
            f"the sheets have different layouts: {each}; one layout per workbook: save each sheet as its own file"
        )
    if known and unknown:
        raise SourceError(
            f"sheet(s) {_names(unknown)} have data but no known header row in their first {HEAD_LINES} rows "
            f"(sheet(s) {_names([s for s, _, _ in known])} have the {next(iter(kinds))} header): "
            "remove those sheets or give them the header, so that no rows are skipped"
        )


def find_xlsx_layout(data: bytes, layouts: list[Layout]) -> tuple[str, int, Layout] | None:
    """(sheet, header row index, layout) of a workbook's first sheet with a known header; None when no sheet has one.

    SourceError when the workbook breaks the multi-sheet rule (see _check_workbook)."""
    sheets = _read_sheets(data)
    known, unknown = _sheet_headers(sheets, layouts)
    _HANDOFF[:] = [(data, sheets)] if known else []
    if known and known[0][2].sheet is None:  # a layout naming its sheet reads that sheet only
        _check_workbook(known, unknown)
    return known[0] if known else None


def _sheets_for(data: bytes, sheet: str | None) -> dict[str, pl.DataFrame]:
    """The workbook's sheets (only `sheet` when given): from detection's read of the same bytes if there was one."""
    handed = [sheets for seen, sheets in _HANDOFF if seen is data]
    _HANDOFF.clear()
    if handed and (sheet is None or sheet in handed[0]):
        return handed[0] if sheet is None else {sheet: handed[0][sheet]}
    return _read_sheets(data, sheet=sheet)


def _sheet_table(frame: pl.DataFrame, sheet: str, idx: int) -> Table:
    """A sheet's rows below its header row `idx` (0-based), every cell as text, source_line = the sheet row."""
    cells = row_cells(frame, idx)
    _refuse_repeats(cells, idx + 1, sheet)
    body = frame.slice(idx + 1)
    body.columns = _unique_names(cells, body.width)
    body = body.with_columns(source_line=pl.int_range(pl.len(), dtype=pl.Int64) + idx + 2)  # 1-based sheet row
    cols = [c for c in body.columns if c != "source_line"]
    raw = _drop_unnamed_empty(_drop_blank(body).select("source_line", *cols))
    return Table(raw=raw, header_line=idx + 1, sheet=sheet, header=tuple(cells))


def read_xlsx_tables(data: bytes, layout: Layout) -> list[Table]:
    """A .xlsx export: one Table per sheet with the layout's header row, in workbook order (only the layout's
    `sheet` when it names one). Empty sheets are skipped; a sheet with data but no known header, or with another
    layout's, refuses the workbook (SourceError naming the sheets)."""
    # One full read (opening a workbook is most of the cost): the headers are looked for in what was read.
    sheets = _sheets_for(data, layout.sheet)
    known, unknown = _sheet_headers(sheets, [layout])
    if not known:
        where = f"sheet {layout.sheet!r}" if layout.sheet else "any sheet"
        raise SourceError(f"no header row of layout {layout.name!r} in the first {HEAD_LINES} rows of {where}")
    _check_workbook(known, unknown)
    return [_sheet_table(sheets[sheet], sheet, idx) for sheet, idx, _ in known]


def read_xlsx_table(data: bytes, layout: Layout) -> Table:
    """A .xlsx export with one sheet of data in `layout` (see read_xlsx_tables; SourceError when there are more)."""
    tables = read_xlsx_tables(data, layout)
    if len(tables) > 1:
        raise SourceError(f"{len(tables)} sheets of data ({_names([t.sheet or '' for t in tables])}): one expected")
    return tables[0]


def map_table(table: Table, layout: Layout) -> pl.DataFrame:
    """apply_mapping on a table, with source_sheet; a missing mapped column is a SourceError at the header."""
    try:
        rows = apply_mapping(table.raw, layout)
    except MissingColumnError as exc:
        # A column spelled differently, or another separator: say what differs from the layout, not just what is
        # missing (the layout's own message otherwise: the missing column and the file's columns).
        spelled = _closest(exc.column, [c for c in exc.available if c not in set(layout.header) | set(layout.optional_header)])
        other_sep = table.delimiter is not None and layout.delimiter not in ("auto", table.delimiter)
        if table.header and (spelled is not None or other_sep):
            problem = f"looks like {layout.name} but {near_miss(list(table.header), layout, table.delimiter)}"
        else:
            problem = str(exc)
        raise SourceError(problem, table.header_line, table.sheet) from None
    return rows.with_columns(source_sheet=pl.lit(table.sheet, dtype=pl.String))
