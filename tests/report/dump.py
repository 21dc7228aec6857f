"""A normalised text dump of an .xlsx read back with openpyxl: what golden tests compare (xlsx bytes vary)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl


def _cell(value: object, fmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return f"{text}[{fmt}]" if fmt != "General" else text


def dump_workbook(path: Path, max_rows: int = 40) -> str:
    """Sheets in order; per sheet the frozen cell, the autofilter, column widths and formats, then the cells."""
    wb = openpyxl.load_workbook(path)
    lines: list[str] = []
    for ws in wb.worksheets:
        lines.append(f"== {ws.title}  freeze={ws.freeze_panes}  filter={ws.auto_filter.ref}  dims={ws.dimensions}")
        widths = [f"{k}={round(d.width, 1)}" for k, d in sorted(ws.column_dimensions.items()) if d.width]
        lines.append("widths: " + " ".join(widths))
        for row in ws.iter_rows(max_row=max_rows):
            cells = [_cell(c.value, c.number_format) for c in row]
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                lines.append(" | ".join(cells))
    with zipfile.ZipFile(path) as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
    lines.append(f"charts: {charts}")
    return "\n".join(lines) + "\n"
