"""Draw the Summary sheet of a real discrepancies.xlsx as LibreOffice prints it, as a PNG (for docs/month-end.md).

`python docs/render_summary.py WORKBOOK.xlsx OUT.png [--dpi 80]` prints the workbook to PDF with LibreOffice (each
sheet as its print setup says: landscape, one page wide, header and footer) and turns the Summary's first page into
a PNG. Needs LibreOffice Calc (`soffice`) and poppler (`pdftoppm`); on Debian or Ubuntu:
`apt-get install libreoffice-calc poppler-utils`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path


def render(workbook: Path, out: Path, dpi: int = 80) -> None:
    """Write the PNG of the Summary's first page (the Summary is the workbook's first sheet)."""
    for tool in ("soffice", "pdftoppm"):
        if not shutil.which(tool):
            raise SystemExit(f"render_summary: {tool} not found (apt-get install libreoffice-calc poppler-utils)")
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.xlsx"
        shutil.copyfile(workbook, book)
        # A profile of its own: a LibreOffice already running for the same user does not take the job over.
        subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--convert-to", "pdf",
                        "--outdir", tmp, str(book)], check=True, capture_output=True, timeout=300)
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(book.with_suffix(".pdf")),
                        str(Path(tmp) / "page")], check=True, capture_output=True, timeout=300)
        shutil.copyfile(Path(tmp) / "page.png", out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workbook", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--dpi", type=int, default=80)
    args = ap.parse_args()
    render(args.workbook, args.out, args.dpi)
