"""Draw the Summary sheet of a real discrepancies.xlsx as a PNG (for docs/month-end.md): the header, the table of
categories (rows, amount, expected) and the bar chart of amounts by category, from the workbook's own cells.

`python docs/render_summary.py WORKBOOK.xlsx OUT.png` (needs matplotlib: `pip install -e '.[docs]'`). LibreOffice is
not available on the build machine, so this draws what the sheet holds rather than screenshotting Excel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import openpyxl  # noqa: E402


def _summary(path: Path) -> tuple[dict[str, str], list[tuple[str, int, float, float]], list[str]]:
    ws = openpyxl.load_workbook(path)["Summary"]
    head: dict[str, str] = {}
    table: list[tuple[str, int, float, float]] = []
    in_table = False
    for row in ws.iter_rows(values_only=True):
        label = row[0]
        if label in ("Run", "Status", "Files"):
            head[label] = str(row[1])
        elif label == "Category":
            in_table = True
        elif in_table and label == "Total":
            table.append(("Total", int(row[1] or 0), float(row[2] or 0), float(row[3] or 0)))
            break
        elif in_table and label:
            table.append((str(label), int(row[1] or 0), float(row[2] or 0), float(row[3] or 0)))
    sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    return head, table, sheets


def render(workbook: Path, out: Path) -> None:
    """Write the PNG."""
    head, table, sheets = _summary(workbook)
    fig = plt.figure(figsize=(13, 7.2), dpi=110)
    fig.suptitle("discrepancies.xlsx - Summary sheet", x=0.02, ha="left", fontsize=15, fontweight="bold")
    fig.text(0.02, 0.905, f"Run {head.get('Run', '?')}    Status: {head.get('Status', '?')}    Files: {head.get('Files', '?')}",
             fontsize=11, color="#9C5700" if head.get("Status") == "discrepancies" else "#006100")
    fig.text(0.02, 0.03, "Sheets: " + " | ".join(sheets), fontsize=9, color="#444444")
    ax_t = fig.add_axes((0.02, 0.08, 0.46, 0.8))
    ax_t.axis("off")
    cells = [[c, str(n), f"{a:,.2f}", f"{e:,.2f}"] for c, n, a, e in table]
    t = ax_t.table(cellText=cells, colLabels=["Category", "Rows", "Amount", "Expected"], loc="upper left",
                   colWidths=[0.5, 0.12, 0.2, 0.2], cellLoc="left")
    t.auto_set_font_size(False)
    t.set_fontsize(9)
    t.scale(1, 1.25)
    for (r, _), cell in t.get_celld().items():
        if r == 0 or cells[r - 1][0] == "Total":
            cell.set_text_props(fontweight="bold")
        if r == 0:
            cell.set_facecolor("#DDE5F0")
        elif int(cells[r - 1][1]) > 0 and cells[r - 1][0] != "Total":
            cell.set_facecolor("#FFF4CE")
    ax_c = fig.add_axes((0.66, 0.12, 0.32, 0.72))
    bars = [(c, a) for c, n, a, _ in table if c != "Total"]
    ax_c.barh([c for c, _ in bars], [a for _, a in bars], color="#4F81BD")
    ax_c.invert_yaxis()
    ax_c.set_title("Amounts by category")
    ax_c.tick_params(axis="y", labelsize=8)
    fig.savefig(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: render_summary.py WORKBOOK.xlsx OUT.png")
    render(Path(sys.argv[1]), Path(sys.argv[2]))
