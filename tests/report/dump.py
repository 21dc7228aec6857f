"""A normalised text dump of an .xlsx read back with openpyxl: what golden tests compare (xlsx bytes vary)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl


def _cell(value: object, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return f"{text}[{fmt}]" if fmt != "General" else text


def _page(ws: object) -> str:
    """The print setup as one line: orientation, fit, repeated rows, header and footer."""
    ps = ws.page_setup  # type: ignore[attr-defined]
    fit = ws.sheet_properties.pageSetUpPr  # type: ignore[attr-defined]
    head, foot = ws.oddHeader, ws.oddFooter  # type: ignore[attr-defined]
    parts = [f"{p.text}" for p in (head.left, head.center, head.right, foot.left, foot.center, foot.right)]
    return (f"print: {ps.orientation} fit={bool(fit and fit.fitToPage)} {ps.fitToWidth or 1}x{ps.fitToHeight} "
            f"titles={ws.print_title_rows} header/footer={' | '.join(parts)}")  # type: ignore[attr-defined]


def _charts(ws: object) -> list[str]:
    """Each chart: type, title, series (name, categories, values) and the value axis' number format."""
    out = []
    for chart in ws._charts:  # type: ignore[attr-defined]
        series = [f"{s.tx.strRef.f if s.tx and s.tx.strRef else s.tx.v if s.tx else ''}: {s.cat.strRef.f if s.cat and s.cat.strRef else s.cat.numRef.f if s.cat else ''} -> {s.val.numRef.f}"
                  for s in chart.series]
        out.append(f"chart: {chart.tagname}/{getattr(chart, 'barDir', '')} value axis {chart.x_axis.numFmt.formatCode if chart.x_axis.numFmt else None}"
                   f"/{chart.y_axis.numFmt.formatCode if chart.y_axis.numFmt else None}; series " + "; ".join(series))
    return out


def dump_workbook(path: Path, max_rows: int = 60) -> str:
    """Sheets in order; per sheet the frozen cell, the autofilter, print setup, column widths and formats, the
    cells (formulas as written), then its charts."""
    wb = openpyxl.load_workbook(path)
    lines: list[str] = []
    for ws in wb.worksheets:
        lines.append(f"== {ws.title}  freeze={ws.freeze_panes}  filter={ws.auto_filter.ref}  dims={ws.dimensions}")
        lines.append(_page(ws))
        widths = [f"{k}={round(d.width, 1)}" for k, d in sorted(ws.column_dimensions.items()) if d.width]
        lines.append("widths: " + " ".join(widths))
        for row in ws.iter_rows(max_row=max_rows):
            cells = [_cell(c.value, c.number_format) for c in row]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                lines.append(" | ".join(cells))
        lines += _charts(ws)
    return "\n".join(lines) + "\n"
