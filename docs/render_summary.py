"""Draw the Summary sheet of a real discrepancies.xlsx as a PNG (for docs/month-end.md): the header, the table of
categories (rows, amount and expected amount per currency) and the bar chart of amounts by category, from the workbook's own cells.

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


def _summary(path: Path) -> tuple[dict[str, str], list[str], list[list[object]], list[str]]:
    """The header fields, the category table's column names and rows (Total last), and the sheet names."""
    ws = openpyxl.load_workbook(path)["Summary"]
    head: dict[str, str] = {}
    columns: list[str] = []
    table: list[list[object]] = []
    for row in ws.iter_rows(values_only=True):
        label = row[0]
        if label in ("Run", "Status", "Files"):
            head[label] = str(row[1])
        elif label == "Category":
            columns = [str(c) for c in row if c is not None]
        elif columns and label:
            table.append([str(label), int(row[1] or 0), *(float(v or 0) for v in row[2:len(columns)])])
            if label == "Total":
                break
    sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
    return head, columns, table, sheets


def render(workbook: Path, out: Path) -> None:
    """Write the PNG."""
    head, columns, table, sheets = _summary(workbook)
    fig = plt.figure(figsize=(14, 7.2), dpi=110)
    fig.suptitle("discrepancies.xlsx - Summary sheet", x=0.02, ha="left", fontsize=15, fontweight="bold")
    fig.text(0.02, 0.905, f"Run {head.get('Run', '?')}    Status: {head.get('Status', '?')}    Files: {head.get('Files', '?')}",
             fontsize=11, color="#9C5700" if head.get("Status") == "discrepancies" else "#006100")
    fig.text(0.02, 0.03, "Sheets: " + " | ".join(sheets), fontsize=9, color="#444444")
    ax_t = fig.add_axes((0.02, 0.08, 0.56, 0.8))
    ax_t.axis("off")
    cells = [[str(r[0]), str(r[1]), *(f"{v:,.2f}" for v in r[2:])] for r in table]
    money = len(columns) - 2
    t = ax_t.table(cellText=cells, colLabels=columns, loc="upper left",
                   colWidths=[0.34, 0.08, *([0.58 / max(money, 1)] * money)], cellLoc="left")
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1, 1.25)
    for (r, _), cell in t.get_celld().items():
        if r == 0 or cells[r - 1][0] == "Total":
            cell.set_text_props(fontweight="bold")
        if r == 0:
            cell.set_facecolor("#DDE5F0")
        elif int(cells[r - 1][1]) > 0 and cells[r - 1][0] != "Total":
            cell.set_facecolor("#FFF4CE")
    ax_c = fig.add_axes((0.72, 0.12, 0.26, 0.72))
    rows = [r for r in table if r[0] != "Total"]
    amounts = [i for i, c in enumerate(columns) if c.startswith("Amount")]
    height = 0.8 / max(len(amounts), 1)
    palette = ("#4F81BD", "#C0504D", "#9BBB59", "#8064A2")
    for j, i in enumerate(amounts):  # one bar per currency, as in the workbook's chart
        ax_c.barh([k + j * height for k in range(len(rows))], [float(r[i]) for r in rows], height=height,
                  color=palette[j % len(palette)], label=columns[i])
    ax_c.set_yticks([k + (len(amounts) - 1) * height / 2 for k in range(len(rows))], [str(r[0]) for r in rows])
    ax_c.invert_yaxis()
    ax_c.legend(loc="lower right", fontsize=8)
    ax_c.set_title("Amounts by category")
    ax_c.tick_params(axis="y", labelsize=8)
    fig.savefig(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: render_summary.py WORKBOOK.xlsx OUT.png")
    render(Path(sys.argv[1]), Path(sys.argv[2]))
