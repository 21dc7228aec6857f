"""Table rows as SpreadsheetML (`<row>` elements), rendered column by column with polars expressions.

xlsxwriter spends ~10 us of Python per cell; 100,000 rows x 15 columns is 1.5M cells. Here every cell of a column is
rendered in one vectorised expression and the rows are spliced into the sheet xlsxwriter wrote (header, formats,
frozen panes, autofilter, totals stay xlsxwriter's). Money in `*_minor` columns is written as an exact decimal
(`5110.81`, from integer minor units: no float rounding), dates as Excel serial numbers.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import polars as pl

from etl.report.safe import xml_text_expr
from etl.sources.common import column_letters

__all__ = ["column_letter", "render_rows", "splice_rows"]

_EXCEL_EPOCH_OFFSET = 25_569  # Excel serial of 1970-01-01 (1900 date system)


def column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    return column_letters(i + 1)


def _text(expr: pl.Expr) -> pl.Expr:
    """Text as XML character data: characters XML 1.0 forbids become U+FFFD (a bank text with U+FFFF or a NUL must
    not break the workbook; see safe.py), then & < > are escaped."""
    return (xml_text_expr(expr).str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True).str.replace_all(">", "&gt;", literal=True))


def _money(expr: pl.Expr) -> pl.Expr:
    """Minor units -> exact decimal text with a point."""
    a = expr.abs()
    sign = pl.when(expr < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return sign + (a // 100).cast(pl.String) + "." + (a % 100).cast(pl.String).str.zfill(2)


def _cell(name: str, dtype: pl.DataType, letter: str, row: pl.Expr, styles: dict[str, int],
          fill: bool = False) -> pl.Expr:
    """One column's cells as XML text ('' for nulls; a fillable column's empty cells carry its style, so they show
    as the cells to fill)."""
    c = pl.col(name)
    ref = pl.lit(f'<c r="{letter}') + row
    if fill:
        style = f'" s="{styles["fill"]}'
        text = ref + style + '" t="inlineStr"><is><t xml:space="preserve">' + _text(c.cast(pl.String)) + "</t></is></c>"
        return pl.when(c.is_null()).then(ref + style + '"/>').otherwise(text)
    if name.endswith("_minor") and dtype.is_integer():
        body = ref + f'" s="{styles["money"]}"><v>' + _money(c) + "</v></c>"
    elif dtype == pl.Boolean:
        body = ref + '" t="b"><v>' + c.cast(pl.Int8).cast(pl.String) + "</v></c>"
    elif dtype.is_numeric():
        body = ref + '"><v>' + c.cast(pl.String) + "</v></c>"
    elif dtype == pl.Date:
        serial = (c.cast(pl.Int32) + _EXCEL_EPOCH_OFFSET).cast(pl.String)
        body = ref + f'" s="{styles["date"]}"><v>' + serial + "</v></c>"
    elif isinstance(dtype, pl.Datetime):
        serial = (c.dt.epoch("ms").cast(pl.Float64) / 86_400_000 + _EXCEL_EPOCH_OFFSET).cast(pl.String)
        body = ref + f'" s="{styles["datetime"]}"><v>' + serial + "</v></c>"
    else:
        body = ref + '" t="inlineStr"><is><t xml:space="preserve">' + _text(c.cast(pl.String)) + "</t></is></c>"
    return pl.when(c.is_null()).then(pl.lit("")).otherwise(body)


def render_rows(frame: pl.DataFrame, first_row: int, styles: dict[str, int], fillable: tuple[str, ...] = ()) -> str:
    """`frame` as `<row>` elements starting at 1-based row `first_row` (text already escaped against formulas); the
    `fillable` columns are text in the style `styles["fill"]`, empty cells included."""
    if frame.height == 0:
        return ""
    row = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).cast(pl.String)
    cells = [_cell(n, t, column_letter(i), row, styles, n in fillable) for i, (n, t) in enumerate(frame.schema.items())]
    xml = frame.select((pl.lit('<row r="') + row + '">' + pl.concat_str(cells) + "</row>").alias("x"))
    return "".join(xml.get_column("x").to_list())


def splice_rows(xlsx: Path, inserts: dict[int, tuple[int, int, str]]) -> None:
    """Put rendered rows into worksheets of `xlsx`: {sheet number: (row to insert before, last row, xml)}.

    The rows go before the `<row r="N">` element (the totals row) or at the end of sheetData; the sheet's
    dimension is widened to the last row.
    """
    tmp = xlsx.with_name(xlsx.name + ".splice")
    with zipfile.ZipFile(xlsx) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            m = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if m and int(m.group(1)) in inserts:
                before, last, rows = inserts[int(m.group(1))]
                text = data.decode("utf-8")
                marker = f'<row r="{before}"'
                at = text.find(marker)
                if at < 0:
                    at = text.find("</sheetData>")
                if at < 0:  # an empty sheet: xlsxwriter wrote <sheetData/>
                    text = text.replace("<sheetData/>", "<sheetData></sheetData>")
                    at = text.find("</sheetData>")
                text = text[:at] + rows + text[at:]
                text = re.sub(r'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"/>',
                              lambda d: f'<dimension ref="{d.group(1)}{d.group(2)}:{d.group(3) or d.group(1)}'
                                        f'{max(int(d.group(4) or d.group(2)), last)}"/>', text, count=1)
                data = text.encode("utf-8")
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    tmp.replace(xlsx)
